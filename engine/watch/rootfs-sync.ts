/**
 * The sync of a watch rule: host files mirrored into a container by writing into the root
 * filesystem the engine mounted for it on the host (or into the source of a bind mount or
 * volume the target lies in). No tar stream, no process in the container: a changed file is
 * one write and a rename.
 *
 * The host is the truth under `target`: a file replaces whatever the container had there, a
 * path gone from the host goes from the container, a directory is created where the host
 * has one. The container's tree is untrusted: `target` itself resolves inside the rootfs
 * (symlinks followed as the container would, never out of it), and below `target` no
 * symlink is followed at all (a symlink where the host has a directory is replaced by the
 * directory), so a sync never writes outside `target`. A symlink on the host is copied as a
 * symlink, never followed. Files are written to a new name and renamed over the old one, so
 * a reader in the container sees the old content or the new, never half of it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, rmSync, symlinkSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { OciMount } from '../runtime/oci-spec.js';
import { makeDirsInRoot, resolveInRoot } from '../sys/read-in-root.js';
import type { CompiledRule } from './watch-rules.js';

export interface SyncTarget {
  /** the host directory the container sees as `/` */
  rootfs: string;
  /** the container's mounts: a path under a bind mount's destination is written to its source */
  mounts: readonly OciMount[];
  /** the container's user, who owns what a sync writes */
  owner: { uid: number; gid: number };
}

export interface SyncStats {
  /** files, directories and links written */
  written: number;
  /** paths removed from the container */
  removed: number;
  /** files already the same in the container */
  unchanged: number;
}

const COPY_CHUNK = 1 << 20;

/**
 * Brings the container in line with the host for `hostPaths` (absolute, under the rule's
 * path): what exists is copied (a directory with what it holds), what is gone is removed.
 */
export function syncPaths(rule: CompiledRule, into: SyncTarget, hostPaths: Iterable<string>): SyncStats {
  const stats: SyncStats = { written: 0, removed: 0, unchanged: 0 };
  const sync = new RuleSync(rule, into, stats);
  for (const p of hostPaths) sync.mirror(p);
  return stats;
}

/** The rule's whole tree, compared and copied where it differs (initial sync, a new container). */
export function syncTree(rule: CompiledRule, into: SyncTarget): SyncStats {
  return syncPaths(rule, into, [rule.path]);
}

class RuleSync {
  private base: { root: string; dir: string } | undefined;

  constructor(
    private readonly rule: CompiledRule,
    private readonly into: SyncTarget,
    private readonly stats: SyncStats,
  ) {}

  mirror(hostPath: string): void {
    if (this.rule.ignores(hostPath, isDirectory(hostPath))) return;
    const rel = this.rule.isDir ? path.relative(this.rule.path, hostPath) : '';
    if (rel.startsWith('..') || path.isAbsolute(rel)) return;
    const parts = rel === '' ? [] : rel.split(path.sep);
    let src: Stats | undefined;
    try {
      src = lstatSync(hostPath);
    } catch {
      src = undefined;
    }
    if (parts.length === 0 && this.rule.isDir) {
      // the rule's directory itself: the target directory, and what the host has under it
      if (src?.isDirectory()) this.copyDir(hostPath, this.baseDir());
      return;
    }
    const { parent, leaf } = this.parentOf(parts, src !== undefined);
    if (parent === undefined) return; // nothing to remove: the path's parent is not there
    const dest = path.join(parent, leaf);
    if (!src) {
      if (lstatOrUndefined(dest)) {
        rmSync(dest, { recursive: true, force: true });
        this.stats.removed++;
      }
      return;
    }
    // a file an event names has changed, whatever its size and time say (a save within the clock's tick)
    this.copy(hostPath, src, dest, false);
  }

  /** the host path of `target` inside the container's root (created when missing) */
  private baseDir(): string {
    if (!this.base) {
      const target = this.rule.target!;
      const { root, inner } = this.rootFor(target);
      const dir = makeDirsInRoot(root, inner, { ...this.into.owner, mode: 0o755 });
      this.base = { root, dir };
    }
    return this.base.dir;
  }

  /**
   * The directory that holds `parts`' last component, below `target` without following any
   * symlink; made as needed when `create`, else undefined when it is not there.
   */
  private parentOf(parts: readonly string[], create: boolean): { parent: string | undefined; leaf: string } {
    if (parts.length === 0) {
      // a one-file rule: `target` is the file's own container path
      const target = this.rule.target!;
      const dir = this.dirInRoot(path.posix.dirname(target), create);
      return { parent: dir, leaf: path.posix.basename(target) };
    }
    let dir = create ? this.baseDir() : this.existingBase();
    if (dir === undefined) return { parent: undefined, leaf: '' };
    for (const part of parts.slice(0, -1)) {
      const next = path.join(dir, part);
      const st = lstatOrUndefined(next);
      if (st?.isDirectory()) {
        dir = next;
        continue;
      }
      if (!create) return { parent: undefined, leaf: '' };
      // the host has a directory here: whatever the container has (a file, a symlink) gives way
      if (st) rmSync(next, { recursive: true, force: true });
      this.makeDir(next, 0o755);
      dir = next;
    }
    return { parent: dir, leaf: parts[parts.length - 1]! };
  }

  private existingBase(): string | undefined {
    if (this.base) return this.base.dir;
    const target = this.rule.target!;
    const { root, inner } = this.rootFor(target);
    return existingDirInRoot(root, inner);
  }

  private dirInRoot(containerDir: string, create: boolean): string | undefined {
    const { root, inner } = this.rootFor(containerDir);
    return create ? makeDirsInRoot(root, inner, { ...this.into.owner, mode: 0o755 }) : existingDirInRoot(root, inner);
  }

  /** the host directory that holds `containerPath`: the rootfs, or the source of the bind mount it lies under */
  private rootFor(containerPath: string): { root: string; inner: string } {
    let best: OciMount | undefined;
    for (const m of this.into.mounts) {
      const isBind = m.type === 'bind' || (m.options ?? []).includes('bind') || (m.options ?? []).includes('rbind');
      if (!isBind || m.source === undefined) continue;
      const d = path.posix.normalize(m.destination);
      if (containerPath !== d && !containerPath.startsWith(d.endsWith('/') ? d : `${d}/`)) continue;
      if (!best || d.length > path.posix.normalize(best.destination).length) best = m;
    }
    if (!best) return { root: this.into.rootfs, inner: containerPath };
    const d = path.posix.normalize(best.destination);
    if (isDirectory(best.source!)) return { root: best.source!, inner: `/${path.posix.relative(d, containerPath)}` };
    // a file bind-mounted: its own source is the place
    return { root: path.dirname(best.source!), inner: `/${path.basename(best.source!)}` };
  }

  private copy(hostPath: string, src: Stats, dest: string, compare = true): void {
    const have = lstatOrUndefined(dest);
    if (src.isDirectory()) {
      if (have && !have.isDirectory()) rmSync(dest, { force: true });
      if (!have || !have.isDirectory()) this.makeDir(dest, src.mode & 0o7777);
      this.copyDir(hostPath, dest);
      return;
    }
    if (src.isSymbolicLink()) {
      const link = readlinkSync(hostPath);
      if (have?.isSymbolicLink() && readlinkSync(dest) === link) {
        this.stats.unchanged++;
        return;
      }
      const tmp = tempName(dest);
      symlinkSync(link, tmp);
      lchownSync(tmp, this.into.owner.uid, this.into.owner.gid);
      this.replace(tmp, dest, have);
      return;
    }
    if (!src.isFile()) return; // sockets, FIFOs, devices: nothing a container could use
    if (compare && have?.isFile() && sameFile(src, have, this.into.owner)) {
      this.stats.unchanged++;
      return;
    }
    const tmp = tempName(dest);
    copyFileContent(hostPath, tmp, src, this.into.owner);
    this.replace(tmp, dest, have);
  }

  /** moves `tmp` over `dest`; a directory there (the host now has a file) goes first */
  private replace(tmp: string, dest: string, have: Stats | undefined): void {
    if (have?.isDirectory()) rmSync(dest, { recursive: true, force: true });
    renameSync(tmp, dest);
    this.stats.written++;
  }

  private copyDir(hostDir: string, destDir: string): void {
    for (const entry of readdirSync(hostDir, { withFileTypes: true })) {
      const child = path.join(hostDir, entry.name);
      if (this.rule.ignores(child, entry.isDirectory())) continue;
      let st: Stats;
      try {
        st = lstatSync(child);
      } catch {
        continue; // gone meanwhile: its own event removes it
      }
      this.copy(child, st, path.join(destDir, entry.name));
    }
  }

  private makeDir(dir: string, mode: number): void {
    mkdirSync(dir, { mode });
    lchownSync(dir, this.into.owner.uid, this.into.owner.gid);
    this.stats.written++;
  }
}

/** the host path of an existing directory `containerPath` inside `root` (symlinks followed inside it), else undefined */
function existingDirInRoot(root: string, containerPath: string): string | undefined {
  const found = resolveInRoot(root, containerPath);
  return found?.stats.isDirectory() ? found.hostPath : undefined;
}

/** Size, modification time, mode and owner match what a copy would make: the content is taken to match too. */
function sameFile(src: Stats, have: Stats, owner: { uid: number; gid: number }): boolean {
  return (
    src.size === have.size &&
    // times pass through a double of seconds on the way in: equal to well under a millisecond
    Math.abs(src.mtimeMs - have.mtimeMs) < 1 &&
    (src.mode & 0o7777) === (have.mode & 0o7777) &&
    have.uid === owner.uid &&
    have.gid === owner.gid
  );
}

function copyFileContent(from: string, to: string, src: Stats, owner: { uid: number; gid: number }): void {
  const input = openSync(from, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    // a fresh name, never followed: nothing the container placed there is written through
    const output = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(src.size, 1)));
      for (;;) {
        const n = readSync(input, buf, 0, buf.length, null);
        if (n === 0) break;
        for (let off = 0; off < n; ) off += writeSync(output, buf, off, n - off);
      }
      fchownSync(output, owner.uid, owner.gid);
      fchmodSync(output, src.mode & 0o7777);
      futimesSync(output, src.atimeMs / 1000, src.mtimeMs / 1000);
    } finally {
      closeSync(output);
    }
  } catch (e) {
    rmSync(to, { force: true });
    throw e;
  } finally {
    closeSync(input);
  }
}

function tempName(dest: string): string {
  return path.join(path.dirname(dest), `.${path.basename(dest)}.stack-sync-${randomBytes(4).toString('hex')}`);
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function isDirectory(p: string): boolean {
  return lstatOrUndefined(p)?.isDirectory() === true;
}
