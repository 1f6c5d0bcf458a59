/**
 * Layer directory in overlay format (an extracted layer, or a build step's upper dir) -> OCI
 * layer tar. The same tree always packs to the same bytes: entries in byte order, no access
 * or change times, no user or group names, whole-second mtimes, and a gzip header without
 * a timestamp, so a rebuilt layer keeps its digest.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, closeSync, constants, createWriteStream, lstatSync, openSync, readdirSync, readlinkSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { StackError } from '../../errors.js';
import { lgetxattr, llistxattr, major, minor } from '../../sys/file-calls.js';
import { encodeEntry, END_OF_ARCHIVE, paddingFor, type TarEntry } from './tar-header.js';
import { isLayerXattr, isOverlayOpaque, isOverlayWhiteout, isUnpackableOverlayXattr, OPAQUE_MARKER, WHITEOUT_PREFIX } from './whiteouts.js';

export const LAYER_MEDIA_TYPE_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const LAYER_MEDIA_TYPE_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** zlib's default level, what docker and buildkit compress layers with. */
const GZIP_LEVEL = 6;
const READ_CHUNK = 64 * 1024;

export interface LayerDigests {
  /** sha256:<hex> of the uncompressed tar (the image config's rootfs.diff_ids entry) */
  diffId: string;
  /** sha256:<hex> of the blob exactly as written to outFile */
  digest: string;
  /** bytes of the blob as written */
  size: number;
  /** 'application/vnd.oci.image.layer.v1.tar+gzip' or 'application/vnd.oci.image.layer.v1.tar' */
  mediaType: string;
}

/** Packs a layer directory (overlay format) into an OCI layer tar at outFile. */
export async function packLayer(dir: string, outFile: string, opts: { compression?: 'gzip' | 'none' } = {}): Promise<LayerDigests> {
  const gzip = (opts.compression ?? 'gzip') === 'gzip';
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const tar = Readable.from(
    (function* () {
      for (const chunk of tarChunks(path.resolve(dir))) {
        diffHash.update(chunk);
        yield chunk;
      }
    })(),
  );
  const blob = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      blobHash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  };
  try {
    // node's gzip header carries no name and mtime 0: the blob depends on the tar alone
    if (gzip) await pipeline(tar, createGzip({ level: GZIP_LEVEL }), blob, createWriteStream(outFile));
    else await pipeline(tar, blob, createWriteStream(outFile));
  } catch (e) {
    rmSync(outFile, { force: true });
    throw e;
  }
  return {
    diffId: `sha256:${diffHash.digest('hex')}`,
    digest: `sha256:${blobHash.digest('hex')}`,
    size,
    mediaType: gzip ? LAYER_MEDIA_TYPE_GZIP : LAYER_MEDIA_TYPE_TAR,
  };
}

interface Found {
  /** relative to the layer root, `/`-separated */
  rel: string;
  abs: string;
  st: BigIntStats;
}

function* tarChunks(root: string): Generator<Buffer> {
  // a removed-and-recreated root would be opaque; overlayfs never does that, but say it if so
  const rootStats = lstatSync(root, { bigint: true });
  if (isOverlayOpaque(root)) yield encodeEntry(opaqueMarker('', rootStats));
  /** first name of every multiply-linked inode, by dev:ino */
  const firstNames = new Map<string, string>();
  for (const { rel, abs, st } of walk(root, '')) {
    if (st.isSocket()) continue; // a live endpoint, meaningless in an image
    // before the hardlink check: overlayfs makes all whiteouts links of one shared inode
    if (isOverlayWhiteout(st)) {
      const slash = rel.lastIndexOf('/') + 1;
      yield encodeEntry({ ...common(st), name: rel.slice(0, slash) + WHITEOUT_PREFIX + rel.slice(slash), type: 'file', mode: 0o600 });
      continue;
    }
    const entry = { ...common(st), name: rel, xattrs: layerXattrs(abs, rel) };
    if (st.isDirectory()) {
      yield encodeEntry({ ...entry, name: `${rel}/`, type: 'dir' });
      if (isOverlayOpaque(abs)) yield encodeEntry(opaqueMarker(`${rel}/`, st));
      continue;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = firstNames.get(key);
      if (first !== undefined) {
        yield encodeEntry({ ...entry, type: 'link', linkname: first });
        continue;
      }
      firstNames.set(key, rel);
    }
    if (st.isFile()) {
      const size = Number(st.size);
      yield encodeEntry({ ...entry, type: 'file', size });
      yield* fileData(abs, rel, size);
      yield paddingFor(size);
    } else if (st.isSymbolicLink()) {
      yield encodeEntry({ ...entry, type: 'symlink', linkname: utf8(readlinkSync(abs, { encoding: 'buffer' }), () => `the target of ${rel}`) });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const type = st.isCharacterDevice() ? 'char' : 'block';
      yield encodeEntry({ ...entry, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
    } else if (st.isFIFO()) {
      yield encodeEntry({ ...entry, type: 'fifo' });
    }
  }
  yield END_OF_ARCHIVE;
}

/** Depth first, parents before children, each directory's names in byte order (as Go's WalkDir). */
function* walk(root: string, dirRel: string): Generator<Found> {
  const dirAbs = dirRel === '' ? root : path.join(root, dirRel);
  const names = readdirSync(dirAbs, { encoding: 'buffer' }).sort(Buffer.compare);
  for (const raw of names) {
    const name = utf8(raw, () => `the name ${JSON.stringify(path.posix.join(dirRel, raw.toString()))}`);
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    const abs = path.join(root, rel);
    const st = lstatSync(abs, { bigint: true });
    yield { rel, abs, st };
    if (st.isDirectory()) yield* walk(root, rel);
  }
}

/** What every entry takes from the inode; the callers set name, type and what else differs. */
function common(st: BigIntStats): Omit<TarEntry, 'name' | 'type'> {
  return {
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: wholeSeconds(st.mtimeNs),
    size: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
  };
}

/** `.wh..wh..opq`, right after its directory, owned like it (as moby writes it). */
function opaqueMarker(dirName: string, st: BigIntStats): TarEntry {
  return { ...common(st), name: dirName + OPAQUE_MARKER, type: 'file', mode: Number(st.mode) & 0o777 };
}

function layerXattrs(abs: string, rel: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of llistxattr(abs).sort()) {
    if (isUnpackableOverlayXattr(name)) {
      throw new StackError(`cannot pack ${rel}: it carries ${name}, so its content lives in a lower layer`, {
        kind: 'unsupported',
        hint: 'mount the overlay with redirect_dir=off and metacopy=off',
      });
    }
    if (!isLayerXattr(name)) continue;
    const value = lgetxattr(abs, name);
    if (value) out.set(name, name === 'security.capability' ? portableCapability(value) : value);
  }
  return out;
}

/**
 * A v3 file capability names the root uid of the user namespace it was set in, which means
 * nothing in another one: write it as v2 (what moby does).
 */
function portableCapability(value: Buffer): Buffer {
  const VFS_CAP_REVISION_2 = 2;
  const VFS_CAP_REVISION_3 = 3;
  const V2_SIZE = 20;
  if (value.length <= V2_SIZE || value[3] !== VFS_CAP_REVISION_3) return value;
  const v2 = Buffer.from(value.subarray(0, V2_SIZE));
  v2[3] = VFS_CAP_REVISION_2;
  return v2;
}

function* fileData(abs: string, rel: string, size: number): Generator<Buffer> {
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    for (let left = size; left > 0; ) {
      const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, left));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) throw new StackError(`cannot pack ${rel}: it shrank while being read`, { kind: 'conflict' });
      left -= n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function wholeSeconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  // bigint division truncates toward zero; times before 1970 round down like every other
  return Number(ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s);
}

/** Names and link targets are UTF-8 in a layer tar; another encoding would not survive it. */
function utf8(raw: Buffer, what: () => string): string {
  const s = raw.toString('utf8');
  if (!Buffer.from(s).equals(raw)) throw new StackError(`cannot pack ${what()}: it is not valid UTF-8`, { kind: 'unsupported' });
  return s;
}
