/** Mounting the container's root filesystem and reading what is mounted. */
import { readFileSync } from 'node:fs';
import { MNT_DETACH, mount, umount2 } from './libc.js';
import { SysError } from './sys-error.js';

export interface OverlayOptions {
  /** lower dirs, topmost first (overlayfs order) */
  lower: readonly string[];
  upper: string;
  work: string;
  target: string;
}

export function mountOverlay(o: OverlayOptions): void {
  if (o.lower.length === 0) throw new SysError('mount', ['overlay', o.target], 'EINVAL', 'no lower directories');
  for (const p of [...o.lower, o.upper, o.work]) {
    // overlayfs option syntax has no escaping for these characters
    if (/[,:\\]/.test(p)) throw new SysError('mount', ['overlay', o.target], 'EINVAL', `unsupported character in path ${p}`);
  }
  mount('overlay', o.target, 'overlay', 0, `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work}`);
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

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** /proc/self/mountinfo, with the kernel's octal escapes decoded. */
export function listMounts(): MountEntry[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const fields = left!.split(' ');
    const rest = (right ?? '').split(' ');
    out.push({ mountPoint: unescape(fields[4]!), fsType: rest[0]!, source: unescape(rest[1] ?? '') });
  }
  return out;
}

export function isMounted(target: string): boolean {
  return listMounts().some((m) => m.mountPoint === target);
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
