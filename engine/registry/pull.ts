/**
 * `stack pull`: a reference resolved to one image manifest (through an index for the
 * wanted platform), its config and layers brought into the image store, layers in parallel
 * and only those the store does not hold, and the image named. An image whose manifest
 * is already stored under that name is up to date after one request.
 */
import PQueue from 'p-queue';
import { StackError } from '../errors.js';
import { sha256 } from '../image/store/digest.js';
import type { ImageStore, LayerRecord, StoredImage } from '../image/store/image-store.js';
import { INDEX_TYPES, MANIFEST_TYPES, MEDIA, type Descriptor, type ImageIndex, type Manifest, type Platform } from '../image/store/oci-types.js';
import { DEFAULT_TAG, familiarName, parseReference } from '../image/store/reference.js';
import type { EnginePaths } from '../runtime/paths.js';
import { downloadLayer } from './layer-download.js';
import { formatPlatform, hostPlatform, parsePlatform, selectManifest } from './platform.js';
import { registryState } from './registry-state.js';
import { splitRepository, type Registries } from './registries.js';
import type { RegistryClient } from './registry-client.js';

export type PullEvent =
  | { kind: 'resolved'; ref: string; digest: string; layers: { digest: string; size: number }[] }
  | { kind: 'layer'; ref: string; digest: string; phase: 'exists' | 'waiting' | 'downloading' | 'retrying' | 'done'; bytes: number; size: number }
  | { kind: 'pulled'; ref: string; digest: string; status: 'downloaded' | 'up-to-date' };

export interface PullOptions {
  /** os/arch[/variant]; the host's when not given */
  platform?: string;
  onEvent?: (e: PullEvent) => void;
  /** layers fetched at once (default 5; docker's is 3) */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface PullResult {
  image: StoredImage;
  status: 'downloaded' | 'up-to-date';
  /** the digest the reference resolved to (an index's, for a multi-platform image) */
  digest: string;
}

const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1(\+prettyjws|\+json)?$/;
const ACCEPT = [MEDIA.ociIndex, MEDIA.dockerManifestList, MEDIA.ociManifest, MEDIA.dockerManifest];

export async function pullImage(store: ImageStore, registries: Registries, paths: EnginePaths, refText: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refText);
  const [registry, repo] = splitRepository(ref.repository);
  const reference = ref.digest ?? ref.tag ?? DEFAULT_TAG;
  const name = ref.digest === undefined || ref.tag !== undefined ? `${ref.repository}:${ref.tag ?? DEFAULT_TAG}` : undefined;
  const shown = familiarName(refText.includes('@') || refText.includes(':') ? refText : `${refText}:${DEFAULT_TAG}`);
  const want = opts.platform !== undefined ? parsePlatform(opts.platform) : hostPlatform();
  const client = registries.client(registry);
  const emit = opts.onEvent ?? (() => undefined);

  let top;
  try {
    top = await client.getManifest(repo, reference, ACCEPT);
  } catch (e) {
    if (e instanceof StackError && e.kind === 'not-found') {
      throw new StackError(`image ${shown} not found: registry ${registry} has no ${reference.startsWith('sha256:') ? 'manifest' : 'tag'} ${reference} in ${repo}`, {
        kind: 'not-found',
        hint: 'check the name and tag (and stack login if the repository is private)',
        cause: e,
      });
    }
    throw e;
  }
  const repoDigest = `${ref.repository}@${top.digest}`;
  let manifest = top;
  const topDoc = parseDocument(top.bytes, top.mediaType, shown);
  if (INDEX_TYPES.includes(topDoc.mediaType)) {
    const index = topDoc.doc as ImageIndex;
    const chosen = selectManifest(index.manifests ?? [], want);
    if (!chosen) {
      const offered = (index.manifests ?? []).flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : [])).filter((p) => !p.startsWith('unknown'));
      throw new StackError(`image ${shown} has no variant for ${formatPlatform(want)}`, {
        kind: 'not-found',
        hint: `it is published for ${[...new Set(offered)].join(', ') || 'no platform'}; choose one with platform: (or --platform)`,
      });
    }
    manifest = await client.getManifest(repo, chosen.digest, ACCEPT);
  }
  const doc = parseDocument(manifest.bytes, manifest.mediaType, shown);
  if (!MANIFEST_TYPES.includes(doc.mediaType)) throw new StackError(`image ${shown}: ${doc.mediaType} is not an image manifest`, { kind: 'unsupported' });
  const image = doc.doc as Manifest;
  emit({ kind: 'resolved', ref: shown, digest: top.digest, layers: image.layers.map((l) => ({ digest: l.digest, size: l.size })) });

  const current = name !== undefined ? store.find(name) : store.find(repoDigest);
  const { sources, pullTimes } = registryState(paths);
  if (current && current.manifestDigest === manifest.digest) {
    if (name !== undefined) pullTimes.record(name);
    emit({ kind: 'pulled', ref: shown, digest: top.digest, status: 'up-to-date' });
    return { image: current, status: 'up-to-date', digest: top.digest };
  }

  const configBytes = await fetchConfig(store, client, repo, image.config, shown);
  const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] }; os?: string; architecture?: string };
  checkPlatform(config, want, shown, opts.platform !== undefined || INDEX_TYPES.includes(topDoc.mediaType));
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.layers.length) {
    throw new StackError(`image ${shown} is inconsistent: its config lists ${diffIds.length} layers, its manifest ${image.layers.length}`, { kind: 'invalid' });
  }

  const layers = await fetchLayers(store, client, repo, image.layers, diffIds, shown, emit, opts);
  const stored = await store.commitManifest(configBytes, layers, name !== undefined ? [name] : [], manifest.bytes, repoDigest);
  sources.record([image.config, ...image.layers].map((d) => [d.digest, ref.repository] as [string, string]));
  if (name !== undefined) pullTimes.record(name);
  emit({ kind: 'pulled', ref: shown, digest: top.digest, status: 'downloaded' });
  return { image: stored, status: 'downloaded', digest: top.digest };
}

/** The config's bytes, verified; kept in memory until the image is committed, so a failed pull stores nothing. */
async function fetchConfig(store: ImageStore, client: RegistryClient, repo: string, desc: Descriptor, shown: string): Promise<Buffer> {
  if (store.hasBlob(desc.digest)) return store.readBlob(desc.digest);
  const { body } = await client.getBlob(repo, desc.digest);
  const bytes = Buffer.concat((await body.toArray()) as Buffer[]);
  if (bytes.length !== desc.size) {
    throw new StackError(`image ${shown}: config blob ${desc.digest} is ${bytes.length} bytes, not the ${desc.size} its manifest says`, { kind: 'invalid', hint: 'nothing was stored' });
  }
  const digest = sha256(bytes);
  if (digest !== desc.digest) {
    throw new StackError(`image ${shown}: config blob ${desc.digest} failed verification: its content hashes to ${digest}`, {
      kind: 'invalid',
      hint: 'the registry holds damaged content, or something between it and this machine changed it; nothing was stored',
    });
  }
  return bytes;
}

async function fetchLayers(
  store: ImageStore,
  client: RegistryClient,
  repo: string,
  descs: readonly Descriptor[],
  diffIds: readonly string[],
  shown: string,
  emit: (e: PullEvent) => void,
  opts: PullOptions,
): Promise<LayerRecord[]> {
  const abort = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, abort.signal]) : abort.signal;
  const queue = new PQueue({ concurrency: opts.concurrency ?? 5 });
  const layerEvent = (d: Descriptor, phase: Extract<PullEvent, { kind: 'layer' }>['phase'], bytes: number) =>
    emit({ kind: 'layer', ref: shown, digest: d.digest, phase, bytes, size: d.size });
  const jobs = descs.map((d, i) => {
    if (d.urls?.length || d.mediaType === MEDIA.dockerForeignLayerGzip) {
      throw new StackError(`image ${shown} has a foreign layer (${d.digest}), which only Windows images use`, { kind: 'unsupported' });
    }
    const known = store.layerFromBlob(d.digest);
    if (known) {
      layerEvent(d, 'exists', d.size);
      return Promise.resolve(known);
    }
    layerEvent(d, 'waiting', 0);
    return queue.add(async () => {
      const rec = await downloadLayer(store, client, repo, d, diffIds[i], (phase, bytes) => layerEvent(d, phase, bytes), signal);
      layerEvent(d, 'done', d.size);
      return rec;
    });
  });
  try {
    return await Promise.all(jobs);
  } catch (e) {
    // the first failure ends the pull: the other downloads stop where they are (and resume next time)
    abort.abort();
    queue.clear();
    await Promise.allSettled(jobs);
    throw e;
  }
}

function parseDocument(bytes: Buffer, headerType: string, shown: string): { mediaType: string; doc: Manifest | ImageIndex } {
  let doc: { schemaVersion?: number; mediaType?: string; manifests?: unknown; config?: unknown; layers?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw new StackError(`image ${shown}: the registry sent a manifest that is not JSON`, { kind: 'invalid' });
  }
  if (doc.schemaVersion === 1 || SCHEMA1.test(headerType)) {
    throw new StackError(`image ${shown} uses the Docker image manifest schema 1, which is deprecated and not supported`, {
      kind: 'unsupported',
      hint: 'push the image again with a current docker or skopeo (they write schema 2 or OCI manifests)',
    });
  }
  const mediaType = doc.mediaType ?? (Array.isArray(doc.manifests) ? MEDIA.ociIndex : headerType || MEDIA.ociManifest);
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new StackError(`image ${shown}: the index has no manifests list`, { kind: 'invalid' });
  } else if (typeof doc.config !== 'object' || !Array.isArray(doc.layers)) {
    throw new StackError(`image ${shown}: the manifest (${mediaType}) has no config or layers`, { kind: 'invalid' });
  }
  return { mediaType, doc: doc as Manifest | ImageIndex };
}

function checkPlatform(config: { os?: string; architecture?: string }, want: Platform, shown: string, asked: boolean): void {
  if (!asked || config.os === undefined || config.architecture === undefined) return;
  const got = parsePlatform(`${config.os}/${config.architecture}`);
  if (got.os !== want.os || got.architecture !== want.architecture) {
    throw new StackError(`image ${shown} is for ${got.os}/${got.architecture}, not the ${formatPlatform(want)} asked for`, { kind: 'not-found' });
  }
}
