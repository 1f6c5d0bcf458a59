/**
 * The cgroup v1 driver (legacy and hybrid hosts). Each controller is its own hierarchy, so a
 * cgroup is one directory per mount point (co-mounted controllers such as `cpu,cpuacct`
 * share one). Reads and writes only v1 files: memory.*_in_bytes, cpuacct.*, cpu.stat,
 * pids.*, cpuset.*, cgroup.procs.
 */
import path from 'node:path';
import { StackError } from '../errors.js';
import type { CgroupManager, CgroupStats, CpuStats, MemoryStats, PidsStats } from './cgroup-manager.js';
import { CGROUP_ROOT, CgroupNaming, containerCgroupPath, projectCgroupPath } from './cgroup-paths.js';
import { exists, makeDir, pidsInTree, readOptional, readText, removeIfUnused, removeTree, throwAll, writeText } from './cgroup-fs.js';
import type { CgroupLayout } from './detect.js';
import { parseFlatKeyed, parseLimit, parseNumber } from './stat-files.js';

/** Where `pids()` looks first: any hierarchy works because runtimes join them all. */
const PIDS_SOURCES = ['pids', 'memory', 'devices', 'freezer', 'cpu', 'cpuacct'];

export class V1CgroupManager extends CgroupNaming implements CgroupManager {
  constructor(readonly layout: CgroupLayout) {
    super();
  }

  directories(project: string, containerId?: string): string[] {
    const cg = containerId === undefined ? projectCgroupPath(project) : containerCgroupPath(project, containerId);
    return this.hierarchies().map((mount) => path.join(mount, cg));
  }

  ensureProject(project: string): void {
    const cg = projectCgroupPath(project);
    for (const mount of this.hierarchies()) makeDir(path.join(mount, cg));
    const cpuset = this.layout.v1.get('cpuset');
    if (cpuset !== undefined) prepareCpuset(cpuset, cg);
  }

  removeContainer(project: string, containerId: string): void {
    const dirs = this.directories(project, containerId);
    throwAll(dirs.flatMap(removeTree), `removing the cgroup of container ${containerId}`);
  }

  removeProject(project: string): void {
    const dirs = this.directories(project);
    throwAll(dirs.flatMap(removeTree), `removing the cgroups of project ${project}`);
    for (const d of dirs) removeIfUnused(path.dirname(d));
  }

  stats(project: string, containerId: string): CgroupStats {
    const cg = containerCgroupPath(project, containerId);
    this.requireContainer(cg, project, containerId);
    const out: CgroupStats = {};
    const memory = this.layout.v1.get('memory');
    if (memory !== undefined) out.memory = memoryStats(path.join(memory, cg));
    const cpuacct = this.layout.v1.get('cpuacct');
    if (cpuacct !== undefined) {
      const cpu = this.layout.v1.get('cpu');
      out.cpu = cpuStats(path.join(cpuacct, cg), cpu === undefined ? undefined : path.join(cpu, cg));
    }
    const pids = this.layout.v1.get('pids');
    if (pids !== undefined) out.pids = pidsStats(path.join(pids, cg));
    return out;
  }

  pids(project: string, containerId: string): number[] {
    const cg = containerCgroupPath(project, containerId);
    return pidsInTree(this.requireContainer(cg, project, containerId));
  }

  /**
   * Every hierarchy the runtime joins: each v1 mount once (named ones included) and, on a
   * hybrid host, the cgroup2 mount (runc puts the container there too).
   */
  private hierarchies(): string[] {
    const mounts = new Set(this.layout.v1.values());
    if (this.layout.unifiedMount !== undefined) mounts.add(this.layout.unifiedMount);
    return [...mounts];
  }

  /** The container's directory in the hierarchy `pids()` reads; not-found when it is missing. */
  private requireContainer(cg: string, project: string, containerId: string): string {
    const controller = PIDS_SOURCES.find((c) => this.layout.v1.has(c));
    const mount = controller !== undefined ? this.layout.v1.get(controller)! : this.hierarchies()[0];
    const dir = mount === undefined ? undefined : path.join(mount, cg);
    if (dir === undefined || !exists(dir)) {
      throw new StackError(`no cgroup for container ${containerId} of project ${project}${dir ? ` (${dir} does not exist)` : ''}`, {
        kind: 'not-found',
        hint: 'the container is not running, or its runtime already removed its cgroup',
      });
    }
    return dir;
  }
}

/**
 * A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and the kernel refuses
 * to put a process in it (ENOSPC). runc and crun fill the leaf from its parent but expect the
 * parents to be usable, so the engine fills `/stack` and `/stack/<project>` from their parents
 * and sets cgroup.clone_children on the project so any new child starts with its values.
 */
function prepareCpuset(mount: string, projectCg: string): void {
  for (const cg of [CGROUP_ROOT, projectCg]) {
    const dir = path.join(mount, cg);
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (readText(path.join(dir, file)).trim() !== '') continue;
      writeText(path.join(dir, file), readText(path.join(path.dirname(dir), file)).trim());
    }
  }
  writeText(path.join(mount, projectCg, 'cgroup.clone_children'), '1');
}

function memoryStats(dir: string): MemoryStats {
  const file = (name: string) => path.join(dir, name);
  const stats: MemoryStats = {
    usage: parseNumber(readText(file('memory.usage_in_bytes')), file('memory.usage_in_bytes')),
    // oom_kill appears in memory.oom_control from Linux 4.13; older kernels cannot count kills
    oomKills: parseFlatKeyed(readText(file('memory.oom_control'))).get('oom_kill') ?? 0,
  };
  const limit = parseLimit(readText(file('memory.limit_in_bytes')), file('memory.limit_in_bytes'));
  if (limit !== undefined) stats.limit = limit;
  stats.maxUsage = parseNumber(readText(file('memory.max_usage_in_bytes')), file('memory.max_usage_in_bytes'));
  // total_* counts sub-cgroups too, which a container may have made
  const inactive = parseFlatKeyed(readText(file('memory.stat'))).get('total_inactive_file');
  if (inactive !== undefined) stats.inactiveFile = inactive;
  return stats;
}

function cpuStats(cpuacctDir: string, cpuDir: string | undefined): CpuStats {
  const usageFile = path.join(cpuacctDir, 'cpuacct.usage');
  const stats: CpuStats = {
    usageNs: parseNumber(readText(usageFile), usageFile),
    periods: 0,
    throttledPeriods: 0,
    throttledNs: 0,
  };
  // cpuacct.usage_user/_sys (Linux 4.7+) are in ns; cpuacct.stat would be in USER_HZ ticks
  const user = readOptional(path.join(cpuacctDir, 'cpuacct.usage_user'));
  const sys = readOptional(path.join(cpuacctDir, 'cpuacct.usage_sys'));
  if (user !== undefined) stats.userNs = parseNumber(user, path.join(cpuacctDir, 'cpuacct.usage_user'));
  if (sys !== undefined) stats.systemNs = parseNumber(sys, path.join(cpuacctDir, 'cpuacct.usage_sys'));
  if (cpuDir !== undefined) {
    const cpu = parseFlatKeyed(readText(path.join(cpuDir, 'cpu.stat')));
    stats.periods = cpu.get('nr_periods') ?? 0;
    stats.throttledPeriods = cpu.get('nr_throttled') ?? 0;
    stats.throttledNs = cpu.get('throttled_time') ?? 0;
  }
  return stats;
}

function pidsStats(dir: string): PidsStats {
  const current = path.join(dir, 'pids.current');
  const stats: PidsStats = { current: parseNumber(readText(current), current) };
  const limit = parseLimit(readText(path.join(dir, 'pids.max')), path.join(dir, 'pids.max'));
  if (limit !== undefined) stats.limit = limit;
  return stats;
}
