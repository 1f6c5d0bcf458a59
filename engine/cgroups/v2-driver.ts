/**
 * The cgroup v2 driver (unified hosts). One hierarchy, so a cgroup is one directory under the
 * cgroup2 mount. A controller reaches a cgroup only if every ancestor lists it in
 * cgroup.subtree_control, so the engine enables what containers need down to the project's
 * parent; the runtime then only makes the leaf. Reads and writes only v2 files: memory.current,
 * memory.max, memory.peak, memory.events, cpu.stat, pids.*, cgroup.subtree_control,
 * cgroup.procs.
 *
 * The mount root is a parameter (not /sys/fs/cgroup) so the driver also runs against a
 * directory laid out like a unified hierarchy, which is how it is tested on v1 hosts.
 */
import path from 'node:path';
import { StackError } from '../errors.js';
import type { CgroupManager, CgroupStats, CpuStats, MemoryStats, PidsStats } from './cgroup-manager.js';
import { CGROUP_ROOT, CgroupNaming, containerCgroupPath, projectCgroupPath } from './cgroup-paths.js';
import { cgroupError, exists, makeDir, pidsInTree, readOptional, readText, removeIfUnused, removeTree, throwAll, writeText } from './cgroup-fs.js';
import type { CgroupLayout } from './detect.js';
import { parseFlatKeyed, parseLimit, parseNumber } from './stat-files.js';

/**
 * Controllers `linux.resources` can use, in the order the kernel lists them. Only those the
 * mount root offers (its cgroup.controllers) are enabled; the rest are simply absent there.
 */
const CONTAINER_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];

export class V2CgroupManager extends CgroupNaming implements CgroupManager {
  constructor(
    readonly layout: CgroupLayout,
    private readonly mountRoot: string,
  ) {
    super();
  }

  directories(project: string, containerId?: string): string[] {
    const cg = containerId === undefined ? projectCgroupPath(project) : containerCgroupPath(project, containerId);
    return [path.join(this.mountRoot, cg)];
  }

  ensureProject(project: string): void {
    const projectDir = path.join(this.mountRoot, projectCgroupPath(project));
    makeDir(projectDir);
    const offered = words(readOptional(path.join(this.mountRoot, 'cgroup.controllers')) ?? '');
    const wanted = CONTAINER_CONTROLLERS.filter((c) => offered.includes(c));
    // root -> /stack, /stack -> /stack/<project>, /stack/<project> -> its containers
    for (const dir of [this.mountRoot, path.join(this.mountRoot, CGROUP_ROOT), projectDir]) enableControllers(dir, wanted);
  }

  removeContainer(project: string, containerId: string): void {
    throwAll(this.directories(project, containerId).flatMap(removeTree), `removing the cgroup of container ${containerId}`);
  }

  removeProject(project: string): void {
    const dirs = this.directories(project);
    throwAll(dirs.flatMap(removeTree), `removing the cgroups of project ${project}`);
    for (const d of dirs) removeIfUnused(path.dirname(d));
  }

  stats(project: string, containerId: string): CgroupStats {
    const dir = this.requireContainer(project, containerId);
    const out: CgroupStats = { cpu: cpuStats(dir) };
    const memory = memoryStats(dir);
    if (memory !== undefined) out.memory = memory;
    const pids = pidsStats(dir);
    if (pids !== undefined) out.pids = pids;
    return out;
  }

  pids(project: string, containerId: string): number[] {
    return pidsInTree(this.requireContainer(project, containerId));
  }

  private requireContainer(project: string, containerId: string): string {
    const dir = path.join(this.mountRoot, containerCgroupPath(project, containerId));
    if (!exists(dir)) {
      throw new StackError(`no cgroup for container ${containerId} of project ${project} (${dir} does not exist)`, {
        kind: 'not-found',
        hint: 'the container is not running, or its runtime already removed its cgroup',
      });
    }
    return dir;
  }
}

/**
 * Adds the missing controllers to dir's cgroup.subtree_control. One write first (the usual
 * case); if the kernel refuses it, one write per controller, so the error names the controller
 * and the others still get enabled.
 */
function enableControllers(dir: string, wanted: string[]): void {
  const file = path.join(dir, 'cgroup.subtree_control');
  const enabled = words(readOptional(file) ?? '');
  const missing = wanted.filter((c) => !enabled.includes(c));
  if (missing.length === 0) return;
  try {
    writeText(file, missing.map((c) => `+${c}`).join(' '));
    return;
  } catch {
    // retried one by one below, to name the controller at fault
  }
  const errors: StackError[] = [];
  for (const c of missing) {
    try {
      writeText(file, `+${c}`);
    } catch (e) {
      const cause = (e as StackError).cause;
      errors.push(cgroupError('enable controller', `${c} in ${file}`, cause, undefined,
        'EBUSY here means the cgroup holds processes itself (cgroup v2 allows controllers only in cgroups ' +
        'without processes of their own); inside a container, move its processes into a child cgroup first'));
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) {
    throw new StackError(`cannot enable controllers in ${file}:\n${errors.map((e) => `  ${e.message}`).join('\n')}`, {
      kind: 'system', cause: new AggregateError(errors), hint: errors[0]!.hint,
    });
  }
}

/** Absent when the memory controller is not enabled for this cgroup. */
function memoryStats(dir: string): MemoryStats | undefined {
  const file = (name: string) => path.join(dir, name);
  const current = readOptional(file('memory.current'));
  if (current === undefined) return undefined;
  const stats: MemoryStats = {
    usage: parseNumber(current, file('memory.current')),
    oomKills: parseFlatKeyed(readText(file('memory.events'))).get('oom_kill') ?? 0,
  };
  const limit = parseLimit(readText(file('memory.max')), file('memory.max'));
  if (limit !== undefined) stats.limit = limit;
  const peak = readOptional(file('memory.peak')); // Linux 5.19+
  if (peak !== undefined) stats.maxUsage = parseNumber(peak, file('memory.peak'));
  const inactive = parseFlatKeyed(readText(file('memory.stat'))).get('inactive_file');
  if (inactive !== undefined) stats.inactiveFile = inactive;
  return stats;
}

/** cpu.stat exists in every v2 cgroup; the throttling keys only with the cpu controller. */
function cpuStats(dir: string): CpuStats {
  const stat = parseFlatKeyed(readText(path.join(dir, 'cpu.stat')));
  const us = (key: string) => (stat.get(key) ?? 0) * 1000;
  const stats: CpuStats = {
    usageNs: us('usage_usec'),
    periods: stat.get('nr_periods') ?? 0,
    throttledPeriods: stat.get('nr_throttled') ?? 0,
    throttledNs: us('throttled_usec'),
  };
  if (stat.has('user_usec')) stats.userNs = us('user_usec');
  if (stat.has('system_usec')) stats.systemNs = us('system_usec');
  return stats;
}

function pidsStats(dir: string): PidsStats | undefined {
  const current = readOptional(path.join(dir, 'pids.current'));
  if (current === undefined) return undefined;
  const stats: PidsStats = { current: parseNumber(current, path.join(dir, 'pids.current')) };
  const limit = parseLimit(readText(path.join(dir, 'pids.max')), path.join(dir, 'pids.max'));
  if (limit !== undefined) stats.limit = limit;
  return stats;
}

function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => w !== '');
}
