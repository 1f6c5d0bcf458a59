/**
 * The store's `oci/` directory as an OCI image layout, and its index.json read as what the
 * store needs: one entry per image (manifest) with the names it carries. Written back as
 * one descriptor per name, annotated the way containerd, skopeo and umoci look names up
 * (`io.containerd.image.name` = full name, `org.opencontainers.image.ref.name` = tag), and
 * one bare descriptor for an image without names.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../errors.js';
import { writeFileAtomic } from '../../runtime/atomic-file.js';
import { checkDigest } from './digest.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, MEDIA, type Descriptor, type ImageIndex } from './oci-types.js';
import { DEFAULT_TAG, parseReference } from './reference.js';

export interface IndexEntry {
  /** manifest digest */
  digest: string;
  size: number;
  mediaType: string;
  /** full normalized names, `docker.io/library/busybox:latest` */
  names: string[];
  /** `repository@digest` references it was pulled by (an index's digest for a multi-platform image) */
  repoDigests?: string[];
}

/** Our annotation listing an entry's repo digests, comma-separated. */
export const ANNOTATION_REPO_DIGESTS = 'dev.stack.repo-digests';

export const OCI_LAYOUT = `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`;

export class OciLayout {
  readonly indexFile: string;

  constructor(readonly dir: string) {
    this.indexFile = path.join(dir, 'index.json');
  }

  ensure(): void {
    mkdirSync(path.join(this.dir, 'blobs', 'sha256'), { recursive: true });
    const layout = path.join(this.dir, 'oci-layout');
    if (!existsSync(layout)) writeFileAtomic(layout, OCI_LAYOUT, { mode: 0o644 });
    if (!existsSync(this.indexFile)) this.write([]);
  }

  read(): IndexEntry[] {
    let text: string;
    try {
      text = readFileSync(this.indexFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    let index: ImageIndex;
    try {
      index = JSON.parse(text) as ImageIndex;
    } catch (e) {
      throw new StackError(`${this.indexFile} is not valid JSON`, { kind: 'system', cause: e, hint: 'the image store is damaged' });
    }
    return entriesOf(index.manifests ?? [], this.indexFile);
  }

  write(entries: readonly IndexEntry[]): void {
    const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: descriptorsOf(entries) };
    writeFileAtomic(this.indexFile, `${JSON.stringify(index, null, 2)}\n`, { mode: 0o644 });
  }
}

/** Groups descriptors by manifest, in order of first appearance, collecting their names. */
export function entriesOf(descriptors: readonly Descriptor[], source: string): IndexEntry[] {
  const byDigest = new Map<string, IndexEntry>();
  for (const d of descriptors) {
    const digest = checkDigest(d.digest, `${source}: manifest descriptor`);
    let entry = byDigest.get(digest);
    if (!entry) {
      entry = { digest, size: d.size, mediaType: d.mediaType, names: [] };
      byDigest.set(digest, entry);
    }
    const name = nameOf(d.annotations);
    if (name !== undefined && !entry.names.includes(name)) entry.names.push(name);
    for (const rd of d.annotations?.[ANNOTATION_REPO_DIGESTS]?.split(',') ?? []) {
      entry.repoDigests ??= [];
      if (rd !== '' && !entry.repoDigests.includes(rd)) entry.repoDigests.push(rd);
    }
  }
  return [...byDigest.values()];
}

export function descriptorsOf(entries: readonly IndexEntry[]): Descriptor[] {
  return entries.flatMap((e) => {
    const base = { mediaType: e.mediaType, digest: e.digest, size: e.size };
    const repoDigests = e.repoDigests?.length ? { [ANNOTATION_REPO_DIGESTS]: e.repoDigests.join(',') } : undefined;
    if (e.names.length === 0) return [repoDigests ? { ...base, annotations: repoDigests } : base];
    return e.names.map((name) => ({
      ...base,
      annotations: { [ANNOTATION_IMAGE_NAME]: name, [ANNOTATION_REF_NAME]: parseReference(name).tag ?? DEFAULT_TAG, ...repoDigests },
    }));
  });
}

/**
 * The image name a descriptor carries. `ref.name` alone is often just a tag (`latest`,
 * as skopeo writes it), which names no repository: only a value that is a reference
 * itself (with `/` or `:`) counts as a name.
 */
export function nameOf(annotations: Record<string, string> | undefined): string | undefined {
  const ref = annotations?.[ANNOTATION_IMAGE_NAME] ?? annotations?.[ANNOTATION_REF_NAME];
  if (ref === undefined || !/[/:@]/.test(ref)) return undefined;
  const r = parseReference(ref);
  // containerd also records `name@digest` names; the digest is the manifest's own, no label
  if (r.tag === undefined && r.digest !== undefined) return undefined;
  return `${r.repository}:${r.tag ?? DEFAULT_TAG}`;
}
