/**
 * The few libc calls the engine makes itself, through koffi. This layer (engine/sys) is the
 * whole unsafe surface: everything else imports it, never koffi directly.
 */
import koffi from 'koffi';
import { errnoName, SysError } from './sys-error.js';

/** the loaded libc, for the other modules of this layer that bind calls of their own */
export const libc = koffi.load('libc.so.6');

const mountFn = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');
const umount2Fn = libc.func('int umount2(const char *target, int flags)');
const setnsFn = libc.func('int setns(int fd, int nstype)');
const unshareFn = libc.func('int unshare(int flags)');

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;

export const MNT_DETACH = 0x2;

export const CLONE_NEWNET = 0x40000000;

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null): void {
  if (mountFn(source, target, fstype, flags, data) !== 0) {
    const code = errnoName(koffi.errno());
    throw new SysError('mount', [source, target, fstype, flags, data], code);
  }
}

export function umount2(target: string, flags: number): void {
  if (umount2Fn(target, flags) !== 0) {
    throw new SysError('umount2', [target, flags], errnoName(koffi.errno()));
  }
}

/** Moves the calling thread (not the process) into the namespace open on `fd`. */
export function setns(fd: number, nstype: number): void {
  if (setnsFn(fd, nstype) !== 0) throw new SysError('setns', [fd, nstype], errnoName(koffi.errno()));
}

/** Gives the calling thread (not the process) new namespaces of the `flags` kinds. */
export function unshare(flags: number): void {
  if (unshareFn(flags) !== 0) throw new SysError('unshare', [flags], errnoName(koffi.errno()));
}
