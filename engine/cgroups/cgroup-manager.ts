/**
 * The engine's side of cgroups, behind one interface (youki's and crun's shape) with a driver
 * per host layout. The division of labour with the OCI runtime:
 *   - the engine owns the hierarchy: one parent per project (`/stack/<project>`), created
 *     before any container starts and removed by `down`; it reads stats and cleans up;
 *   - crun/runc create each container's own cgroup at the absolute `linux.cgroupsPath` the
 *     engine puts in config.json (`containerPath`), apply `linux.resources`, and usually
 *     remove it on `delete`; `removeContainer` catches what a crash left behind.
 * Every method is synchronous: each is a handful of small reads or writes on a pseudo
 * filesystem that never blocks on a disk.
 */
import { detectCgroupLayout, type CgroupLayout } from './detect.js';
import { NoopCgroupManager } from './noop-driver.js';
import { V1CgroupManager } from './v1-driver.js';
import { V2CgroupManager } from './v2-driver.js';

export interface CgroupManager {
  readonly layout: CgroupLayout;
  /** `/stack/<project>`: the project's parent cgroup, the same path in every hierarchy */
  projectPath(project: string): string;
  /** `/stack/<project>/<id>`: the absolute `linux.cgroupsPath` for the container's spec */
  containerPath(project: string, containerId: string): string;
  /**
   * The host directories behind a project's (or a container's) cgroup, one per hierarchy the
   * runtime joins. For diagnostics and tests; callers never write into them.
   */
  directories(project: string, containerId?: string): string[];
  /**
   * Creates the project's parent in every hierarchy the runtime will join, so the runtime
   * only has to make the leaf. v1: every mounted hierarchy (named ones and, on hybrid hosts,
   * the cgroup2 mount too, as runc joins them all), with cpuset's cpus/mems filled in; v2: the
   * directory, with the controllers containers need enabled in the ancestors'
   * cgroup.subtree_control. Idempotent.
   */
  ensureProject(project: string): void;
  /**
   * Removes the container's cgroup if the runtime left it (and any sub-cgroups the container
   * made). Kills nothing: fails, naming the processes, when any remain. Gone already is fine.
   */
  removeContainer(project: string, containerId: string): void;
  /**
   * Removes the project's parent and everything under it in every hierarchy, children first.
   * Keeps going after an error and throws all errors together at the end.
   */
  removeProject(project: string): void;
  /** Current usage and limits of a container's cgroup; `not-found` when it does not exist. */
  stats(project: string, containerId: string): CgroupStats;
  /** Processes in the container's cgroup and its sub-cgroups (for `stack top`). */
  pids(project: string, containerId: string): number[];
}

/** A controller's section is absent when the host does not have that controller. */
export interface CgroupStats {
  memory?: MemoryStats;
  cpu?: CpuStats;
  pids?: PidsStats;
}

export interface MemoryStats {
  /** bytes, including the page cache */
  usage: number;
  /** bytes; undefined = unlimited */
  limit?: number;
  /** bytes; the high-water mark (v1 memory.max_usage_in_bytes, v2 memory.peak on kernels >= 5.19) */
  maxUsage?: number;
  /** reclaimable page cache; `docker stats` shows usage minus this */
  inactiveFile?: number;
  /** processes the kernel's OOM killer killed in this cgroup */
  oomKills: number;
}

export interface CpuStats {
  /**
   * total CPU time, nanoseconds. A number, not a bigint: it stays exact up to 104 days of CPU
   * time and only loses nanoseconds past that.
   */
  usageNs: number;
  userNs?: number;
  systemNs?: number;
  /** CFS bandwidth periods elapsed while a quota was set, and those in which it was throttled */
  periods: number;
  throttledPeriods: number;
  throttledNs: number;
}

export interface PidsStats {
  current: number;
  /** undefined = unlimited */
  limit?: number;
}

/**
 * The manager for this host (or the layout given): v2 driver on unified hosts, v1 driver on
 * hybrid and legacy ones (on hybrid hosts cgroup2 carries no controller the engine uses, but
 * the v1 driver still makes the project's directory there), no-op without cgroups.
 */
export function createCgroupManager(layout: CgroupLayout = detectCgroupLayout()): CgroupManager {
  switch (layout.mode) {
    case 'unified':
      return new V2CgroupManager(layout, layout.unifiedMount!);
    case 'hybrid':
    case 'legacy':
      return new V1CgroupManager(layout);
    case 'none':
      return new NoopCgroupManager(layout);
  }
}
