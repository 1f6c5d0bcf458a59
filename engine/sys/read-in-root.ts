/**
 * Reading a file of an untrusted rootfs from the host. An image can make `/etc/passwd` a
 * symlink to `/../../etc/shadow`; followed by the host's kernel that would read the host's
 * file. Here every component is looked at with lstat and symlinks are resolved by hand
 * against the rootfs, as if the rootfs were `/`: an absolute target restarts at the rootfs,
 * and `..` at the rootfs stays there (what the kernel does for a chrooted process, and what
 * docker's FollowSymlinkInScope does). Only the host path that results is opened, with
 * O_NOFOLLOW and checked to be the same regular file the walk found, so a symlink or a FIFO
 * put there in between is refused instead of followed or blocked on.
 */

import { chmodSync, closeSync, constants, fstatSync, lchownSync, lstatSync, mkdirSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';

/** Linux's own limit (MAXSYMLINKS) on symlinks followed while resolving one path. */
const MAX_SYMLINK_HOPS = 40;
/** /etc/passwd and /etc/group of real images are kilobytes; refuse to slurp a giant file. */
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

export interface InRoot {
  /** the host path, inside `root` */
  hostPath: string;
  stats: Stats;
}

/**
 * Resolves `containerPath` inside `root` with every symlink followed inside `root`. Returns
 * undefined when the path does not exist there (or a component is not a directory).
 */
export function resolveInRoot(root: string, containerPath: string): InRoot | undefined {
  return walkInRoot(root, containerPath, undefined);
}

export interface NewDirOwner {
  uid: number;
  gid: number;
  mode: number;
}

/**
 * `mkdir -p` of `containerPath` inside `root` (the builder writing COPY's destination into
 * an image): existing components resolve as resolveInRoot does, so a symlink in the image
 * leads somewhere inside the root and never out of it; missing ones are created with
 * `owner`. Returns the host path of the directory.
 */
export function makeDirsInRoot(root: string, containerPath: string, owner: NewDirOwner): string {
  const found = walkInRoot(root, containerPath, owner);
  if (!found || !found.stats.isDirectory()) {
    throw new StackError(`cannot create directory ${containerPath}: a component is not a directory`, { kind: 'invalid' });
  }
  return found.hostPath;
}

function walkInRoot(root: string, containerPath: string, create: NewDirOwner | undefined): InRoot | undefined {
  const rootPath = path.resolve(root);
  let pending = components(containerPath);
  const resolved: string[] = [];
  let hops = 0;
  let stats: Stats | undefined;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      // `resolved` holds only real directories (symlinks were expanded before being pushed),
      // so dropping the last one is the physical parent; at the root there is nothing to drop.
      resolved.pop();
      stats = undefined;
      continue;
    }
    const hostPath = path.join(rootPath, ...resolved, part);
    try {
      stats = lstatSync(hostPath);
    } catch (e) {
      if (!isMissing(e)) throw e;
      if (!create) return undefined;
      mkdirSync(hostPath);
      // mkdir's mode is filtered by the umask; the image wants the exact mode
      chmodSync(hostPath, create.mode);
      lchownSync(hostPath, create.uid, create.gid);
      stats = lstatSync(hostPath);
    }
    if (stats.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) {
        throw new StackError(`too many levels of symbolic links resolving ${containerPath} in ${rootPath}`, { kind: 'invalid' });
      }
      const target = readlinkSync(hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      pending = [...components(target), ...pending];
      stats = undefined;
      continue;
    }
    if (pending.length > 0 && !stats.isDirectory()) {
      if (create) throw new StackError(`cannot create directory ${containerPath}: /${[...resolved, part].join('/')} is not a directory`, { kind: 'invalid' });
      return undefined;
    }
    resolved.push(part);
  }
  // A path that resolved to the root itself (`/`, `..`) was never lstat'ed in the loop.
  stats ??= lstatSync(path.join(rootPath, ...resolved));
  return { hostPath: path.join(rootPath, ...resolved), stats };
}

/**
 * The content of `containerPath` in the rootfs `root` as UTF-8, or undefined when it does not
 * exist. Throws a StackError when it is not a regular file, is larger than `maxBytes`, or its
 * symlinks loop.
 */
export function readFileInRoot(root: string, containerPath: string, maxBytes = DEFAULT_MAX_BYTES): string | undefined {
  const found = resolveInRoot(root, containerPath);
  if (!found) return undefined;
  if (!found.stats.isFile()) {
    throw new StackError(`${containerPath} in the image is not a regular file`, { kind: 'invalid' });
  }
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO swapped in after the walk must not hang the engine.
    fd = openSync(found.hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (isMissing(e)) return undefined;
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new StackError(`${containerPath} in the image changed while it was being read`, { kind: 'conflict', cause: e });
    }
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== found.stats.ino || st.dev !== found.stats.dev) {
      throw new StackError(`${containerPath} in the image changed while it was being read`, { kind: 'conflict' });
    }
    if (st.size > maxBytes) {
      throw new StackError(`${containerPath} in the image is too large (${st.size} bytes, at most ${maxBytes})`, { kind: 'invalid' });
    }
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
