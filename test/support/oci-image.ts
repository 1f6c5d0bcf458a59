/**
 * Tiny OCI image layouts written by hand (tar-stream + zlib, no engine code), as sources for
 * pushes to test registries: `skopeo copy oci:DIR:TAG docker://...`. The same options give the
 * same bytes, so digests are stable across runs.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface Platform {
  architecture: string;
  os: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface OciImage {
  /** the ref name that reaches it in index.json, `oci:DIR:TAG` (in a multi-arch layout: the index's) */
  tag: string;
  manifest: Descriptor;
  config: Descriptor;
  /** compressed layers, in order */
  layers: Descriptor[];
  /** sha256 of each uncompressed layer tar */
  diffIds: string[];
  platform: Platform;
}

export interface OciMultiArch {
  tag: string;
  index: Descriptor;
  /** linux/amd64 then linux/arm64 */
  images: OciImage[];
}

export interface LayoutOptions {
  layers: number;
  /** size of the one file each layer holds (default 1024) */
  bytesPerLayer?: number;
  /** default amd64 */
  arch?: string;
  /** default latest */
  tag?: string;
}

/** An image with `layers` layers, each holding data/layer-N: a layout skopeo reads as `oci:DIR:TAG` (one image per dir). */
export async function makeOciLayout(dir: string, opts: LayoutOptions): Promise<OciImage> {
  const tag = opts.tag ?? 'latest';
  const image = await writeImage(dir, { ...opts, tag });
  writeIndex(dir, { ...image.manifest, annotations: { 'org.opencontainers.image.ref.name': tag } });
  return image;
}

/** An image index for linux/amd64 and linux/arm64, one small image each (copy it with `skopeo copy --all`). */
export async function makeMultiArchLayout(dir: string, opts: { tag?: string; layers?: number; bytesPerLayer?: number } = {}): Promise<OciMultiArch> {
  const tag = opts.tag ?? 'latest';
  const images: OciImage[] = [];
  for (const arch of ['amd64', 'arm64']) {
    images.push(await writeImage(dir, { layers: opts.layers ?? 1, bytesPerLayer: opts.bytesPerLayer, arch, tag }));
  }
  const index = writeBlob(dir, MEDIA.index, {
    schemaVersion: 2,
    mediaType: MEDIA.index,
    manifests: images.map((i) => ({ ...i.manifest, platform: i.platform })),
  });
  writeIndex(dir, { ...index, annotations: { 'org.opencontainers.image.ref.name': tag } });
  return { tag, index, images };
}

/**
 * An image of one layer holding a whole root filesystem (`tar`, uncompressed, e.g. a busybox
 * root), with `cmd` as its command: one that engines can run.
 */
export function makeRootfsLayout(dir: string, tar: Buffer, opts: { tag?: string; cmd?: string[] } = {}): OciImage {
  const tag = opts.tag ?? 'latest';
  const platform = { architecture: 'amd64', os: 'linux' };
  const diffIds = [sha256(tar)];
  const layers = [writeBlob(dir, MEDIA.layer, gzipSync(tar))];
  const config = writeBlob(dir, MEDIA.config, {
    created: '1970-01-01T00:00:00Z',
    ...platform,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: opts.cmd ?? ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  });
  const manifest = writeBlob(dir, MEDIA.manifest, { schemaVersion: 2, mediaType: MEDIA.manifest, config, layers });
  writeIndex(dir, { ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } });
  return { tag, manifest, config, layers, diffIds, platform };
}

async function writeImage(dir: string, opts: LayoutOptions & { tag: string }): Promise<OciImage> {
  const platform = { architecture: opts.arch ?? 'amd64', os: 'linux' };
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < opts.layers; i++) {
    const tar = await layerTar(`data/layer-${i}`, content(`${platform.architecture}/${i}`, opts.bytesPerLayer ?? 1024));
    diffIds.push(sha256(tar));
    layers.push(writeBlob(dir, MEDIA.layer, gzipSync(tar)));
  }
  const config = writeBlob(dir, MEDIA.config, {
    created: '1970-01-01T00:00:00Z',
    ...platform,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  });
  const manifest = writeBlob(dir, MEDIA.manifest, { schemaVersion: 2, mediaType: MEDIA.manifest, config, layers });
  return { tag: opts.tag, manifest, config, layers, diffIds, platform };
}

/** Bytes that do not compress away (so bytesPerLayer is roughly the blob's size), the same for the same seed. */
function content(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, n = 0; off < size; off += 32, n++) createHash('sha256').update(`${seed}/${n}`).digest().copy(out, off);
  return out;
}

function layerTar(name: string, data: Buffer): Promise<Buffer> {
  const p = pack();
  const header = { mtime: new Date(0), uid: 0, gid: 0 };
  p.entry({ ...header, name: `${path.dirname(name)}/`, type: 'directory', mode: 0o755 });
  p.entry({ ...header, name, size: data.length, mode: 0o644 }, data);
  p.finalize();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    p.on('data', (c) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
}

function writeBlob(dir: string, mediaType: string, body: Buffer | object): Descriptor {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const digest = sha256(bytes);
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(path.join(blobs, digest.slice('sha256:'.length)), bytes);
  return { mediaType, digest, size: bytes.length };
}

function writeIndex(dir: string, entry: Descriptor): void {
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [entry] }));
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
