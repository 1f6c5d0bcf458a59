/**
 * What ADD does beyond COPY: a URL source is downloaded (named after the URL's last path
 * component, mode 0600 and the server's Last-Modified as mtime, as docker), and a local tar
 * archive is unpacked instead of copied. Archives are recognised by content, not by name.
 */
import { closeSync, lstatSync, openSync, readSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError, type Location } from '../../errors.js';
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

/** gzip, or an uncompressed tar (the ustar magic at offset 257). */
export function isArchive(file: string): boolean {
  const buf = Buffer.alloc(262);
  const fd = openSync(file, 'r');
  try {
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return true;
    return n >= 262 && buf.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    closeSync(fd);
  }
}
