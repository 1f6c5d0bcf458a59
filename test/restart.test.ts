/**
 * Starting a container again, under crun and runc: a container that exited runs again on
 * its own rootfs (its writes kept) and log, exec works in the new run, the restart count
 * and a user's stop are recorded for the supervisor, and removal leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import type { Containers } from '../engine/runtime/containers.js';
import { containerDirs } from '../engine/runtime/paths.js';
import { containerBed } from './support/container-bed.js';
import { testRuntimes } from './support/host.js';

const CG_ROOT = `/stack-restart-test-${process.pid}`;

for (const runtime of testRuntimes()) {
  describe(`starting containers again under ${runtime.name}`, () => {
    const bed = containerBed(runtime, { prefix: 'stack-restart', cgroupRoot: CG_ROOT });
    let containers: Containers;
    before(() => ({ containers } = bed));

    test('an exited container runs again: its writes kept, its log continued, exec working, nothing left after remove', async () => {
      const id = await bed.create(['sh', '-c', 'echo "run $(cat /runs 2>/dev/null | wc -l)"; echo x >> /runs; [ -f /stay ] && exit 0; exit 3']);
      await containers.start(id);
      assert.deepEqual(await containers.wait(id, 10_000), { code: 3, oomKilled: false });
      const firstPid = containers.pid(id);

      await containers.start(id);
      assert.deepEqual(await containers.wait(id, 10_000), { code: 3, oomKilled: false });
      assert.deepEqual(containers.logs(id).map((l) => l.text), ['run 0', 'run 1'], 'the second run saw the first one\'s write, and both are in the log');
      assert.notEqual(containers.pid(id), firstPid);
      assert.equal(containers.runState(id).restartCount, 0, 'a user start is no policy restart');
      await containers.remove(id);
      assert.deepEqual(bed.leftovers(id), []);
    });

    test('restart stops and starts a running container; exec works in the new run', async () => {
      const id = await bed.create(['sh', '-c', 'trap "exit 0" TERM; echo up; while true; do sleep 0.1; done']);
      await containers.start(id);
      await waitFor(async () => (await containers.status(id)) === 'running');
      const before = containers.runState(id).startedAt;
      const firstPid = containers.pid(id);
      await containers.exec(id, { args: ['sh', '-c', 'echo kept > /kept'] });
      await containers.restart(id, { gracePeriod: 5000 });
      assert.equal(await containers.status(id), 'running');
      assert.notEqual(containers.pid(id), firstPid);
      assert.notEqual(containers.runState(id).startedAt, before);
      const r = await containers.exec(id, { args: ['cat', '/kept'] });
      assert.deepEqual([r.exitCode, r.stdout], [0, 'kept']);
      await waitFor(() => containers.logs(id).length === 2);
      assert.deepEqual(containers.logs(id).map((l) => l.text), ['up', 'up']);
      await containers.remove(id, { force: true });
      assert.deepEqual(bed.leftovers(id), []);
    });

    test('a user\'s stop holds off policy restarts until the user starts it; policy restarts are counted', async () => {
      const id = await bed.create(['sh', '-c', 'echo ran; exit 1']);
      await containers.start(id);
      await containers.wait(id, 10_000);
      assert.equal(await containers.restartForPolicy(id, 1000), true);
      await waitFor(() => containers.logs(id).length === 2);
      await containers.wait(id, 10_000);
      assert.deepEqual(containers.runState(id), { ...containers.runState(id), restartCount: 1, stoppedByUser: false });

      // stopping an exited container (one waiting for its restart) is a stop all the same
      await containers.stop(id);
      assert.equal(containers.runState(id).stoppedByUser, true);
      assert.equal(await containers.restartForPolicy(id, 1000), false);
      assert.equal(containers.logs(id).length, 2, 'it did not run again');

      await containers.start(id);
      await containers.wait(id, 10_000);
      assert.deepEqual(containers.runState(id), { ...containers.runState(id), restartCount: 0, stoppedByUser: false });
      assert.equal(containers.logs(id).length, 3);
      await containers.remove(id);
      assert.deepEqual(bed.leftovers(id), []);
    });

    test('a kill with the stop signal counts as a stop; another signal does not', async () => {
      const id = await bed.create(['sh', '-c', 'trap "echo hup" HUP; while true; do sleep 0.1; done']);
      await containers.start(id);
      await waitFor(async () => (await containers.status(id)) === 'running');
      await containers.kill(id, 'HUP');
      await waitFor(() => containers.logs(id).some((l) => l.text === 'hup'));
      assert.equal(containers.runState(id).stoppedByUser, false);
      await containers.kill(id, 'SIGKILL');
      assert.equal(containers.runState(id).stoppedByUser, true);
      assert.deepEqual(await containers.wait(id, 10_000), { code: 137, oomKilled: false });
      await containers.remove(id);
    });

    test('an exec that outlives its timeout is killed with what it started', async () => {
      const id = await bed.create(['sleep', '60']);
      await containers.start(id);
      await waitFor(async () => (await containers.status(id)) === 'running');
      const r = await containers.exec(id, { args: ['sh', '-c', 'echo started; sleep 30; echo never'] }, { timeout: 300 });
      assert.equal(r.timedOut, true);
      assert.equal(r.stdout, 'started');
      const ps = await containers.exec(id, { args: ['ps', '-o', 'args'] });
      assert.ok(!ps.stdout.includes('sleep 30'), ps.stdout);
      assert.deepEqual(readdirSync(containerDirs(bed.paths, id).run).filter((f) => f.startsWith('exec-')), [], 'exec files are cleaned up');
      await containers.remove(id, { force: true });
      assert.ok(!existsSync(containerDirs(bed.paths, id).state));
    });
  });
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
