/**
 * Image archives: writing `oci-archive` (a tar of an OCI layout) and `docker-archive` (what
 * docker 20.10's `docker save` writes: manifest.json, `<config hex>.json`, one
 * `<v1 id>/{VERSION,json,layer.tar}` per layer with the tar uncompressed, `repositories`),
 * and reading either, including docker 25+'s archives that are both at once. Every blob
 * is checked against its digest on the way in and on the way out.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { StackError } from '../../errors.js';
import type { BlobStore } from './blob-store.js';
import { checkDigest, sha256, VerifyingStream } from './digest.js';
import { goJson, legacyLayers } from './docker-legacy.js';
import type { StoredImage } from './image-store.js';
import { descriptorsOf, nameOf, OCI_LAYOUT } from './oci-layout.js';
import { hostArch, INDEX_TYPES, MANIFEST_TYPES, MEDIA, type Descriptor, type ImageIndex, type Manifest } from './oci-types.js';
import { familiarName, normalizeName, parseReference } from './reference.js';

export interface SavedImage {
  image: StoredImage;
  /** full names to record for it in the archive (may be none) */
  names: string[];
}

export interface ArchiveSource {
  blobs: BlobStore;
  /** scratch space on the store's filesystem, removed by the caller */
  tmpDir: string;
}

// ---- writing

type TarItem =
  | { name: string; kind: 'dir' }
  | { name: string; kind: 'data'; data: Buffer }
  | { name: string; kind: 'stream'; size: number; open: () => Readable }
  | { name: string; kind: 'symlink'; target: string };

export async function writeOciArchive(out: string, images: readonly SavedImage[], src: ArchiveSource): Promise<void> {
  const items: TarItem[] = [
    { name: 'oci-layout', kind: 'data', data: Buffer.from(OCI_LAYOUT) },
    { name: 'blobs/', kind: 'dir' },
    { name: 'blobs/sha256/', kind: 'dir' },
  ];
  const added = new Set<string>();
  const addBlob = (digest: string, item: () => TarItem) => {
    if (added.has(digest)) return;
    added.add(digest);
    items.push(item());
  };
  for (const { image } of images) {
    const blobName = (d: string) => `blobs/sha256/${checkDigest(d, 'blob').slice('sha256:'.length)}`;
    addBlob(image.manifestDigest, () => ({ name: blobName(image.manifestDigest), kind: 'data', data: src.blobs.read(image.manifestDigest) }));
    addBlob(image.id, () => ({ name: blobName(image.id), kind: 'data', data: src.blobs.read(image.id) }));
    for (const l of image.layers) {
      addBlob(l.digest, () => ({ name: blobName(l.digest), kind: 'stream', size: src.blobs.size(l.digest), open: () => src.blobs.openVerified(l.digest) }));
    }
  }
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: descriptorsOf(
      images.map(({ image, names }) => ({ digest: image.manifestDigest, size: src.blobs.size(image.manifestDigest), mediaType: MEDIA.ociManifest, names })),
    ),
  };
  items.push({ name: 'index.json', kind: 'data', data: Buffer.from(JSON.stringify(index)) });
  await writeTar(out, items);
}

interface DockerManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

export async function writeDockerArchive(out: string, images: readonly SavedImage[], src: ArchiveSource): Promise<void> {
  const items: TarItem[] = [];
  const manifest: DockerManifestItem[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const savedV1 = new Set<string>();
  /** where each uncompressed layer went first: docker links later copies to it */
  const layerPaths = new Map<string, string>();
  for (const { image, names } of images) {
    const configBytes = src.blobs.read(image.id);
    const configName = `${image.id.slice('sha256:'.length)}.json`;
    if (!items.some((i) => i.name === configName)) items.push({ name: configName, kind: 'data', data: configBytes });
    const legacy = legacyLayers(configBytes, image.layers.map((l) => l.diffId));
    for (const [i, l] of image.layers.entries()) {
      const v1 = legacy[i]!;
      if (savedV1.has(v1.id)) continue;
      savedV1.add(v1.id);
      const tarName = `${v1.id}/layer.tar`;
      items.push({ name: `${v1.id}/`, kind: 'dir' }, { name: `${v1.id}/VERSION`, kind: 'data', data: Buffer.from('1.0') }, { name: `${v1.id}/json`, kind: 'data', data: Buffer.from(v1.json) });
      const first = layerPaths.get(l.diffId);
      if (first !== undefined) {
        items.push({ name: tarName, kind: 'symlink', target: `../${first}` });
        continue;
      }
      layerPaths.set(l.diffId, tarName);
      items.push({ name: tarName, kind: 'stream', ...(await uncompressedLayer(src, l)) });
    }
    const repoTags = names.map((n) => familiarName(n));
    for (const n of names) {
      const r = parseReference(n);
      const repo = familiarName(r.repository);
      (repositories[repo] ??= {})[r.tag ?? 'latest'] = legacy[legacy.length - 1]?.id ?? '';
    }
    manifest.push({ Config: configName, RepoTags: repoTags.length > 0 ? repoTags : null, Layers: image.layers.map((_, i) => `${legacy[i]!.id}/layer.tar`) });
  }
  // Go's json.Encoder, as docker uses, ends each document with a newline
  items.push({ name: 'manifest.json', kind: 'data', data: Buffer.from(`${goJson(manifest)}\n`) });
  if (Object.keys(repositories).length > 0) items.push({ name: 'repositories', kind: 'data', data: Buffer.from(`${goJson(repositories)}\n`) });
  // docker tars its staging dir, which walks in lexical order
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await writeTar(out, items);
}

/**
 * The layer as an uncompressed tar: the blob itself when it is one (its digest is then its
 * diffID), else unpacked into scratch space and checked against its diffID.
 */
async function uncompressedLayer(src: ArchiveSource, l: StoredImage['layers'][number]): Promise<{ size: number; open: () => Readable }> {
  if (!l.mediaType.endsWith('gzip')) return { size: src.blobs.size(l.digest), open: () => src.blobs.openVerified(l.digest) };
  const file = path.join(src.tmpDir, `${l.diffId.slice('sha256:'.length)}.tar`);
  const checkDiff = new VerifyingStream(
    l.diffId,
    (actual) => new StackError(`layer ${l.digest} in the image store is corrupt: it unpacks to ${actual}, not its diff_id ${l.diffId}`, { kind: 'system' }),
  );
  await pipeline(src.blobs.openVerified(l.digest), createGunzip(), checkDiff, createWriteStream(file));
  return { size: statSync(file).size, open: () => createReadStream(file) };
}

/** Writes the tar beside `out` and renames it into place, so `out` is never half written. */
async function writeTar(out: string, items: readonly TarItem[]): Promise<void> {
  const tmp = `${out}.${process.pid}.tmp`;
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(tmp, { flush: true }));
  const header = { uid: 0, gid: 0, mtime: new Date(0) };
  try {
    for (const item of items) {
      if (item.kind === 'dir') pack.entry({ ...header, name: item.name, type: 'directory', mode: 0o755 });
      else if (item.kind === 'symlink') pack.entry({ ...header, name: item.name, type: 'symlink', linkname: item.target, mode: 0o777 });
      else if (item.kind === 'data') pack.entry({ ...header, name: item.name, type: 'file', mode: 0o644 }, item.data);
      else await pipeline(item.open(), pack.entry({ ...header, name: item.name, type: 'file', mode: 0o644, size: item.size }));
    }
    pack.finalize();
    await written;
    renameSync(tmp, out);
  } catch (e) {
    pack.destroy();
    await written.catch(() => undefined);
    rmSync(tmp, { force: true });
    throw e;
  }
}

// ---- reading

/** An unpacked archive: its regular files on disk, its links resolved inside it. */
export interface ArchiveTree {
  /** the host path of the regular file at `name` in the archive, links followed */
  file(name: string): string | undefined;
}

export async function unpackArchive(input: string, dir: string): Promise<ArchiveTree> {
  if (!existsSync(input) || !statSync(input).isFile()) {
    throw new StackError(`image archive ${input} not found`, { kind: 'not-found', hint: 'give the path of a tar written by `stack save`, `docker save` or skopeo' });
  }
  mkdirSync(dir, { recursive: true });
  const links = new Map<string, string>();
  const extract = tar.extract();
  const source = isGzip(input) ? createReadStream(input).pipe(createGunzip()) : createReadStream(input);
  const done = pipeline(source, extract);
  try {
    for await (const entry of extract) {
      const name = clean(entry.header.name);
      const type = entry.header.type;
      if (name !== '' && (type === 'file' || type === 'contiguous-file')) {
        const target = path.join(dir, name);
        mkdirSync(path.dirname(target), { recursive: true });
        await pipeline(entry, createWriteStream(target));
        continue;
      }
      if (name !== '' && type === 'symlink' && entry.header.linkname) {
        const t = entry.header.linkname;
        links.set(name, clean(t.startsWith('/') ? t : path.posix.join(path.posix.dirname(name), t)));
      } else if (name !== '' && type === 'link' && entry.header.linkname) {
        links.set(name, clean(entry.header.linkname));
      }
      entry.resume();
    }
    await done;
  } catch (e) {
    throw new StackError(`${input} is not a readable image archive: ${(e as Error).message}`, { cause: e });
  }
  return {
    file(name: string): string | undefined {
      let p = clean(name);
      for (let hops = 0; links.has(p) && hops < 16; hops++) p = links.get(p)!;
      const full = path.join(dir, p);
      return p !== '' && existsSync(full) && statSync(full).isFile() ? full : undefined;
    },
  };
}

/** An archive member's path, relative and confined: `..` cannot climb out of the archive. */
function clean(name: string): string {
  return path.posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
}

function isGzip(file: string): boolean {
  const head = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  return head[0] === 0x1f && head[1] === 0x8b;
}

export interface LoadLayer {
  /** how the archive names it, for messages */
  name: string;
  file: string;
  /** the digest the archive promises, when it gives one */
  digest?: string;
}

export interface LoadPlan {
  /** the config's bytes as they are: the image id is their digest */
  config: Buffer;
  /** an OCI manifest's bytes, kept as they are so its digest survives the trip */
  manifest?: Buffer;
  layers: LoadLayer[];
  /** full names */
  names: string[];
}

/** The images in an unpacked archive: docker's manifest.json when present, else the OCI index. */
export function readArchive(tree: ArchiveTree, label: string): LoadPlan[] {
  const dockerManifest = tree.file('manifest.json');
  if (dockerManifest) return dockerPlans(tree, dockerManifest, label);
  const index = tree.file('index.json');
  if (index) return ociPlans(tree, index, label);
  throw new StackError(`${label} is not an image archive: it has neither manifest.json (docker save) nor index.json (OCI layout)`, {
    hint: 'load takes what `stack save`, `docker save`, `podman save` or `skopeo copy ... docker-archive:/oci-archive:` write',
  });
}

function dockerPlans(tree: ArchiveTree, manifestFile: string, label: string): LoadPlan[] {
  const items = readJson(manifestFile, `${label}: manifest.json`) as Partial<DockerManifestItem>[];
  if (!Array.isArray(items)) throw new StackError(`${label}: manifest.json is not a list of images`);
  return items.map((item, i) => {
    if (typeof item.Config !== 'string' || !Array.isArray(item.Layers)) throw new StackError(`${label}: manifest.json entry ${i} has no Config or Layers`);
    const config = readFileSync(member(tree, item.Config, label));
    // docker 25+ names members by digest: hold them to it
    const configDigest = blobPathDigest(item.Config);
    if (configDigest !== undefined && sha256(config) !== configDigest) throw corruptMember(label, item.Config, sha256(config));
    const layers = item.Layers.map((name): LoadLayer => {
      const digest = blobPathDigest(name);
      return { name, file: member(tree, name, label), ...(digest !== undefined && { digest }) };
    });
    return { config, layers, names: (item.RepoTags ?? []).map((t) => normalizeName(t)) };
  });
}

function ociPlans(tree: ArchiveTree, indexFile: string, label: string): LoadPlan[] {
  const index = readJson(indexFile, `${label}: index.json`) as ImageIndex;
  if (!Array.isArray(index.manifests)) throw new StackError(`${label}: index.json lists no manifests`);
  const plans = new Map<string, LoadPlan>();
  const visit = (d: Descriptor, name: string | undefined) => {
    if (INDEX_TYPES.includes(d.mediaType)) {
      const child = JSON.parse(blob(tree, d, label).toString('utf8')) as ImageIndex;
      visit(choosePlatform(child.manifests ?? [], `${label}: index ${d.digest}`), name);
      return;
    }
    if (!MANIFEST_TYPES.includes(d.mediaType)) {
      throw new StackError(`${label}: ${d.digest} is a ${d.mediaType}, not an image manifest`, { kind: 'unsupported' });
    }
    let plan = plans.get(d.digest);
    if (!plan) {
      plan = ociPlan(tree, d, label);
      plans.set(d.digest, plan);
    }
    if (name !== undefined && !plan.names.includes(name)) plan.names.push(name);
  };
  for (const d of index.manifests) visit(d, nameOf(d.annotations));
  return [...plans.values()];
}

const LAYER_TYPES: readonly string[] = [MEDIA.ociLayer, MEDIA.ociLayerGzip, MEDIA.dockerLayerGzip];

function ociPlan(tree: ArchiveTree, d: Descriptor, label: string): LoadPlan {
  const bytes = blob(tree, d, label);
  const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new StackError(`${label}: manifest ${d.digest} has no config or layers`);
  if (manifest.config.mediaType !== MEDIA.ociConfig && manifest.config.mediaType !== MEDIA.dockerConfig) {
    throw new StackError(`${label}: manifest ${d.digest} is not a container image (its config is ${manifest.config.mediaType})`, { kind: 'unsupported' });
  }
  const config = blob(tree, manifest.config, label);
  const layers = manifest.layers.map((l): LoadLayer => {
    if (!LAYER_TYPES.includes(l.mediaType)) {
      throw new StackError(`${label}: layer ${l.digest} has media type ${l.mediaType}, which is not supported`, {
        kind: 'unsupported',
        hint: 'layers must be tar or gzip-compressed tar, included in the archive',
      });
    }
    const name = `blobs/sha256/${checkDigest(l.digest, `${label}: layer`).slice('sha256:'.length)}`;
    return { name, file: member(tree, name, label), digest: l.digest };
  });
  // our own manifests are OCI ones; a docker schema 2 manifest is rewritten as one on commit
  const keep = (manifest.mediaType ?? d.mediaType) === MEDIA.ociManifest && d.mediaType === MEDIA.ociManifest;
  return { config, layers, names: [], ...(keep && { manifest: bytes }) };
}

/** The entry of a multi-platform index this machine runs. */
function choosePlatform(manifests: readonly Descriptor[], label: string): Descriptor {
  const arch = hostArch();
  const match = manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch);
  if (match) return match;
  const images = manifests.filter((m) => m.platform === undefined || m.platform.os !== 'unknown');
  if (images.length === 1) return images[0]!;
  throw new StackError(`${label}: no image for linux/${arch} (it has ${manifests.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`).join(', ')})`, {
    kind: 'unsupported',
  });
}

function blob(tree: ArchiveTree, d: Descriptor, label: string): Buffer {
  const digest = checkDigest(d.digest, `${label}: descriptor`);
  const name = `blobs/sha256/${digest.slice('sha256:'.length)}`;
  const data = readFileSync(member(tree, name, label));
  const actual = sha256(data);
  if (actual !== digest) throw corruptMember(label, name, actual);
  return data;
}

function member(tree: ArchiveTree, name: string, label: string): string {
  const file = tree.file(name);
  if (!file) throw new StackError(`${label}: ${name} is missing from the archive`, { hint: 'the archive is incomplete or damaged' });
  return file;
}

function blobPathDigest(name: string): string | undefined {
  const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(clean(name));
  return m ? `sha256:${m[1]}` : undefined;
}

function corruptMember(label: string, name: string, actual: string): StackError {
  return new StackError(`${label}: ${name} does not match its digest (its content hashes to ${actual})`, { hint: 'the archive is damaged' });
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StackError(`${what} is not valid JSON`, { cause: e });
  }
}
