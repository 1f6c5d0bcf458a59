/**
 * Services of a stack file run as real containers, under crun and runc: the engine's
 * preparation (cgroups, volumes, /etc files, spec) checked from inside and outside the
 * container. Network is `none` here; networks have their own tests.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCgroupManager } from '../engine/cgroups/cgroup-manager.js';
import { loadProject, type Project } from '../engine/index.js';
import { ContainerFactory, type ImageRef } from '../engine/runtime/container-factory.js';
import type { RuntimeName } from '../engine/runtime/oci-runtime.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { testRuntimes } from './support/host.js';

/** docker's default bounding set (CHOWN ... AUDIT_WRITE), as /proc/<pid>/status prints it */
const DOCKER_DEFAULT_CAPS = '00000000a80425fb';

const COMPOSE = `
services:
  plain:
    image: busybox
    command: ["sh", "-c", "echo pid=$$$$; hostname; grep -E '^(CapBnd|CapEff|Seccomp):' /proc/self/status; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo done"]
  user:
    image: busybox
    user: app
    command: ["id"]
  readonly:
    image: busybox
    read_only: true
    tmpfs: [/scratch]
    command: ["sh", "-c", "touch /file 2>/dev/null && echo wrote-root; touch /scratch/ok && echo wrote-tmpfs"]
  oom:
    image: busybox
    mem_limit: 32m
    memswap_limit: 32m
    command: ["sh", "-c", "x=$$(head -c 200000000 /dev/zero | tr '\\\\0' a); echo survived"]
  pids:
    image: busybox
    pids_limit: 8
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 3 & done 2>&1; wait"]
  cpu:
    image: busybox
    cpus: 0.5
    command: ["sleep", "30"]
  init:
    image: busybox
    init: true
    command: ["sh", "-c", "(sleep 0.2 &); sleep 1; cat /proc/1/cmdline | tr '\\\\0' ' '; echo; ps -o stat | grep -c '^Z' || true"]
  writer:
    image: busybox
    volumes: [data:/var/data]
    command: ["sh", "-c", "cat /var/data/seed.txt; echo second > /var/data/more.txt"]
  reader:
    image: busybox
    volumes: [data:/var/data]
    command: ["sh", "-c", "cat /var/data/seed.txt /var/data/more.txt"]
  base:
    image: busybox
    volumes: [data:/var/data, /scratch]
    command: ["sleep", "30"]
  sidecar:
    image: busybox
    network_mode: service:base
    pid: service:base
    volumes_from: ["base:ro"]
    command: ["sh", "-c", "readlink /proc/1/ns/net; cat /proc/1/cmdline | tr '\\\\0' ' '; echo; cat /var/data/seed.txt; touch /var/data/x 2>/dev/null || echo read-only"]
volumes:
  data:
`;

for (const runtime of testRuntimes()) {
  describe(`service containers under ${runtime.name}`, () => {
    let base: string;
    let factory: ContainerFactory;
    let project: Project;
    let image: ImageRef;
    const created: string[] = [];

    before(() => {
      base = mkdtempSync(path.join(tmpdir(), `stack-svc-${runtime.name}-`));
      const dir = path.join(base, `p${process.pid}${runtime.name}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE);
      project = loadProject({ cwd: dir, env: {} }).project;
      image = { layers: [makeBusyboxRootfs(path.join(base, 'image'))], config: { Cmd: ['sh'], Env: ['PATH=/bin'] } };
      factory = new ContainerFactory({ stateDir: path.join(base, 'state'), runDir: path.join(base, 'run') }, createCgroupManager());
    });

    after(async () => {
      for (const id of created) await factory.containers.remove(id, { force: true }).catch(() => undefined);
      factory.cgroups.removeProject(project.name);
      rmSync(base, { recursive: true, force: true });
    });

    /** Runs a service to completion; returns its exit status and log lines. */
    const runService = async (name: string) => {
      const { record } = await factory.create({ project, service: project.services[name]!, image, number: 1, network: { kind: 'none' }, runtime: runtime as { name: RuntimeName; binary: string } });
      created.push(record.id);
      await factory.containers.start(record.id);
      const exit = await factory.containers.wait(record.id, 20_000);
      return { id: record.id, exit, lines: factory.containers.logs(record.id).map((l) => l.text) };
    };

    test('isolation, docker\'s capabilities, seccomp and masked paths', async () => {
      const r = await runService('plain');
      assert.deepEqual(r.exit, { code: 0, oomKilled: false });
      assert.equal(r.lines[0], 'pid=1');
      assert.equal(r.lines[1], `${project.name}-plain-1`);
      assert.match(r.lines.find((l) => l.startsWith('CapBnd'))!, new RegExp(`CapBnd:\\s+${DOCKER_DEFAULT_CAPS}`));
      assert.match(r.lines.find((l) => l.startsWith('CapEff'))!, new RegExp(`CapEff:\\s+${DOCKER_DEFAULT_CAPS}`));
      assert.match(r.lines.find((l) => l.startsWith('Seccomp'))!, /Seccomp:\s+2/);
      // the host's /proc/timer_list has kilobytes; masked, it reads as /dev/null
      assert.equal(r.lines.at(-3), '0', '/proc/timer_list is readable');
      assert.equal(r.lines.at(-2), '0', '/sys/firmware is visible');
    });

    test('user switching resolves the name and groups from the image', async () => {
      const r = await runService('user');
      // busybox's id lists getgroups(): the supplementary groups, as under docker
      assert.deepEqual(r.lines, ['uid=1000(app) gid=1000(app) groups=50(staff)']);
    });

    test('read_only rootfs with a writable tmpfs', async () => {
      const r = await runService('readonly');
      assert.deepEqual(r.lines, ['wrote-tmpfs']);
    });

    test('a memory limit ends in an OOM kill, reported as such', async () => {
      const r = await runService('oom');
      assert.deepEqual(r.exit, { code: 137, oomKilled: true });
      assert.ok(!r.lines.includes('survived'));
      assert.ok(!existsSync(path.join(process.cwd(), 'oom')), 'conmon left an oom file in the working directory');
    });

    test('the pids limit stops forks', async () => {
      const r = await runService('pids');
      assert.ok(r.lines.some((l) => /can't fork|Resource temporarily unavailable/.test(l)), r.lines.join('\n'));
    });

    test('cpus becomes a CFS quota on the container\'s cgroup; stats read it back', async () => {
      const { record } = await factory.create({ project, service: project.services.cpu!, image, number: 1, network: { kind: 'none' }, runtime: runtime as { name: RuntimeName; binary: string } });
      created.push(record.id);
      await factory.containers.start(record.id);
      const cg = factory.cgroups.containerPath(project.name, record.id);
      const quotaFile = factory.cgroups.layout.mode === 'unified'
        ? path.join(factory.cgroups.layout.unifiedMount!, cg, 'cpu.max')
        : path.join(factory.cgroups.layout.v1.get('cpu')!, cg, 'cpu.cfs_quota_us');
      assert.match(readFileSync(quotaFile, 'utf8'), /^50000\b/);
      assert.deepEqual(factory.cgroups.pids(project.name, record.id).length, 1);
      await factory.containers.stop(record.id, { gracePeriod: 100 });
      await factory.containers.remove(record.id);
      assert.ok(!existsSync(path.dirname(quotaFile)) || !readdirSync(path.dirname(path.dirname(quotaFile))).includes(record.id));
    });

    test('init is pid 1 and reaps orphans', async () => {
      const r = await runService('init');
      assert.match(r.lines[0]!, /^\/run\/stack-init -- sh -c/);
      assert.equal(r.lines[1], '0');
    });

    test('network_mode and pid service:x join the other container; volumes_from takes its volumes', async () => {
      const opts = { project, image, number: 1, network: { kind: 'none' as const }, runtime: runtime as { name: RuntimeName; binary: string } };
      const base = await factory.create({ ...opts, service: project.services.base! });
      created.push(base.record.id);
      await factory.containers.start(base.record.id);
      const basePid = factory.containers.pid(base.record.id)!;
      const r = await runService('sidecar');
      assert.equal(r.lines[0], readlinkSync(`/proc/${basePid}/ns/net`));
      assert.equal(r.lines[1], 'sleep 30 ');
      assert.equal(r.lines[2], 'from the image');
      assert.equal(r.lines[3], 'read-only');
      await factory.containers.stop(base.record.id, { gracePeriod: 100 });
    });

    test('a container that cannot be created leaves nothing: no state, no anonymous volume', async () => {
      const bad = { ...project.services.base!, name: 'broken', command: ['/no/such/program'], volumes: [{ type: 'volume' as const, target: '/anon' }] };
      const before = factory.volumes.list().length;
      await assert.rejects(
        factory.create({ project, service: bad, image, number: 1, network: { kind: 'none' }, runtime: runtime as { name: RuntimeName; binary: string } }),
        /could not create container|no such file|not found/i,
      );
      assert.equal(factory.volumes.list().length, before);
      assert.deepEqual(factory.containers.list().filter((id) => id.includes('broken')), []);
      assert.ok(!existsSync(path.join(base, 'state', 'containers', `${project.name}-broken-1`)));
    });

    test('a named volume starts with the image content and persists across containers', async () => {
      const w = await runService('writer');
      assert.deepEqual(w.lines, ['from the image']);
      const r = await runService('reader');
      assert.deepEqual(r.lines, ['from the image', 'second']);
      assert.ok(factory.volumes.get(`${project.name}_data`));
    });
  });
}
