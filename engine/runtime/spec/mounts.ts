/**
 * The container's mount list. First docker's base filesystems (/proc, /dev and its pts, shm
 * and mqueue, /sys, the cgroup tree), then the engine's and the user's own: /etc/hosts,
 * /etc/hostname and /etc/resolv.conf, `tmpfs:` entries, the volume layer's mounts and the
 * init binary. Two rules from docker make that list correct whatever the user mounts:
 * - a user mount replaces a base or engine mount at the same place (a `tmpfs` on /dev/shm is
 *   the shm; a bind of /etc/resolv.conf is the resolv.conf), and one on /dev replaces
 *   everything under /dev too;
 * - a mount goes after every mount of a parent directory, or the parent would hide it: a
 *   volume on /etc before the /etc/hosts bind, a tmpfs on /run before /run/stack-init.
 *   Otherwise the given order is kept.
 */

import type { EtcFiles } from '../etc-files.js';
import type { OciMount } from '../oci-spec.js';
import { cleanPath } from './tmpfs.js';

/** docker's default /dev/shm size. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where the init binary (tini, catatonit) appears in the container. */
export const INIT_PATH = '/run/stack-init';

export interface BaseMountOptions {
  privileged?: boolean | undefined;
  /** bytes */
  shmSize?: number | undefined;
  /** host: the host's /dev/shm; none: no /dev/shm at all (docker's `ipc: none`) */
  ipc: 'private' | 'host' | 'none';
}

/** docker's defaults (moby oci/defaults.go), /dev/shm sized by `shm_size`. */
export function baseMounts(opts: BaseMountOptions): OciMount[] {
  // Privileged containers may write /sys and their cgroups (docker clears `ro` on both).
  const ro = opts.privileged ? [] : ['ro'];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  ];
  if (opts.ipc === 'private') {
    const size = opts.shmSize ?? DEFAULT_SHM_SIZE;
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${size}`] });
  } else if (opts.ipc === 'host') {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate', 'nosuid', 'noexec', 'nodev'] });
  }
  mounts.push(
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...ro, 'nosuid', 'noexec', 'nodev'] },
  );
  return mounts;
}

/**
 * The engine-written files, bind-mounted writable as docker does (programs append to
 * /etc/hosts); rprivate so a mount made over them inside the container stays inside.
 */
export function etcMounts(files: EtcFiles): OciMount[] {
  const bind = (source: string, destination: string): OciMount => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  return [bind(files.hosts, '/etc/hosts'), bind(files.hostname, '/etc/hostname'), bind(files.resolvConf, '/etc/resolv.conf')];
}

/** The init binary, read-only: the container must not be able to replace the host's copy. */
export function initMount(hostPath: string): OciMount {
  return { destination: INIT_PATH, type: 'bind', source: hostPath, options: ['bind', 'ro', 'nosuid', 'nodev', 'rprivate'] };
}

/**
 * `provided` (base and engine mounts, before the user's) and `after` (engine mounts that go
 * after them, like the init binary) minus those a `user` mount replaces, then everything
 * ordered parents first.
 */
export function assembleMounts(provided: readonly OciMount[], user: readonly OciMount[], after: readonly OciMount[] = []): OciMount[] {
  const userDest = new Set(user.map((m) => cleanPath(m.destination)));
  const replacesDev = userDest.has('/dev');
  const replaced = (m: OciMount) => {
    const d = cleanPath(m.destination);
    return userDest.has(d) || (replacesDev && d.startsWith('/dev/'));
  };
  return parentsFirst([...provided.filter((m) => !replaced(m)), ...user, ...after.filter((m) => !replaced(m))]);
}

/**
 * A stable topological order: repeatedly takes the first mount that no remaining mount is a
 * parent of. Mounts at the same place keep their order, so the later one is on top.
 */
export function parentsFirst(mounts: readonly OciMount[]): OciMount[] {
  const rest = mounts.map((m) => ({ m, d: cleanPath(m.destination) }));
  const out: OciMount[] = [];
  while (rest.length > 0) {
    const i = rest.findIndex(({ d }) => !rest.some((o) => isStrictParent(o.d, d)));
    // A cycle is impossible (strict parents are shorter), so findIndex always succeeds.
    out.push(rest.splice(i, 1)[0]!.m);
  }
  return out;
}

function isStrictParent(parent: string, child: string): boolean {
  if (parent === child) return false;
  return parent === '/' || child.startsWith(`${parent}/`);
}
