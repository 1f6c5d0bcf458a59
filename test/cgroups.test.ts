import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCgroupManager, type CgroupManager } from '../engine/cgroups/cgroup-manager.js';
import { CGROUP_ROOT, checkContainerId, checkProjectName, containerCgroupPath } from '../engine/cgroups/cgroup-paths.js';
import { detectCgroupLayout, parseCgroupLayout, type CgroupLayout } from '../engine/cgroups/detect.js';
import { parseMountinfo } from '../engine/sys/mounts.js';
import { NoopCgroupManager } from '../engine/cgroups/noop-driver.js';
import { limitsFromService, toLinuxResources } from '../engine/cgroups/resources.js';
import { V1CgroupManager } from '../engine/cgroups/v1-driver.js';
import { V2CgroupManager } from '../engine/cgroups/v2-driver.js';
import { StackError } from '../engine/errors.js';
import type { Service } from '../engine/model/types.js';

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// mountinfo samples

/** a pure v2 host (Fedora, Debian 12, Ubuntu 22.04+) */
const UNIFIED = `\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
25 22 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

/** this VM: one v1 mount per controller (cpu and cpuacct apart), cgroup2 beside them */
const HYBRID = `\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** an older systemd host without cgroup2: `cpu,cpuacct` and `net_cls,net_prio` co-mounted */
const LEGACY = `\
24 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 24 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
29 24 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,net_cls,net_prio
30 24 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
31 24 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
32 24 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset,clone_children
`;

describe('cgroup layout detection', () => {
  test('unified: one cgroup2 mount, controllers from its cgroup.controllers', () => {
    const layout = parseCgroupLayout(UNIFIED, 'cpuset cpu io memory hugetlb pids rdma misc\n');
    assert.equal(layout.mode, 'unified');
    assert.equal(layout.unifiedMount, '/sys/fs/cgroup');
    assert.deepEqual(layout.unifiedControllers, ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc']);
    assert.equal(layout.v1.size, 0);
  });

  test('hybrid: v1 controllers each on their own mount, named hierarchies kept, cgroup2 beside', () => {
    const layout = parseCgroupLayout(HYBRID, 'hugetlb\n');
    assert.equal(layout.mode, 'hybrid');
    assert.equal(layout.unifiedMount, '/sys/fs/cgroup/unified');
    assert.deepEqual(layout.unifiedControllers, ['hugetlb']);
    assert.deepEqual(Object.fromEntries(layout.v1), {
      cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct', cpuset: '/sys/fs/cgroup/cpuset',
      memory: '/sys/fs/cgroup/memory', devices: '/sys/fs/cgroup/devices', freezer: '/sys/fs/cgroup/freezer',
      blkio: '/sys/fs/cgroup/blkio', pids: '/sys/fs/cgroup/pids', 'name=systemd': '/sys/fs/cgroup/systemd',
    });
  });

  test('legacy: co-mounted controllers share a mount point; flags are not controllers', () => {
    const layout = parseCgroupLayout(LEGACY);
    assert.equal(layout.mode, 'legacy');
    assert.equal(layout.unifiedMount, undefined);
    assert.equal(layout.v1.get('cpu'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1.get('cpuacct'), '/sys/fs/cgroup/cpu,cpuacct');
    assert.equal(layout.v1.get('net_prio'), '/sys/fs/cgroup/net_cls,net_prio');
    assert.equal(layout.v1.get('cpuset'), '/sys/fs/cgroup/cpuset');
    assert.equal(layout.v1.get('name=systemd'), '/sys/fs/cgroup/systemd');
    for (const flag of ['rw', 'xattr', 'clone_children', 'release_agent=/lib/systemd/systemd-cgroups-agent']) {
      assert.equal(layout.v1.has(flag), false, flag);
    }
  });

  test('no cgroup mounts: mode none, and the factory gives the no-op driver', () => {
    const layout = parseCgroupLayout('22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n');
    assert.equal(layout.mode, 'none');
    const manager = createCgroupManager(layout);
    assert.ok(manager instanceof NoopCgroupManager);
    manager.ensureProject('p1');
    manager.removeProject('p1');
    assert.deepEqual(manager.stats('p1', 'c1'), {});
    assert.deepEqual(manager.pids('p1', 'c1'), []);
    assert.equal(manager.containerPath('p1', 'c1'), '/stack/p1/c1');
    assert.throws(() => manager.ensureProject('../x'), StackError);
  });

  test('the factory picks v2 for unified, v1 for hybrid and legacy', () => {
    assert.ok(createCgroupManager(parseCgroupLayout(UNIFIED)) instanceof V2CgroupManager);
    assert.ok(createCgroupManager(parseCgroupLayout(HYBRID)) instanceof V1CgroupManager);
    assert.ok(createCgroupManager(parseCgroupLayout(LEGACY)) instanceof V1CgroupManager);
  });

  test('escaped mount points are decoded; a bind of a subtree loses to the whole hierarchy', () => {
    const text = `\
40 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 31 0:32 / /mnt/cg\\040mem rw shared:3 master:1 - cgroup cgroup rw,memory
`;
    const [first, second] = parseMountinfo(text);
    assert.equal(first!.root, '/docker/abc');
    assert.equal(second!.mountPoint, '/mnt/cg mem');
    assert.equal(parseCgroupLayout(text).v1.get('memory'), '/mnt/cg mem');
  });

  test('detectCgroupLayout reads cgroup.controllers through the reader it is given', () => {
    const asked: string[] = [];
    const layout = detectCgroupLayout(UNIFIED, (mount) => {
      asked.push(mount);
      return 'memory pids';
    });
    assert.deepEqual(asked, ['/sys/fs/cgroup']);
    assert.deepEqual(layout.unifiedControllers, ['memory', 'pids']);
  });
});

// ---------------------------------------------------------------------------------------------
// resources

function svc(extra: Partial<Service> = {}): Service {
  return { name: 'web', image: 'x', profiles: [], environment: {}, labels: {}, depends_on: {}, ports: [], volumes: [], extra: {}, extensions: {}, ...extra };
}

describe('resource limits from a service', () => {
  test('no resource keys: no limits, no linux.resources sections', () => {
    assert.deepEqual(limitsFromService(svc()), {});
    assert.deepEqual(toLinuxResources(limitsFromService(svc())), {});
  });

  test('cpus is a CFS quota per 100 ms period', () => {
    const limits = limitsFromService(svc({ cpus: 0.5 }));
    assert.deepEqual(limits, { cpuQuota: 50000, cpuPeriod: 100000 });
    assert.deepEqual(toLinuxResources(limits), { cpu: { quota: 50000, period: 100000 } });
    assert.equal(limitsFromService(svc({ cpus: 1.5 })).cpuQuota, 150000);
    assert.equal(limitsFromService(svc({ cpus: 0.333 })).cpuQuota, 33300);
  });

  test('cpus cannot be combined with cpu_quota/cpu_period, nor be below 0.01', () => {
    assert.throws(() => limitsFromService(svc({ cpus: 1, cpu_quota: 50000 })), /cannot be combined/);
    assert.throws(() => limitsFromService(svc({ cpus: 0.001 })), /at least 0.01/);
    assert.deepEqual(limitsFromService(svc({ cpu_quota: 25000, cpu_period: 50000, cpu_shares: 512, cpuset: '0-1,3' })),
      { cpuQuota: 25000, cpuPeriod: 50000, cpuShares: 512, cpusetCpus: '0-1,3' });
    assert.throws(() => limitsFromService(svc({ cpu_period: 500 })), /between 1000 and 1000000/);
    assert.throws(() => limitsFromService(svc({ cpuset: '0;1' })), /cpuset/);
  });

  test('deploy.resources limits and reservations apply when the top-level keys are absent', () => {
    const limits = limitsFromService(svc({
      deploy: { resources: { limits: { cpus: 0.25, memory: 256 * MiB, pids: 100 }, reservations: { memory: 64 * MiB } } },
    }));
    assert.deepEqual(limits, {
      memory: 256 * MiB, memoryReservation: 64 * MiB, memorySwap: 512 * MiB, cpuQuota: 25000, cpuPeriod: 100000, pidsLimit: 100,
    });
    assert.deepEqual(toLinuxResources(limits), {
      memory: { limit: 256 * MiB, reservation: 64 * MiB, swap: 512 * MiB },
      cpu: { quota: 25000, period: 100000 },
      pids: { limit: 100 },
    });
  });

  test('top-level and deploy keys: the same value is fine, different values are an error', () => {
    assert.equal(limitsFromService(svc({ mem_limit: 128 * MiB, deploy: { resources: { limits: { memory: 128 * MiB } } } })).memory, 128 * MiB);
    assert.throws(() => limitsFromService(svc({ cpus: 1, deploy: { resources: { limits: { cpus: 2 } } } })),
      (e: unknown) => e instanceof StackError && e.kind === 'invalid' && e.path === 'services.web.cpus' &&
        /can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus'/.test(e.message));
    assert.throws(() => limitsFromService(svc({ pids_limit: 10, deploy: { resources: { limits: { pids: 20 } } } })), /pids_limit/);
  });

  test('memswap_limit is memory + swap; unset means swap up to the memory limit again; -1 unlimited', () => {
    assert.equal(limitsFromService(svc({ mem_limit: 100 * MiB, memswap_limit: 300 * MiB })).memorySwap, 300 * MiB);
    assert.equal(limitsFromService(svc({ mem_limit: 100 * MiB, memswap_limit: 100 * MiB })).memorySwap, 100 * MiB, 'equal: no swap');
    assert.equal(limitsFromService(svc({ mem_limit: 100 * MiB })).memorySwap, 200 * MiB);
    assert.equal(limitsFromService(svc({ mem_limit: 100 * MiB, memswap_limit: -1 })).memorySwap, -1);
    assert.equal(limitsFromService(svc({ mem_limit: 100 * MiB }), { swapAccounting: false }).memorySwap, undefined);
    assert.throws(() => limitsFromService(svc({ mem_limit: 100 * MiB, memswap_limit: 50 * MiB })), /at least the memory limit/);
    assert.throws(() => limitsFromService(svc({ memswap_limit: 50 * MiB })), /needs a memory limit/);
  });

  test('memory bounds, reservation, swappiness and the OOM killer', () => {
    assert.throws(() => limitsFromService(svc({ mem_limit: 1 * MiB })), /below the minimum of 6 MiB/);
    assert.throws(() => limitsFromService(svc({ mem_limit: 64 * MiB, mem_reservation: 128 * MiB })), /mem_reservation/);
    const limits = limitsFromService(svc({ mem_limit: 64 * MiB, memswap_limit: 64 * MiB, mem_swappiness: 10, oom_kill_disable: true }));
    assert.deepEqual(toLinuxResources(limits).memory, { limit: 64 * MiB, swap: 64 * MiB, swappiness: 10, disableOOMKiller: true });
    assert.equal(limitsFromService(svc({ mem_swappiness: -1 })).memorySwappiness, undefined, '-1 is the host default');
    assert.throws(() => limitsFromService(svc({ mem_swappiness: 101 })), /between 0 and 100/);
  });

  test('pids_limit: positive is a limit, 0 and -1 are unlimited', () => {
    assert.deepEqual(toLinuxResources(limitsFromService(svc({ pids_limit: 50 }))), { pids: { limit: 50 } });
    assert.deepEqual(limitsFromService(svc({ pids_limit: -1 })), {});
    assert.deepEqual(limitsFromService(svc({ pids_limit: 0 })), {});
  });
});

// ---------------------------------------------------------------------------------------------
// names and paths

describe('cgroup paths', () => {
  test('absolute paths under the one root', () => {
    assert.equal(CGROUP_ROOT, '/stack');
    assert.equal(containerCgroupPath('my_proj-1', 'web-1.abc'), '/stack/my_proj-1/web-1.abc');
  });

  test('names that could leave the hierarchy or hit a kernel file are refused', () => {
    for (const bad of ['', '..', 'a/b', 'Web', 'a b', 'tasks', 'p\n']) {
      assert.throws(() => checkProjectName(bad), (e: unknown) => e instanceof StackError && e.kind === 'invalid', JSON.stringify(bad));
    }
    for (const bad of ['', '.', '..', '../x', 'a/b', 'x'.repeat(256), 'cgroup.procs', 'memory.limit_in_bytes', 'tasks', 'a\0b']) {
      assert.throws(() => checkContainerId(bad), (e: unknown) => e instanceof StackError && e.kind === 'invalid', JSON.stringify(bad));
    }
    for (const good of ['web-1', 'a.b', '...', 'ABC_123', '0123abcdef']) checkContainerId(good);
  });
});

// ---------------------------------------------------------------------------------------------
// v2 driver against a directory laid out like a cgroup2 mount. This host is v1/hybrid and its
// cgroup2 mount offers only hugetlb, so the driver cannot run against a real unified hierarchy
// here. The fake checks which files the driver writes and how it reads them; what it cannot
// show is the kernel's side (files appearing on mkdir, controllers actually enabled, EBUSY),
// which a unified host covers.

describe('v2 driver (on a temporary directory shaped like a unified hierarchy)', () => {
  let root: string;
  let manager: V2CgroupManager;
  const layout: CgroupLayout = { mode: 'unified', v1: new Map(), unifiedControllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] };

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'stack-cgroup2-'));
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids\n');
    writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
    manager = new V2CgroupManager({ ...layout, unifiedMount: root }, root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** What a real cgroup directory shows for a container (written here, as the kernel would). */
  function fakeContainer(id: string, procs: string): string {
    const dir = path.join(root, 'stack', 'p1', id);
    mkdirSync(dir, { recursive: true });
    const files: Record<string, string> = {
      'cgroup.procs': procs,
      'memory.current': '1048576\n',
      'memory.max': '67108864\n',
      'memory.peak': '2097152\n',
      'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n',
      'memory.stat': 'anon 524288\nfile 524288\ninactive_file 262144\n',
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 300\n',
      'pids.current': '2\n',
      'pids.max': 'max\n',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    return dir;
  }

  /** The kernel drops interface files with the cgroup; a plain directory needs them unlinked. */
  function kernelEmpties(dir: string): void {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isFile()) unlinkSync(path.join(dir, e.name));
  }

  test('ensureProject makes the parent and enables the offered controllers down to it', () => {
    manager.ensureProject('p1');
    assert.ok(statSync(path.join(root, 'stack', 'p1')).isDirectory());
    const want = '+cpuset +cpu +io +memory +hugetlb +pids';
    assert.equal(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8'), want);
    assert.equal(readFileSync(path.join(root, 'stack', 'cgroup.subtree_control'), 'utf8'), want);
    assert.equal(readFileSync(path.join(root, 'stack', 'p1', 'cgroup.subtree_control'), 'utf8'), want);
    assert.deepEqual(manager.directories('p1'), [path.join(root, 'stack', 'p1')]);
  });

  test('controllers already enabled are not written again', () => {
    const file = path.join(root, 'stack', 'cgroup.subtree_control');
    writeFileSync(file, 'cpuset cpu io memory pids\n'); // how the kernel shows it; hugetlb missing
    manager.ensureProject('p1');
    assert.equal(readFileSync(file, 'utf8'), '+hugetlb');
  });

  test('a refused subtree_control write names the file, each controller and the errno', () => {
    const other = mkdtempSync(path.join(tmpdir(), 'stack-cgroup2-'));
    try {
      writeFileSync(path.join(other, 'cgroup.controllers'), 'memory pids\n');
      // a dangling link: reads as absent, writes fail with ENOENT, as a refused write would fail
      symlinkSync(path.join(other, 'missing', 'file'), path.join(other, 'cgroup.subtree_control'));
      const m = new V2CgroupManager({ ...layout, unifiedMount: other }, other);
      assert.throws(() => m.ensureProject('p1'), (e: unknown) =>
        e instanceof StackError && e.kind === 'system' &&
        e.message.includes(`cannot enable controller memory in ${path.join(other, 'cgroup.subtree_control')}: ENOENT`) &&
        e.message.includes('controller pids'));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('stats and pids read the v2 files, including sub-cgroups for pids', () => {
    const dir = fakeContainer('c1', '101\n102\n');
    mkdirSync(path.join(dir, 'inner'));
    writeFileSync(path.join(dir, 'inner', 'cgroup.procs'), '103\n');
    assert.deepEqual(manager.stats('p1', 'c1'), {
      memory: { usage: 1048576, limit: 67108864, maxUsage: 2097152, inactiveFile: 262144, oomKills: 1 },
      cpu: { usageNs: 1_500_000, userNs: 1_000_000, systemNs: 500_000, periods: 10, throttledPeriods: 2, throttledNs: 300_000 },
      pids: { current: 2 },
    });
    assert.deepEqual(manager.pids('p1', 'c1').sort(), [101, 102, 103]);
    assert.throws(() => manager.stats('p1', 'nope'), (e: unknown) => e instanceof StackError && e.kind === 'not-found');
  });

  test('removeContainer refuses while processes remain, naming them; succeeds once empty', () => {
    const dir = path.join(root, 'stack', 'p1', 'c1');
    assert.throws(() => manager.removeContainer('p1', 'c1'), (e: unknown) =>
      e instanceof StackError && e.kind === 'system' && e.message.includes('processes still in it: 103'));
    kernelEmpties(path.join(dir, 'inner'));
    kernelEmpties(dir);
    manager.removeContainer('p1', 'c1');
    assert.equal(existsSync(dir), false);
    manager.removeContainer('p1', 'c1'); // already gone: fine
  });

  test('removeProject keeps going past busy cgroups and reports them all together', () => {
    fakeContainer('busy1', '201\n');
    fakeContainer('busy2', '202\n');
    const idle = path.join(root, 'stack', 'p1', 'idle');
    mkdirSync(idle);
    assert.throws(() => manager.removeProject('p1'), (e: unknown) =>
      e instanceof StackError && e.kind === 'system' && e.cause instanceof AggregateError &&
      e.message.includes('processes still in it: 201') && e.message.includes('processes still in it: 202'));
    assert.equal(existsSync(idle), false, 'the idle sibling was removed despite the others');
    for (const id of ['busy1', 'busy2']) kernelEmpties(path.join(root, 'stack', 'p1', id));
    kernelEmpties(path.join(root, 'stack', 'p1'));
    manager.removeProject('p1');
    assert.equal(existsSync(path.join(root, 'stack', 'p1')), false);
    manager.removeProject('p1');
  });
});

// ---------------------------------------------------------------------------------------------
// v1 driver on this host's real hierarchy: real mkdir/rmdir on cgroupfs, a real process moved
// in, real kernel counters.

const hostLayout = (() => {
  try {
    return detectCgroupLayout();
  } catch {
    return undefined;
  }
})();
const v1Skip = process.platform !== 'linux' ? 'not Linux'
  : process.getuid?.() !== 0 ? 'needs root'
  : hostLayout === undefined || (hostLayout.mode !== 'hybrid' && hostLayout.mode !== 'legacy') ? 'host has no cgroup v1 hierarchy'
  : !['memory', 'pids', 'cpuacct', 'cpuset'].every((c) => hostLayout.v1.has(c)) ? 'host lacks a v1 controller the test uses'
  : false;

describe('v1 driver on the host hierarchy', { skip: v1Skip }, () => {
  const project = `stack-test-${process.pid}-${Date.now().toString(36)}`;
  const id = 'c1';
  let manager: CgroupManager;
  let child: ChildProcess | undefined;
  let childExit: Promise<unknown> | undefined;

  before(() => {
    manager = createCgroupManager(hostLayout);
  });

  after(async () => {
    // Clean up even when an assertion failed: kill our process, then remove what is left,
    // deepest first, without trusting the driver under test.
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await childExit;
    }
    for (const dir of projectDirs()) removeLeftovers(dir);
  });

  /** Every /sys/fs/cgroup/<hierarchy>/stack/<project> the test could have made. */
  function projectDirs(): string[] {
    const mounts = new Set([...hostLayout!.v1.values(), ...(hostLayout!.unifiedMount ? [hostLayout!.unifiedMount] : [])]);
    return [...mounts].map((m) => path.join(m, CGROUP_ROOT, project));
  }

  function removeLeftovers(dir: string): void {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeLeftovers(path.join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // best effort
    }
  }

  const v1Dir = (controller: string) => path.join(hostLayout!.v1.get(controller)!, containerCgroupPath(project, id));

  test('the host is detected as it is mounted', () => {
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const mount of new Set(hostLayout!.v1.values())) assert.ok(mountinfo.includes(` ${mount} `), mount);
  });

  test('ensureProject creates the parent in every hierarchy, usable by cpuset', () => {
    manager.ensureProject(project);
    manager.ensureProject(project); // idempotent
    const dirs = manager.directories(project);
    assert.deepEqual(dirs.sort(), projectDirs().sort());
    for (const dir of dirs) assert.ok(statSync(dir).isDirectory(), dir);
    const cpuset = path.join(hostLayout!.v1.get('cpuset')!, CGROUP_ROOT, project);
    assert.notEqual(readFileSync(path.join(cpuset, 'cpuset.cpus'), 'utf8').trim(), '');
    assert.notEqual(readFileSync(path.join(cpuset, 'cpuset.mems'), 'utf8').trim(), '');
  });

  test('a process in the container cgroup shows in stats and pids', async () => {
    // What the runtime would do: make the leaf in every hierarchy, write the limits, move in.
    for (const dir of manager.directories(project, id)) mkdirSync(dir);
    writeFileSync(path.join(v1Dir('memory'), 'memory.limit_in_bytes'), String(64 * MiB));
    writeFileSync(path.join(v1Dir('pids'), 'pids.max'), '10');
    // `sleep` execs only after it has been moved: charges made before a move stay with the old
    // memory cgroup, so a process moved while idle would show 0 bytes used.
    child = spawn('sh', ['-c', 'read _ && exec sleep 30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    childExit = new Promise((resolve) => child!.once('exit', resolve));
    const pid = child.pid!;
    for (const dir of manager.directories(project, id)) writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    child.stdin!.end('go\n');
    // asleep in `sleep`: the exec is done, and descheduling has charged its CPU time
    await waitFor(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep') &&
      /^\d+ \(sleep\) S /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));

    const stats = manager.stats(project, id);
    assert.ok(stats.memory!.usage > 0, `memory usage ${stats.memory!.usage}`);
    assert.equal(stats.memory!.limit, 64 * MiB);
    assert.ok(stats.memory!.maxUsage! >= stats.memory!.usage);
    assert.equal(stats.memory!.oomKills, 0);
    assert.equal(stats.pids!.current, 1);
    assert.equal(stats.pids!.limit, 10);
    assert.ok(stats.cpu!.usageNs > 0);
    assert.deepEqual(manager.pids(project, id), [pid]);
  });

  test('removing with a live process fails, naming the cgroup, the errno and the process', () => {
    const pid = child!.pid!;
    const memoryDir = v1Dir('memory');
    assert.throws(() => manager.removeContainer(project, id), (e: unknown) =>
      e instanceof StackError && e.kind === 'system' &&
      e.message.includes(`cannot remove cgroup ${memoryDir}: EBUSY (processes still in it: ${pid})`));
    assert.throws(() => manager.removeProject(project), (e: unknown) =>
      e instanceof StackError && e.message.includes(`cannot remove cgroup ${memoryDir}: EBUSY (processes still in it: ${pid})`));
    assert.ok(existsSync(memoryDir), 'nothing was killed or removed from under the process');
    assert.equal(child!.exitCode, null);
  });

  test('after the process is gone, removeContainer and removeProject leave nothing', async () => {
    child!.kill('SIGKILL');
    await childExit;
    manager.removeContainer(project, id);
    for (const dir of manager.directories(project, id)) assert.equal(existsSync(dir), false, dir);
    assert.throws(() => manager.stats(project, id), (e: unknown) => e instanceof StackError && e.kind === 'not-found');
    manager.removeProject(project);
    const left = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, CGROUP_ROOT, project)).filter((d) => existsSync(d));
    assert.deepEqual(left, []);
    for (const dir of projectDirs()) assert.equal(existsSync(dir), false, dir);
    manager.removeProject(project); // gone already: fine
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (check()) return;
    } catch {
      // not there yet
    }
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
