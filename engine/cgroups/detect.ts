/**
 * Which cgroup hierarchies this host has, read from /proc/self/mountinfo rather than assumed:
 * mount points differ between distributions (`cpu,cpuacct` co-mounted behind symlinks on
 * many, separate mounts on others, cgroup2 at /sys/fs/cgroup or /sys/fs/cgroup/unified), and
 * the runtime joins whatever is mounted, so the engine must see the same set it does.
 *
 * - unified: only cgroup2 carries controllers (most current hosts);
 * - hybrid:  v1 controllers plus a cgroup2 mount (systemd's hybrid layout);
 * - legacy:  v1 only;
 * - none:    no cgroup filesystem at all (some minimal VMs and sandboxes); the no-op driver.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseMountinfo, readMountinfo } from '../sys/mounts.js';

export type CgroupMode = 'unified' | 'hybrid' | 'legacy' | 'none';

export interface CgroupLayout {
  mode: CgroupMode;
  /**
   * v1 hierarchy of each controller -> its mount point. Co-mounted controllers share a mount
   * point; named hierarchies appear as `name=<name>` (e.g. `name=systemd`), because runc joins
   * them too.
   */
  v1: Map<string, string>;
  /** where cgroup2 is mounted, if it is */
  unifiedMount?: string;
  /** controllers available at the cgroup2 mount's root (its cgroup.controllers) */
  unifiedControllers: string[];
}

/**
 * The v1 controllers the kernel knows. Super options of a cgroup mount mix controllers with
 * flags (`rw`, `xattr`, `noprefix`, `clone_children`, `release_agent=...`), so controllers are
 * picked from this list rather than by excluding flags one by one.
 */
const V1_CONTROLLERS = new Set([
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio',
  'perf_event', 'hugetlb', 'pids', 'rdma', 'misc', 'debug',
]);

/**
 * Reads the host's layout: /proc/self/mountinfo (or the text given) plus cgroup.controllers
 * at the cgroup2 mount. `readControllers` is there so tests can parse a foreign host's
 * mountinfo without reading this host's files.
 */
export function detectCgroupLayout(
  mountinfoText?: string,
  readControllers: (unifiedMount: string) => string = readUnifiedControllers,
): CgroupLayout {
  const text = mountinfoText ?? readMountinfo();
  const probe = parseCgroupLayout(text);
  if (probe.unifiedMount === undefined) return probe;
  return parseCgroupLayout(text, readControllers(probe.unifiedMount));
}

/** Pure: the layout described by a mountinfo text and the cgroup2 root's cgroup.controllers. */
export function parseCgroupLayout(mountinfoText: string, unifiedControllersText = ''): CgroupLayout {
  const v1 = new Map<string, string>();
  const v1Root = new Map<string, string>();
  let unifiedMount: string | undefined;
  let unifiedRoot = '';
  for (const m of parseMountinfo(mountinfoText)) {
    if (m.fsType === 'cgroup2') {
      // Several cgroup2 mounts happen (bind mounts into containers); the one showing the
      // whole hierarchy (root `/`) is the one paths are relative to.
      if (unifiedMount === undefined || (unifiedRoot !== '/' && m.root === '/')) {
        unifiedMount = m.mountPoint;
        unifiedRoot = m.root;
      }
      continue;
    }
    if (m.fsType !== 'cgroup') continue;
    for (const opt of m.superOptions) {
      const controller = V1_CONTROLLERS.has(opt) ? opt : opt.startsWith('name=') ? opt : undefined;
      if (controller === undefined) continue;
      const seenRoot = v1Root.get(controller);
      if (seenRoot === undefined || (seenRoot !== '/' && m.root === '/')) {
        v1.set(controller, m.mountPoint);
        v1Root.set(controller, m.root);
      }
    }
  }
  // A named hierarchy alone (name=systemd beside a full cgroup2) limits nothing; the mode is
  // decided by where the resource controllers are.
  const hasV1Controllers = [...v1.keys()].some((c) => !c.startsWith('name='));
  const mode: CgroupMode = hasV1Controllers
    ? unifiedMount !== undefined ? 'hybrid' : 'legacy'
    : unifiedMount !== undefined ? 'unified' : v1.size > 0 ? 'legacy' : 'none';
  const layout: CgroupLayout = { mode, v1, unifiedControllers: splitWords(unifiedControllersText) };
  if (unifiedMount !== undefined) layout.unifiedMount = unifiedMount;
  return layout;
}

function splitWords(s: string): string[] {
  return s.split(/\s+/).filter((w) => w !== '');
}

/** cgroup.controllers of the cgroup2 root; missing (an old kernel) means no controllers. */
function readUnifiedControllers(unifiedMount: string): string {
  try {
    return readFileSync(path.join(unifiedMount, 'cgroup.controllers'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}
