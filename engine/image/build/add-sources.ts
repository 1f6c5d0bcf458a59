/**
 * What ADD does beyond COPY: a URL source is downloaded (named after the URL's last path
 * component, mode 0600 and the server's Last-Modified as mtime, as docker), and a local tar
 * archive (tar, gzip, bzip2, xz) is unpacked instead of copied. Archives are recognised by
 * content, not by name.
 */
import { closeSync, lstatSync, openSync, readSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import type { Readable } from 'node:stream';
import { StackError, type Location } from '../../errors.js';
import { outputOf } from '../../sys/process.js';
import type { ContextSource } from './build-context.js';

export function isRemoteUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

export async function fetchToFile(url: string, dir: string, where: { location: Location; instruction: string }): Promise<ContextSource> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    throw new StackError(`${where.instruction}: cannot download ${url}: ${(e as Error).message}`, { kind: 'system', location: where.location, cause: e });
  }
  if (!res.ok) {
    throw new StackError(`${where.instruction}: downloading ${url} failed: HTTP ${res.status}`, { kind: 'not-found', location: where.location });
  }
  const name = path.posix.basename(new URL(url).pathname) || 'download';
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
  const modified = res.headers.get('last-modified');
  if (modified && !Number.isNaN(Date.parse(modified))) utimesSync(file, new Date(), new Date(modified));
  return { rel: name, hostPath: file, stats: lstatSync(file) };
}

/** How a local archive is compressed; gzip is inflated by the layer code itself. */
export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz';

/**
 * A tar, plain or gzip-, bzip2- or xz-compressed, as docker decides it: by content. A
 * compressed file that does not hold a tar (a compressed log, say) is not an archive and is
 * copied as it is. bzip2 and xz go through Debian's `bzip2` and `xz` (Node has no decoder
 * for them), as docker's own unpacking does when they are installed.
 */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const buf = Buffer.alloc(64 * 1024);
  const fd = openSync(file, 'r');
  let head: Buffer;
  try {
    head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    try {
      // the first blocks are enough to see a tar header: a sync flush takes a truncated stream
      return isTarHeader(gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH })) ? 'gzip' : undefined;
    } catch {
      return undefined;
    }
  }
  const kind = head.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2' : head.subarray(0, 6).equals(XZ_MAGIC) ? 'xz' : undefined;
  if (kind !== undefined) return isTarHeader(await firstBytes(decompressed(file, kind), 512)) ? kind : undefined;
  return isTarHeader(head) ? 'tar' : undefined;
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** The archive's tar bytes: the file itself for tar and gzip (extraction inflates gzip), else a decompressor's output. */
export function tarStream(file: string, kind: ArchiveKind): string | Readable {
  return kind === 'bzip2' || kind === 'xz' ? decompressed(file, kind) : file;
}

function decompressed(file: string, kind: 'bzip2' | 'xz'): Readable {
  return outputOf(kind === 'bzip2' ? 'bzip2' : 'xz', ['-dc', '--', file]);
}

async function firstBytes(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      got += chunk.length;
      if (got >= n) break;
    }
  } catch {
    // not valid data for the decompressor: not an archive
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts);
}

/** A tar header block: the ustar magic, or (old v7 tars) a checksum that adds up. */
function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.subarray(257, 262).toString('latin1') === 'ustar') return true;
  const stored = parseInt(block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === stored && block[0] !== 0;
}
