/**
 * File calls node:fs lacks: extended attributes on the path itself (never following a final
 * symlink) and device/fifo nodes. Layer directories need both: overlayfs marks opaque
 * directories with an xattr and deleted files with a 0:0 character device, and images carry
 * devices and file capabilities.
 */
import koffi from 'koffi';
import { errnoName, SysError } from './sys-error.js';

const libc = koffi.load('libc.so.6');

// ssize_t is long on every Linux ABI we run on (LP64)
const lgetxattrFn = libc.func('long lgetxattr(const char *path, const char *name, void *value, size_t size)');
const llistxattrFn = libc.func('long llistxattr(const char *path, void *list, size_t size)');
const lsetxattrFn = libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)');
const mknodFn = libc.func('int mknod(const char *path, uint32_t mode, uint64_t dev)');

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** The kernel's limit for one xattr value (XATTR_SIZE_MAX) and for a name list. */
const XATTR_SIZE_MAX = 65536;
// The calls are synchronous, so one scratch buffer serves them all; results are copied out.
const scratch = Buffer.allocUnsafe(XATTR_SIZE_MAX);

function fail(call: string, args: readonly unknown[]): never {
  throw new SysError(call, args, errnoName(koffi.errno()));
}

/** glibc's makedev: 12 bits of major and 20 of minor in the low word, the rest above. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function major(dev: bigint): number {
  return Number(((dev >> 32n) & 0xfffff000n) | ((dev >> 8n) & 0xfffn));
}

export function minor(dev: bigint): number {
  return Number(((dev >> 12n) & 0xffffff00n) | (dev & 0xffn));
}

/** Creates a device or fifo node; `mode` carries the S_IF* type and the permission bits. */
export function mknod(path: string, mode: number, dev: bigint = 0n): void {
  if (mknodFn(path, mode, dev) !== 0) fail('mknod', [path, mode.toString(8), dev.toString()]);
}

/** The names of the xattrs on `path` itself. */
export function llistxattr(path: string): string[] {
  const n = Number(llistxattrFn(path, scratch, scratch.length));
  if (n < 0) fail('llistxattr', [path]);
  return scratch.subarray(0, n).toString('utf8').split('\0').filter((s) => s !== '');
}

/** The value of xattr `name` on `path` itself, or undefined when it has none (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const n = Number(lgetxattrFn(path, name, scratch, scratch.length));
  if (n < 0) {
    if (errnoName(koffi.errno()) === 'ENODATA') return undefined;
    fail('lgetxattr', [path, name]);
  }
  return Buffer.from(scratch.subarray(0, n));
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  if (lsetxattrFn(path, name, value, value.length, 0) !== 0) fail('lsetxattr', [path, name]);
}
