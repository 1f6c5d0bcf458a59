/** Mounting the container's root filesystem, and reading what is mounted. */
import { readFileSync } from 'node:fs';
import { MNT_DETACH, MS_RDONLY, mount, umount2 } from './libc.js';
import { SysError } from './sys-error.js';

export interface OverlayOptions {
  /** lower dirs, topmost first (overlayfs order) */
  lower: readonly string[];
  /** with `work`; both absent makes a read-only overlay (which needs two lower dirs or more) */
  upper?: string;
  work?: string;
  target: string;
}

export function mountOverlay(o: OverlayOptions): void {
  if (o.lower.length === 0) throw new SysError('mount', ['overlay', o.target], 'EINVAL', 'no lower directories');
  const dirs = [...o.lower, ...(o.upper !== undefined ? [o.upper] : []), ...(o.work !== undefined ? [o.work] : [])];
  for (const p of dirs) {
    // overlayfs option syntax has no escaping for these characters
    if (/[,:\\]/.test(p)) throw new SysError('mount', ['overlay', o.target], 'EINVAL', `unsupported character in path ${p}`);
  }
  if (o.upper === undefined || o.work === undefined) {
    mount('overlay', o.target, 'overlay', MS_RDONLY, `lowerdir=${o.lower.join(':')}`);
    return;
  }
  // Renamed directories and metadata-only copy-ups would be recorded as overlay-private
  // xattrs that no OCI layer can carry: an upper dir must hold plain files to become a layer.
  mount('overlay', o.target, 'overlay', 0, `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work},redirect_dir=off,metacopy=off`);
}

/** Unmounts `target`; a target that is not mounted is not an error. */
export function unmount(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch (e) {
    if (e instanceof SysError && (e.code === 'EINVAL' || e.code === 'ENOENT')) return;
    throw e;
  }
}

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  /** the mounted subtree of the filesystem (`/` unless a bind or a cgroup namespace) */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string[];
}

export function readMountinfo(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}

/**
 * mountinfo lines (proc(5)): `id parent major:minor root mountpoint options
 * [optional fields...] - fstype source superoptions`. The optional fields vary in number,
 * so the part after the ` - ` separator is found by the separator, not by position.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 4) continue;
    entries.push({
      root: unescapeMountField(fields[3]!),
      mountPoint: unescapeMountField(fields[4]!),
      fsType: fields[sep + 1]!,
      source: unescapeMountField(fields[sep + 2]!),
      superOptions: fields[sep + 3]!.split(','),
    });
  }
  return entries;
}

/** The kernel escapes space, tab, newline and backslash in paths as octal (`\040`). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}
