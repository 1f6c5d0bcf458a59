/**
 * Writing COPY/ADD sources into an image's root (the merged overlay view of the step). Every
 * destination directory is resolved inside the root (makeDirsInRoot), so a symlink the image
 * put at `/app` leads to another place inside the image, never to the host; an existing
 * symlink at a file's own name is replaced, never written through.
 */
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, type Stats } from 'node:fs';
import path from 'node:path';
import { StackError, type Location } from '../../errors.js';
import { makeDirsInRoot, resolveInRoot } from '../../sys/read-in-root.js';
import type { ContextEntry } from './build-context.js';

export interface CopyOwner {
  uid: number;
  gid: number;
}

export interface CopySource {
  entries: ContextEntry[];
  /** the operand's last path component (a file copied into a directory keeps it) */
  name: string;
  isDir: boolean;
}

export interface CopyRequest {
  /** host path of the image root being written */
  root: string;
  sources: CopySource[];
  /** absolute container path, as written (a trailing '/' says "directory") */
  dest: string;
  /** several operands or a wildcard: dest must be a directory */
  multiple: boolean;
  owner: CopyOwner;
  /** --chmod: replaces the mode of every copied file and directory */
  mode?: number | undefined;
  location: Location;
  instruction: string;
}

export function copyIntoRoot(req: CopyRequest): void {
  const destIsDir = req.dest.endsWith('/') || req.multiple || existsAsDir(req.root, req.dest);
  if (req.multiple && !req.dest.endsWith('/')) {
    throw new StackError(`${req.instruction}: with more than one source the destination must be a directory ending with /`, {
      location: req.location,
      hint: `write the destination as ${req.dest}/`,
    });
  }
  const dirOwner = { ...req.owner, mode: 0o755 };
  for (const source of req.sources) {
    // a directory's contents go into dest; a file goes into dest/ or becomes dest
    const base = source.isDir ? req.dest : destIsDir ? path.posix.join(req.dest, source.name) : req.dest;
    for (const entry of source.entries) {
      const target = entry.rel === '' ? base : path.posix.join(base, entry.rel);
      if (entry.rel === '' && source.isDir) {
        makeDirsInRoot(req.root, target, dirOwner);
        continue;
      }
      const parent = makeDirsInRoot(req.root, path.posix.dirname(target), dirOwner);
      writeEntry(entry, path.join(parent, path.posix.basename(target)), req);
    }
  }
}

function writeEntry(entry: ContextEntry, dst: string, req: CopyRequest): void {
  const existing = lstatOrUndefined(dst);
  const st = entry.stats;
  if (existing && !(existing.isDirectory() && st.isDirectory())) rmSync(dst, { recursive: true, force: true });
  const mode = req.mode ?? st.mode & 0o7777;
  if (st.isDirectory()) {
    if (!existing?.isDirectory()) mkdirSync(dst);
    chmodSync(dst, mode);
    lchownSync(dst, req.owner.uid, req.owner.gid);
  } else if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(entry.hostPath), dst);
    lchownSync(dst, req.owner.uid, req.owner.gid);
  } else if (st.isFile()) {
    copyFileSync(entry.hostPath, dst);
    chmodSync(dst, mode);
    lchownSync(dst, req.owner.uid, req.owner.gid);
    utimesSync(dst, st.atime, st.mtime);
  }
  // sockets, fifos and devices in a build context are not copied, as docker
}

function existsAsDir(root: string, containerPath: string): boolean {
  return resolveInRoot(root, containerPath)?.stats.isDirectory() === true;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
