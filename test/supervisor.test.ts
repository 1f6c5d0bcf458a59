/**
 * A project's supervisor as a real process over real containers (busybox, runc, no
 * network): restart policies applied to exits, healthchecks run on their schedule, one
 * supervisor however many commands ask, a supervisor killed and started again catching up
 * on what happened meanwhile, and the supervisor gone with the project's last container.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCgroupManager } from '../engine/cgroups/cgroup-manager.js';
import { loadProject, type Project } from '../engine/index.js';
import { ContainerFactory, type ImageRef } from '../engine/runtime/container-factory.js';
import type { EnginePaths } from '../engine/runtime/paths.js';
import { readHealth } from '../engine/supervisor/health.js';
import { ensureSupervisor, supervisorLogFile, supervisorPid, supervisorPidFile } from '../engine/supervisor/supervisor-control.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { testRuntimes } from './support/host.js';

const COMPOSE = `
services:
  never:
    image: busybox
    restart: "no"
    command: ["sh", "-c", "echo ran; exit 1"]
  twice:
    image: busybox
    restart: on-failure:2
    command: ["sh", "-c", "echo ran; exit 3"]
  always:
    image: busybox
    restart: always
    command: ["sh", "-c", "echo ran; exit 0"]
  steady:
    image: busybox
    restart: unless-stopped
    command: ["sleep", "60"]
  deploy:
    image: busybox
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 1}
    command: ["sh", "-c", "echo ran; exit 1"]
  ready:
    image: busybox
    command: ["sh", "-c", "sleep 0.6; touch /tmp/ready; exec sleep 60"]
    healthcheck:
      test: test -f /tmp/ready
      interval: 300ms
      start_period: 5s
      start_interval: 100ms
  sick:
    image: busybox
    command: ["sleep", "60"]
    healthcheck:
      test: ["CMD", "sh", "-c", "echo not yet; exit 1"]
      interval: 100ms
      retries: 3
  slow:
    image: busybox
    command: ["sleep", "60"]
    healthcheck:
      test: ["CMD", "sleep", "30"]
      interval: 100ms
      timeout: 200ms
      retries: 2
  crash:
    image: busybox
    restart: always
    command: ["sleep", "60"]
`;

const runtime = testRuntimes()[0]!;

describe('the project supervisor', () => {
  let base: string;
  let paths: EnginePaths;
  let factory: ContainerFactory;
  let project: Project;
  let image: ImageRef;

  before(() => {
    base = mkdtempSync(path.join(tmpdir(), 'stack-sup-'));
    const dir = path.join(base, `sup${process.pid}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
    project = loadProject({ cwd: dir, env: {} }).project;
    image = { layers: [makeBusyboxRootfs(path.join(base, 'image'))], config: { Cmd: ['sh'], Env: ['PATH=/bin'] } };
    paths = { stateDir: path.join(base, 'state'), runDir: path.join(base, 'run') };
    factory = new ContainerFactory(paths, createCgroupManager());
  });

  after(async () => {
    try {
      // before() may have failed half way
      if (factory) {
        for (const id of factory.containers.list()) await factory.containers.remove(id, { force: true }).catch(() => undefined);
        for (const pid of supervisors()) process.kill(pid, 'SIGKILL');
        factory.cgroups.removeProject(project.name);
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  /** supervisor processes of this project, from /proc */
  const supervisors = () =>
    processes().filter((argv) => argv.some((a) => a.endsWith('supervisor/main.js')) && argv.includes(project.name) && argv.includes(paths.runDir)).map((argv) => Number(argv[0]));

  const up = async (service: string): Promise<string> => {
    const { record } = await factory.create({ project, service: project.services[service]!, image, number: 1, network: { kind: 'none' }, runtime });
    await factory.containers.start(record.id);
    return record.id;
  };
  const runs = (id: string) => factory.containers.logs(id).filter((l) => l.text === 'ran').length;

  test('restart policies: no, on-failure:2, always, deploy.restart_policy; a user\'s stop holds always and unless-stopped off', async () => {
    const [never, twice, always, steady, deploy] = await Promise.all(['never', 'twice', 'always', 'steady', 'deploy'].map(up));
    await Promise.all([ensureSupervisor(paths, project.name), ensureSupervisor(paths, project.name)]);
    assert.equal(supervisors().length, 1, 'two concurrent callers start one supervisor');
    const pid = supervisorPid(paths, project.name);
    assert.deepEqual(supervisors(), [pid]);

    await waitFor(() => factory.containers.runState(always!).restartCount >= 3);
    await waitFor(() => factory.containers.runState(twice!).restartCount === 2 && factory.containers.exitStatus(twice!) !== undefined);
    await waitFor(() => factory.containers.runState(deploy!).restartCount === 1 && factory.containers.exitStatus(deploy!) !== undefined);
    await factory.containers.stop(always!);
    await factory.containers.stop(steady!, { gracePeriod: 100 });
    const alwaysRuns = runs(always!);
    // longer than the backoff any of them would wait now (on-failure's third: 400 ms)
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(runs(never!), 1, 'no: never restarted');
    assert.equal(runs(twice!), 3, 'on-failure:2: two restarts, then left exited');
    assert.deepEqual(factory.containers.exitStatus(twice!), { code: 3, oomKilled: false });
    assert.equal(runs(deploy!), 2, 'deploy.restart_policy on-failure with max_attempts 1');
    assert.equal(runs(always!), alwaysRuns, 'always: not restarted after the user stopped it');
    assert.equal(await factory.containers.status(always!), 'exited');
    assert.equal(await factory.containers.status(steady!), 'exited', 'unless-stopped: not restarted after the user stopped it');

    // the user's start lifts the stop: always restarts it again, its count from zero
    await factory.containers.start(always!);
    await waitFor(() => runs(always!) >= alwaysRuns + 2);
    await factory.containers.stop(always!);
    assert.deepEqual(supervisors(), [pid], 'the same supervisor all along');
  });

  test('healthchecks: starting then healthy; failing ones unhealthy after their retries; a test past its timeout is killed', async () => {
    const [ready, sick, slow] = await Promise.all(['ready', 'sick', 'slow'].map(up));
    await ensureSupervisor(paths, project.name);
    assert.equal(readHealth(paths, ready!)?.status, 'starting');
    await waitFor(() => readHealth(paths, ready!)?.status === 'healthy');
    const ok = readHealth(paths, ready!)!;
    // start_interval probes failed while the file was missing, and did not count
    assert.equal(ok.log.at(-1)!.exitCode, 0);
    assert.ok(ok.log.slice(0, -1).every((r) => r.exitCode === 1), JSON.stringify(ok.log));

    await waitFor(() => readHealth(paths, sick!)?.status === 'unhealthy');
    const bad = readHealth(paths, sick!)!;
    assert.ok(bad.failingStreak >= 3);
    assert.deepEqual(bad.log.at(-1)!.output, 'not yet');

    await waitFor(() => readHealth(paths, slow!)?.status === 'unhealthy');
    const late = readHealth(paths, slow!)!.log.at(-1)!;
    assert.deepEqual([late.exitCode, late.output], [-1, 'Health check exceeded timeout (200ms)']);
    assert.ok(factory.cgroups.pids(project.name, slow!).length <= 2, 'timed-out tests do not pile up in the container');

    assert.equal(readHealth(paths, factory.containers.list().find((id) => id.includes('-never-'))!), undefined, 'no healthcheck: no health');
    for (const id of [ready!, sick!, slow!]) await factory.containers.stop(id, { gracePeriod: 100 });
  });

  test('a supervisor killed with SIGKILL is replaced by the next command, which catches up on exits it missed', async () => {
    const crash = await up('crash');
    await ensureSupervisor(paths, project.name);
    const old = supervisorPid(paths, project.name)!;
    process.kill(old, 'SIGKILL');
    await waitFor(() => !supervisors().includes(old));
    // the container dies on its own (not a stop by the user) while nobody supervises
    process.kill(factory.containers.pid(crash)!, 'SIGKILL');
    await factory.containers.wait(crash, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await factory.containers.status(crash), 'exited');

    await ensureSupervisor(paths, project.name);
    const pid = supervisorPid(paths, project.name);
    assert.ok(pid !== undefined && pid !== old);
    await waitFor(async () => (await factory.containers.status(crash)) === 'running');
    assert.equal(factory.containers.runState(crash).restartCount, 1);
    await factory.containers.stop(crash, { gracePeriod: 100 });
  });

  test('the supervisor exits with the project\'s last container, leaving no process and no file of the project', async () => {
    const pid = supervisorPid(paths, project.name)!;
    assert.ok(pid);
    const ids = factory.containers.list();
    const conmons = ids.map((id) => factory.containers.pid(id));
    for (const id of ids) await factory.containers.remove(id, { force: true });
    // nobody tells it: the watch on the containers' run dirs and its rescans do
    await waitFor(() => supervisors().length === 0);
    assert.ok(!existsSync(supervisorPidFile(paths, project.name)), 'its pid file is gone');
    assert.ok(!readdirSync(path.dirname(supervisorPidFile(paths, project.name))).some((f) => f.startsWith(project.name)));
    assert.deepEqual(processes().filter((argv) => argv.some((a) => a.includes(paths.runDir) || a.includes(paths.stateDir))), [], 'no conmon, runtime or exec process is left');
    assert.ok(conmons.every((p) => p === undefined || !existsSync(`/proc/${p}`)));
    assert.equal(readFileSync(supervisorLogFile(paths), 'utf8'), '', 'nothing was logged: no real problem happened');

    // with no container, asking for a supervisor starts none
    await ensureSupervisor(paths, project.name);
    assert.deepEqual(supervisors(), []);
  });
});

/** argv of every process, its pid first */
function processes(): string[][] {
  const out: string[][] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (argv.length > 0 && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') out.push([entry, ...argv]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`condition not met in time: ${cond.toString()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
