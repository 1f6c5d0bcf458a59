/**
 * OCI layer tar -> layer directory in overlay format. The tar is untrusted: every path is
 * cleaned and kept inside the directory, no symlink is ever followed on the way to an
 * entry (a tar can make `lib -> /etc` and then write `lib/passwd`), and what a tar may not
 * say (overlayfs's own xattrs) is dropped.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  type ReadStream,
  rmSync,
  type Stats,
  symlinkSync,
  write,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { StackError } from '../../errors.js';
import { lsetxattr, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../../sys/file-calls.js';
import { SysError } from '../../sys/sys-error.js';
import type { TarEntry } from './tar-header.js';
import { ByteSource, readTar, type TarItem } from './tar-reader.js';
import { classifyOciName, isLayerXattr, makeOverlayWhiteout, markOverlayOpaque } from './whiteouts.js';

/** Directories a tar only implies (it names `a/b` without `a/`) get what moby gives them. */
const IMPLIED_DIR_MODE = 0o755;
const GUNZIP_CHUNK = 1 << 20;
const FILE_READ_CHUNK = 1 << 20;
const ASYNC_WRITE_MIN = 256 << 10;

function writeAsync(fd: number, buf: Buffer, off: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buf, off, buf.length - off, null, (e, n) => (e ? reject(e) : resolve(n))));
}
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Extracts a layer tar (plain or gzip: detected from the magic bytes, so callers never say) from a file path or a
 * readable stream into `dir` (created if missing; normally empty) in overlay format. Returns the diffId computed over
 * the uncompressed bytes. Never writes outside `dir`.
 */
export async function extractLayer(input: string | NodeJS.ReadableStream, dir: string): Promise<{ diffId: string }> {
  const root = path.resolve(dir);
  mkdirSync(root, { recursive: true });
  let file: ReadStream | undefined;
  if (typeof input === 'string') input = file = createReadStream(input, { highWaterMark: FILE_READ_CHUNK });
  const hash = createHash('sha256');
  let src: ByteSource | undefined;
  try {
    src = new ByteSource(hashed(await uncompressed(input), hash));
    const writer = new LayerWriter(root);
    for await (const item of readTar(src)) await writer.apply(item);
    await src.drain();
    writer.finish();
  } finally {
    await src?.close();
    // a destroyed stream closes its fd later; the caller may remove the file next
    if (file && !file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
  }
  return { diffId: `sha256:${hash.digest('hex')}` };
}

async function* hashed(chunks: AsyncIterable<Buffer>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
}

/** The input's bytes, gunzipped when they start with gzip's magic. */
async function uncompressed(input: NodeJS.ReadableStream): Promise<AsyncIterable<Buffer>> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<string | Buffer>;
  const head: Buffer[] = [];
  let headBytes = 0;
  while (headBytes < 4) {
    const r = await it.next();
    if (r.done) break;
    const chunk = toBuffer(r.value);
    head.push(chunk);
    headBytes += chunk.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield* head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield toBuffer(r.value);
    } finally {
      // stopping early (a refused entry) releases the input: closes the file, destroys the stream
      await it.return?.();
    }
  }
  const magic = Buffer.concat(head);
  if (magic.subarray(0, 4).equals(ZSTD_MAGIC)) {
    await it.return?.();
    throw new StackError('zstd-compressed layers are not supported', { kind: 'unsupported', hint: 'use an image whose layers are gzip-compressed' });
  }
  return magic.subarray(0, 2).equals(GZIP_MAGIC) ? gunzipped(replay()) : replay();
}

async function* gunzipped(chunks: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  // pipeline destroys the gunzip stream with the source's error, so iterating it rethrows that
  // large output chunks: each chunk is a round trip to zlib's thread, and at the default 16 KiB
  // those round trips, not inflating, were most of a layer's extraction time
  // and large input chunks, for the same reason (a network stream comes in ~64 KiB pieces)
  const gunzip = pipeline(Readable.from(coalesced(chunks, GUNZIP_CHUNK)), createGunzip({ chunkSize: GUNZIP_CHUNK }), () => {});
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (e) {
    if (!String((e as NodeJS.ErrnoException).code).startsWith('Z_')) throw e;
    throw new StackError(`layer blob is not valid gzip: ${(e as Error).message}`, { kind: 'invalid', cause: e });
  }
}

/** The same bytes in pieces of at least `size` (but the last). */
async function* coalesced(chunks: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    bytes += chunk.length;
    if (bytes >= size) {
      yield parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
      parts = [];
      bytes = 0;
    }
  }
  if (bytes > 0) yield Buffer.concat(parts, bytes);
}

function toBuffer(chunk: string | Buffer): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** Writes entries under `root`; everything it touches is first checked to be inside. */
class LayerWriter {
  /** relative paths known to be real directories (created or checked); forgotten on removal */
  private readonly dirs = new Set<string>();
  /** directory mtimes, applied last since writing children changes them */
  private readonly dirTimes = new Map<string, number>();

  constructor(private readonly root: string) {}

  async apply({ entry, data }: TarItem): Promise<void> {
    const parts = cleanPath(entry.name);
    if (!parts) throw new StackError(`layer entry ${JSON.stringify(entry.name)} escapes the layer root`, { kind: 'invalid' });
    if (parts.length === 0) return; // the root itself: its metadata belongs to whoever made the directory
    const base = parts[parts.length - 1]!;
    const parent = parts.slice(0, -1);
    const name = classifyOciName(base);
    // AUFS bookkeeping (e.g. its hardlink store) is not part of the filesystem
    if (name.kind === 'meta' || parent.some((p) => classifyOciName(p).kind === 'meta')) return;
    this.ensureParents(entry.name, parent);

    if (name.kind === 'opaque') {
      markOverlayOpaque(this.abs(parent));
      return;
    }
    if (name.kind === 'whiteout') {
      if (name.target === '' || name.target === '.' || name.target === '..') {
        throw new StackError(`layer entry ${JSON.stringify(entry.name)} is not a valid whiteout`, { kind: 'invalid' });
      }
      const target = [...parent, name.target];
      this.replace(target);
      makeOverlayWhiteout(this.abs(target));
      lchownSync(this.abs(target), entry.uid, entry.gid);
      lutimesSync(this.abs(target), entry.mtime, entry.mtime);
      return;
    }

    const rel = parts.join('/');
    const abs = this.abs(parts);
    if (entry.type === 'dir') {
      const existing = lstatOrUndefined(abs);
      if (!existing?.isDirectory()) {
        if (existing) this.replace(parts);
        mkdirSync(abs, 0o700);
      }
      this.dirs.add(rel);
      this.setOwnerXattrsMode(abs, entry);
      this.dirTimes.set(rel, entry.mtime);
      return;
    }
    if (entry.type === 'link') {
      const target = this.hardlinkTarget(entry);
      if (target.join('/') === rel) throw new StackError(`layer entry ${JSON.stringify(entry.name)} is a hardlink to itself`, { kind: 'invalid' });
      this.replace(parts);
      linkSync(this.abs(target), abs);
      // a hardlink to a symlink is that symlink: chmod and utimes would follow it
      const isSymlink = lstatSync(abs).isSymbolicLink();
      lchownSync(abs, entry.uid, entry.gid);
      this.setXattrs(abs, entry);
      if (!isSymlink) chmodSync(abs, entry.mode);
      lutimesSync(abs, entry.mtime, entry.mtime);
      return;
    }
    this.replace(parts);
    switch (entry.type) {
      case 'file':
        await this.writeFile(abs, entry, data());
        return;
      case 'symlink':
        symlinkSync(entry.linkname, abs);
        lchownSync(abs, entry.uid, entry.gid);
        this.setXattrs(abs, entry);
        lutimesSync(abs, entry.mtime, entry.mtime);
        return;
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = entry.type === 'char' ? S_IFCHR : entry.type === 'block' ? S_IFBLK : S_IFIFO;
        mknod(abs, kind, entry.type === 'fifo' ? 0n : makedev(entry.devmajor, entry.devminor));
        this.setOwnerXattrsMode(abs, entry);
        lutimesSync(abs, entry.mtime, entry.mtime);
        return;
      }
    }
  }

  /** Directory times last, deepest first, once nothing will be written into them. */
  finish(): void {
    const dirs = [...this.dirTimes].sort(([a], [b]) => b.split('/').length - a.split('/').length);
    for (const [rel, mtime] of dirs) lutimesSync(path.join(this.root, rel), mtime, mtime);
  }

  private async writeFile(abs: string, entry: TarEntry, data: AsyncGenerator<Buffer>): Promise<void> {
    // O_EXCL|O_NOFOLLOW: whatever was there is gone, and nothing may be swapped in and followed
    const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of data) {
        // big pieces are written on libuv's threads, so hashing and inflating go on meanwhile;
        // small ones at once, where a thread round trip would cost more than the write
        for (let off = 0; off < chunk.length; ) off += chunk.length - off >= ASYNC_WRITE_MIN ? await writeAsync(fd, chunk, off) : writeSync(fd, chunk, off);
      }
      // chown clears setuid bits and file capabilities, and writing data would too: data,
      // owner, xattrs, then mode
      fchownSync(fd, entry.uid, entry.gid);
      this.setXattrs(abs, entry);
      fchmodSync(fd, entry.mode);
      futimesSync(fd, entry.mtime, entry.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private setOwnerXattrsMode(abs: string, entry: TarEntry): void {
    lchownSync(abs, entry.uid, entry.gid);
    this.setXattrs(abs, entry);
    chmodSync(abs, entry.mode);
  }

  private setXattrs(abs: string, entry: TarEntry): void {
    for (const [name, value] of entry.xattrs) {
      if (!isLayerXattr(name)) continue;
      try {
        lsetxattr(abs, name, value);
      } catch (e) {
        // user.* is decoration, and some filesystems (older tmpfs) or file types (symlinks)
        // refuse it; every other namespace changes what the file may do (capabilities,
        // ACLs), so losing one fails the layer rather than silently weakening or breaking it
        if (name.startsWith('user.') && e instanceof SysError && ['ENOTSUP', 'EOPNOTSUPP', 'EPERM'].includes(e.code)) continue;
        throw e;
      }
    }
  }

  /**
   * Makes every parent a real directory inside the root: missing ones are created, a
   * symlink or a non-directory on the way is refused.
   */
  private ensureParents(entryName: string, parent: readonly string[]): void {
    for (let i = 1; i <= parent.length; i++) {
      const rel = parent.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const abs = path.join(this.root, rel);
      const st = lstatOrUndefined(abs);
      if (!st) {
        mkdirSync(abs, IMPLIED_DIR_MODE);
        chmodSync(abs, IMPLIED_DIR_MODE); // whatever the umask
      } else if (st.isSymbolicLink()) {
        throw new StackError(`layer entry ${JSON.stringify(entryName)} goes through the symlink "${rel}"`, {
          kind: 'invalid',
          hint: 'a layer may not write through a symlink it contains',
        });
      } else if (!st.isDirectory()) {
        throw new StackError(`layer entry ${JSON.stringify(entryName)} is under "${rel}", which is not a directory`, { kind: 'invalid' });
      }
      this.dirs.add(rel);
    }
  }

  /** A hardlink's target: inside the root, reached without symlinks, and already extracted. */
  private hardlinkTarget(entry: TarEntry): string[] {
    const what = `layer entry ${JSON.stringify(entry.name)}: hardlink target ${JSON.stringify(entry.linkname)}`;
    const parts = cleanPath(entry.linkname);
    if (!parts) throw new StackError(`${what} escapes the layer root`, { kind: 'invalid' });
    if (parts.length === 0) throw new StackError(`${what} is the layer root`, { kind: 'invalid' });
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const st = lstatOrUndefined(path.join(this.root, rel));
      if (st?.isSymbolicLink()) throw new StackError(`${what} goes through the symlink "${rel}"`, { kind: 'invalid' });
      if (!st?.isDirectory()) throw new StackError(`${what} does not exist`, { kind: 'invalid' });
    }
    const st = lstatOrUndefined(this.abs(parts));
    if (!st) throw new StackError(`${what} does not exist`, { kind: 'invalid' });
    if (st.isDirectory()) throw new StackError(`${what} is a directory`, { kind: 'invalid' });
    return parts;
  }

  /** Removes whatever is at `parts` (a later entry wins) and forgets what was known under it. */
  private replace(parts: readonly string[]): void {
    const abs = this.abs(parts);
    if (!lstatOrUndefined(abs)) return;
    rmSync(abs, { recursive: true, force: true });
    const rel = parts.join('/');
    const under = `${rel}/`;
    for (const d of this.dirs) if (d === rel || d.startsWith(under)) this.dirs.delete(d);
    for (const d of this.dirTimes.keys()) if (d === rel || d.startsWith(under)) this.dirTimes.delete(d);
  }

  private abs(parts: readonly string[]): string {
    return path.join(this.root, ...parts);
  }
}

/**
 * An entry name as components under the root: a leading `/` or `./` is dropped (tars made
 * from `/` or `.`), `.` parts vanish and `..` pops. Undefined when `..` would leave the root.
 */
function cleanPath(name: string): string[] | undefined {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else {
      out.push(part);
    }
  }
  return out;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
