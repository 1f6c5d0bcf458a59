/**
 * The container lifecycle on the real kernel, under crun and runc: conmon monitors, the
 * runtime executes, state on disk lets another process take over, and removal leaves
 * nothing behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Containers } from '../engine/runtime/containers.js';
import { containerDirs, type EnginePaths } from '../engine/runtime/paths.js';
import { containerBed } from './support/container-bed.js';
import { testRuntimes } from './support/host.js';
import { minimalSpec } from './support/minimal-spec.js';

const CG_ROOT = `/stack-test-${process.pid}`;
const here = path.dirname(fileURLToPath(import.meta.url));

for (const runtime of testRuntimes()) {
  describe(`containers under ${runtime.name}`, () => {
    const bed = containerBed(runtime, { prefix: 'stack-ctr', cgroupRoot: CG_ROOT });
    let paths: EnginePaths;
    let lower: string;
    let containers: Containers;
    before(() => ({ paths, lower, containers } = bed));
    const create = bed.create;

    test('runs a process, records its exit code and its output in the log', async () => {
      const id = await create(['sh', '-c', 'echo out; echo err >&2; echo "pid $$"; hostname; exit 7']);
      assert.equal(await containers.status(id), 'created');
      await containers.start(id);
      const exit = await containers.wait(id, 10_000);
      assert.deepEqual(exit, { code: 7, oomKilled: false });
      const logs = containers.logs(id).map((l) => `${l.stream}:${l.text}`);
      assert.deepEqual(logs.sort(), ['stderr:err', 'stdout:out', 'stdout:pid 1', 'stdout:testbox'].sort());
      assert.equal(await containers.status(id), 'exited');
      await containers.remove(id);
      assert.deepEqual(bed.leftovers(id), []);
    });

    test('writes go to the container\'s own upper layer, not the image', async () => {
      const id = await create(['sh', '-c', 'echo changed > /var/data/seed.txt; cat /var/data/seed.txt']);
      await containers.start(id);
      await containers.wait(id, 10_000);
      assert.deepEqual(containers.logs(id).map((l) => l.text), ['changed']);
      assert.equal(readFileSync(path.join(lower, 'var/data/seed.txt'), 'utf8'), 'from the image\n');
      assert.equal(readFileSync(path.join(containerDirs(paths, id).upper, 'var/data/seed.txt'), 'utf8'), 'changed\n');
      await containers.remove(id);
    });

    test('stop sends the stop signal, then SIGKILL after the grace period', async () => {
      const polite = await create(['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done']);
      await containers.start(polite);
      await waitForRunning(containers, polite);
      assert.deepEqual(await containers.stop(polite, { gracePeriod: 5000 }), { code: 0, oomKilled: false });
      const stubborn = await create(['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'], { stopGracePeriod: 300 });
      await containers.start(stubborn);
      await waitForRunning(containers, stubborn);
      const t0 = Date.now();
      assert.deepEqual(await containers.stop(stubborn), { code: 137, oomKilled: false });
      assert.ok(Date.now() - t0 >= 300, 'SIGKILL came before the grace period ended');
      for (const id of [polite, stubborn]) await containers.remove(id);
    });

    test('exec runs in the running container; a running container is not removed without force', async () => {
      const id = await create(['sleep', '60']);
      await containers.start(id);
      await waitForRunning(containers, id);
      const r = await containers.exec(id, { args: ['sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; exit 3'] });
      assert.equal(r.exitCode, 3);
      assert.equal(r.stdout, 'sleep 60 ');
      await assert.rejects(containers.remove(id), /is running/);
      await containers.remove(id, { force: true });
      assert.deepEqual(bed.leftovers(id), []);
    });

    test('the container and its log outlive the process that started it', async () => {
      const id = `t${process.pid}-${runtime.name}-detached`;
      bed.track(id);
      const script = path.join(here, 'support', 'start-detached.js');
      const out = execFileSync(process.execPath, [script, JSON.stringify({ paths, id, lower, runtime, cgroupsPath: `${CG_ROOT}/${id}` })], { encoding: 'utf8' });
      assert.equal(out.trim(), 'started');
      const exit = await containers.wait(id, 10_000);
      assert.deepEqual(exit, { code: 0, oomKilled: false });
      assert.deepEqual(containers.logs(id).map((l) => l.text), ['before', 'after the starter exited']);
      await containers.remove(id);
      assert.deepEqual(bed.leftovers(id), []);
    });

    test('a failing create leaves nothing behind', async () => {
      const id = `t${process.pid}-${runtime.name}-bad`;
      await assert.rejects(
        containers.create({ id, name: id, spec: minimalSpec(['/no/such/binary'], { cgroupsPath: `${CG_ROOT}/${id}` }), rootfs: { kind: 'overlay', lower: [lower] }, runtime }),
        /could not create container|no such file|executable file not found/i,
      );
      assert.deepEqual(bed.leftovers(id), []);
    });
  });
}

async function waitForRunning(c: Containers, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await c.status(id)) === 'running') return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${id} did not start`);
}
