/**
 * Persistent network namespaces, as `ip netns add` and podman make them: a namespace kept
 * alive by a bind mount of its nsfs file onto a plain file, so it outlives every process in
 * it and can be entered by path.
 *
 * unshare and setns with CLONE_NEWNET move only the calling thread. Everything here runs
 * synchronously on Node's main thread, and no other JavaScript runs while it is switched,
 * so the rest of the process (libuv's thread pool, where asynchronous I/O happens) stays
 * in the host's namespace. Every switch is undone in a `finally`.
 */
import { closeSync, constants, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CLONE_NEWNET, MS_BIND, mount, setns, unshare } from './libc.js';
import { unmount } from './mounts.js';
import { SysError } from './sys-error.js';

/** the calling thread's own namespace (/proc/self names the thread group leader's) */
const OWN_NETNS = '/proc/thread-self/ns/net';

function fsCall<T>(call: string, args: readonly unknown[], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new SysError(call, args, (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

/**
 * A new network namespace bound at `file` (which must not exist; its directory is made).
 * The caller's thread is back in its own namespace on return, and a failure leaves no file,
 * mount or namespace behind.
 */
export function createNetns(file: string): void {
  fsCall('mkdir', [path.dirname(file)], () => mkdirSync(path.dirname(file), { recursive: true }));
  // the bind mount needs a file to cover; O_EXCL so that a live namespace is never covered twice
  fsCall('open', [file, 'O_CREAT|O_EXCL'], () => closeSync(openSync(file, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL, 0o444)));
  try {
    const origin = fsCall('open', [OWN_NETNS], () => openSync(OWN_NETNS, constants.O_RDONLY));
    try {
      unshare(CLONE_NEWNET);
      try {
        mount(OWN_NETNS, file, 'none', MS_BIND, null);
      } finally {
        // the new namespace, when the mount failed, goes away with the thread's last reference to it
        switchBack(origin);
      }
    } finally {
      closeSync(origin);
    }
  } catch (e) {
    try {
      removeNetns(file);
    } catch {
      // the first failure is the one to report
    }
    throw e;
  }
}

/** Unbinds and deletes a namespace file; the namespace ends once no process or fd holds it. Absent is fine. */
export function removeNetns(file: string): void {
  unmount(file);
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SysError('unlink', [file], (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

/** An fd on the namespace (close-on-exec, as Node opens every file), for IFLA_NET_NS_FD and setns. */
export function openNetns(file: string): number {
  return fsCall('open', [file], () => openSync(file, constants.O_RDONLY));
}

export function closeFd(fd: number): void {
  fsCall('close', [fd], () => closeSync(fd));
}

/**
 * Runs `fn` with the calling thread in the namespace at `file`, and switches back whatever
 * `fn` does. `fn` must be synchronous: anything it leaves for later runs in the host's namespace.
 */
export function inNetns<T>(file: string, fn: () => T): T {
  const target = openNetns(file);
  try {
    const origin = fsCall('open', [OWN_NETNS], () => openSync(OWN_NETNS, constants.O_RDONLY));
    try {
      setns(target, CLONE_NEWNET);
      let result: T;
      try {
        result = fn();
      } finally {
        switchBack(origin);
      }
      if (typeof (result as { then?: unknown } | null | undefined)?.then === 'function') {
        throw new SysError('inNetns', [file], 'EINVAL', 'the function returned a promise: only its synchronous part ran inside the namespace');
      }
      return result;
    } finally {
      closeSync(origin);
    }
  } finally {
    closeSync(target);
  }
}

/**
 * A thread left in a container's namespace would make every later socket of the engine
 * live there: failing to return is not an error to recover from, so it says so loudly.
 */
function switchBack(origin: number): void {
  try {
    setns(origin, CLONE_NEWNET);
  } catch (e) {
    const code = e instanceof SysError ? e.code : 'EIO';
    throw new SysError('setns', [origin, 'CLONE_NEWNET'], code, 'FATAL: the engine thread could not return to its own network namespace', 'restart the engine process');
  }
}

/**
 * Writes a sysctl (`net.ipv4.ip_forward`, or with slashes when a part holds dots:
 * `net/ipv4/conf/eth0.10/forwarding`), inside the namespace at `netnsFile` when given:
 * /proc/sys/net resolves against the namespace of the thread that opens it.
 */
export function setSysctl(key: string, value: string, netnsFile?: string): void {
  const parts = key.includes('/') ? key.split('/') : key.split('.');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new SysError('setSysctl', [key, value], 'EINVAL', 'not a sysctl key');
  const file = path.join('/proc/sys', ...parts);
  const write = () =>
    fsCall('setSysctl', [key, value], () => {
      const fd = openSync(file, constants.O_WRONLY);
      try {
        writeSync(fd, value);
      } finally {
        closeSync(fd);
      }
    });
  if (netnsFile === undefined) write();
  else inNetns(netnsFile, write);
}
