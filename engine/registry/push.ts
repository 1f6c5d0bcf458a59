/**
 * `stack push`: an image of the store sent to a registry as stored (so its manifest digest
 * is the same everywhere). Each blob is checked first (HEAD) and skipped when the
 * repository has it, mounted from another repository of the same registry when we know one
 * that holds it, and uploaded otherwise: in one request when small, in chunks when large.
 * Blobs go in parallel; the manifest last, once everything it names is there.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import PQueue from 'p-queue';
import { StackError } from '../errors.js';
import type { ImageStore } from '../image/store/image-store.js';
import { MEDIA, type Descriptor, type Manifest } from '../image/store/oci-types.js';
import { DEFAULT_TAG, familiarName, parseReference } from '../image/store/reference.js';
import type { EnginePaths } from '../runtime/paths.js';
import { registryState } from './registry-state.js';
import { splitRepository, type Registries } from './registries.js';
import type { RegistryClient } from './registry-client.js';

export type PushEvent =
  | { kind: 'blob'; ref: string; digest: string; phase: 'waiting' | 'exists' | 'mounted' | 'uploading' | 'done'; bytes: number; size: number; from?: string }
  | { kind: 'pushed'; ref: string; tag: string; digest: string; size: number };

export interface PushOptions {
  onEvent?: (e: PushEvent) => void;
  /** blobs sent at once (docker's default is 5) */
  concurrency?: number;
  /** blobs up to this size go in one PUT; larger ones in PATCH chunks of this size */
  chunkSize?: number;
}

export interface PushResult {
  digest: string;
  size: number;
  tag: string;
}

const DEFAULT_CHUNK = 32 << 20;

export async function pushImage(store: ImageStore, registries: Registries, paths: EnginePaths, refText: string, opts: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(refText);
  if (ref.digest !== undefined) {
    throw new StackError(`cannot push ${JSON.stringify(refText)}: a digest names content, not a destination`, { hint: 'push by name:tag' });
  }
  const tag = ref.tag ?? DEFAULT_TAG;
  const name = `${ref.repository}:${tag}`;
  const shown = familiarName(name);
  const image = store.find(name);
  if (!image) {
    throw new StackError(`image ${shown} is not in the local store`, {
      kind: 'not-found',
      hint: `name the image you want to push: stack image tag SOURCE ${shown}`,
    });
  }
  const [registry, repo] = splitRepository(ref.repository);
  const client = registries.client(registry);
  const manifestBytes = store.readBlob(image.manifestDigest);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  const mediaType = manifest.mediaType ?? MEDIA.ociManifest;
  const { sources } = registryState(paths);
  const emit = opts.onEvent ?? (() => undefined);
  const blobs = [...manifest.layers, manifest.config];

  const queue = new PQueue({ concurrency: opts.concurrency ?? 5 });
  for (const d of blobs) emit({ kind: 'blob', ref: shown, digest: d.digest, phase: 'waiting', bytes: 0, size: d.size });
  const jobs = blobs.map((d) => queue.add(() => pushBlob(store, client, repo, d, sources.of(d.digest), (e) => emit({ ...e, kind: 'blob', ref: shown, digest: d.digest, size: d.size }), opts)));
  try {
    await Promise.all(jobs);
  } catch (e) {
    queue.clear();
    await Promise.allSettled(jobs);
    throw e;
  }
  const digest = await client.putManifest(repo, tag, manifestBytes, mediaType);
  sources.record(blobs.map((d) => [d.digest, ref.repository] as [string, string]));
  emit({ kind: 'pushed', ref: shown, tag, digest, size: manifestBytes.length });
  return { digest, size: manifestBytes.length, tag };
}

type BlobEvent = { phase: 'exists' | 'mounted' | 'uploading' | 'done'; bytes: number; from?: string };

async function pushBlob(
  store: ImageStore,
  client: RegistryClient,
  repo: string,
  d: Descriptor,
  knownIn: readonly string[],
  emit: (e: BlobEvent) => void,
  opts: PushOptions,
): Promise<void> {
  if ((await client.headBlob(repo, d.digest, ['pull', 'push'])) !== undefined) {
    emit({ phase: 'exists', bytes: d.size });
    return;
  }
  let location: string | undefined;
  const here = client.registry;
  const from = knownIn.map(splitRepository).find(([reg, path]) => reg === here && path !== repo)?.[1];
  if (from !== undefined) {
    const mount = await client.mountBlob(repo, d.digest, from);
    if (mount.mounted) {
      emit({ phase: 'mounted', bytes: d.size, from });
      return;
    }
    location = mount.location;
  }
  location ??= await client.startUpload(repo);
  const file = store.blobPath(d.digest);
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
  emit({ phase: 'uploading', bytes: 0 });
  if (d.size <= chunk) {
    await client.finishUpload(repo, location, d.digest, { data: createReadStream(file), size: d.size });
  } else {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(chunk);
      for (let start = 0; start < d.size; ) {
        const n = readSync(fd, buf, 0, Math.min(chunk, d.size - start), start);
        if (n === 0) throw new StackError(`blob ${d.digest} in the image store is shorter than its ${d.size} bytes`, { kind: 'system' });
        location = await client.uploadChunk(repo, location, buf.subarray(0, n), start);
        start += n;
        emit({ phase: 'uploading', bytes: start });
      }
    } finally {
      closeSync(fd);
    }
    await client.finishUpload(repo, location, d.digest);
  }
  emit({ phase: 'done', bytes: d.size });
}
