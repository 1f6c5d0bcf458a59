/**
 * Attaching to containers through conmon's attach socket, under crun and runc: output
 * demultiplexed by stream, input forwarded to the container's stdin, detach leaving the
 * container running, and nothing left behind. The state dir is deep enough that the attach
 * socket's path does not fit in a sockaddr_un, as real ones may not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import { attachSocketPath } from '../engine/runtime/conmon-attach.js';
import { Containers, type CreateRequest } from '../engine/runtime/containers.js';
import { containerDirs, type EnginePaths } from '../engine/runtime/paths.js';
import { SysError } from '../engine/sys/sys-error.js';
import { connectSeqpacket } from '../engine/sys/unix-seqpacket.js';
import { containerBed } from './support/container-bed.js';
import { testRuntimes } from './support/host.js';

const CG_ROOT = `/stack-attach-test-${process.pid}`;

/** A Writable that keeps what it is given; `slow` acknowledges each write a turn later, with a small buffer. */
class Collector extends Writable {
  private readonly chunks: Buffer[] = [];

  constructor(private readonly slow = false) {
    super({ highWaterMark: slow ? 1024 : 16 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    if (this.slow) setImmediate(cb);
    else cb();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  lines(): string[] {
    return this.text().split('\n').filter(Boolean);
  }
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `prefix<n>` lines with n counting up by one: nothing lost, nothing reordered, nothing from the other stream */
function assertRun(lines: string[], prefix: string): number[] {
  const ns = lines.map((l) => {
    const m = new RegExp(`^${prefix}(\\d+)$`).exec(l);
    assert.ok(m, `unexpected line ${JSON.stringify(l)} on the ${prefix} stream`);
    return Number(m[1]);
  });
  ns.forEach((n, i) => i > 0 && assert.equal(n, ns[i - 1]! + 1, `${prefix} lines out of order: ${ns.join(',')}`));
  return ns;
}

for (const runtime of testRuntimes()) {
  describe(`attach under ${runtime.name}`, () => {
    const bed = containerBed(runtime, { prefix: 'stack-attach', cgroupRoot: CG_ROOT, stateDir: (base) => path.join(base, 'state', 'a-state-dir-deep-enough-that-the-attach-socket-path-is-longer-than-sun-path') });
    let paths: EnginePaths;
    let containers: Containers;
    before(() => ({ paths, containers } = bed));
    const create = bed.create;
    const running = async (args: string[], extra: Partial<CreateRequest> = {}) => {
      const id = await create(args, extra);
      await containers.start(id);
      await until(`${id} to run`, () => containers.pid(id) !== undefined);
      return id;
    };
    const removeAndCheck = async (id: string) => {
      await containers.remove(id, { force: true });
      assert.deepEqual(bed.leftovers(id), []);
    };

    test('a running container\'s output arrives on its own stream, in order; detach leaves it running', async () => {
      const id = await running(['sh', '-c', 'i=0; while true; do echo out$i; echo err$i >&2; i=$((i+1)); sleep 0.02; done']);
      assert.ok(Buffer.byteLength(attachSocketPath(containerDirs(paths, id).bundle)) > 107, 'the socket path should not fit in sun_path');
      const seen: number[] = [];
      for (let round = 0; round < 2; round++) {
        const stdout = new Collector();
        const stderr = new Collector();
        const attached = await containers.attach(id, { stdout, stderr });
        await until('output on both streams', () => stdout.lines().length >= 10 && stderr.lines().length >= 10);
        attached.detach();
        assert.equal(await attached.done, undefined);
        const outs = assertRun(stdout.lines(), 'out');
        assertRun(stderr.lines(), 'err');
        // a second attach picks up where the container is now
        if (seen.length > 0) assert.ok(outs[0]! > seen.at(-1)!, `second attach began at out${outs[0]}, before out${seen.at(-1)}`);
        seen.push(...outs);
        assert.equal(await containers.status(id), 'running');
      }
      await removeAndCheck(id);
    });

    test('attached from creation, every byte arrives on its stream, through a slow reader; done gives the exit status', async () => {
      const id = await create(['sh', '-c', 'yes a | head -c 300000 & yes b | head -c 300000 >&2; wait; exit 3']);
      const stdout = new Collector(true);
      const stderr = new Collector();
      const attached = await containers.attach(id, { stdout, stderr });
      await containers.start(id);
      assert.deepEqual(await attached.done, { code: 3, oomKilled: false });
      // each record is one read of conmon's: were two records ever joined, a stream byte would
      // land in the data. conmon 2.1.6 drops records an attach client cannot take in time and
      // what comes right before the exit, so attach is checked for order and separation, and
      // the log (conmon's lossless record) for completeness.
      assert.match(stdout.text(), /^(a\n)+$/);
      assert.match(stderr.text(), /^(b\n)+$/);
      assert.ok(stdout.text().length > 100_000 && stderr.text().length > 100_000, 'most of the output came through attach');
      const logged = containers.logs(id);
      assert.equal(logged.filter((l) => l.stream === 'stdout' && l.text === 'a').length, 150_000);
      assert.equal(logged.filter((l) => l.stream === 'stderr' && l.text === 'b').length, 150_000);
      await removeAndCheck(id);
    });

    test('with stdin open, input reaches the container and survives a detach', async () => {
      const id = await running(['cat'], { stdin: 'open' });
      const stdout = new Collector();
      const stdin = new PassThrough();
      const first = await containers.attach(id, { stdin, stdout, stderr: new Collector() });
      stdin.write('hello\n');
      await until('the echo', () => stdout.text() === 'hello\n');
      // more than conmon takes in one record (32 KiB): it must arrive whole
      const big = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join('');
      stdin.write(big);
      await until('the big echo', () => stdout.text().length >= 6 + big.length);
      assert.equal(stdout.text(), `hello\n${big}`);
      first.detach();
      assert.equal(await first.done, undefined);
      assert.equal(stdin.isPaused(), true, 'detach gives the input stream back paused');
      assert.equal(await containers.status(id), 'running');

      const again = new Collector();
      const second = await containers.attach(id, { stdin: new PassThrough().end('again\n'), stdout: again, stderr: new Collector() });
      await until('the echo after reattaching', () => again.text() === 'again\n');
      // ending the input of an 'open' stdin does not close it: cat goes on
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await containers.status(id), 'running');
      await containers.kill(id, 'SIGKILL');
      assert.deepEqual(await second.done, { code: 137, oomKilled: false });
      await removeAndCheck(id);
    });

    test('with stdin once, the end of the input closes the container\'s stdin', async () => {
      const id = await running(['sh', '-c', 'cat; echo "cat saw the end" >&2; exit 5'], { stdin: 'once' });
      const stdout = new Collector();
      const stderr = new Collector();
      const attached = await containers.attach(id, { stdin: new PassThrough().end('bye\n'), stdout, stderr });
      assert.deepEqual(await attached.done, { code: 5, oomKilled: false });
      assert.equal(stdout.text(), 'bye\n');
      // written as the container exits: conmon may close the attach socket before relaying it
      assert.ok(['', 'cat saw the end\n'].includes(stderr.text()), stderr.text());
      assert.ok(containers.logs(id).some((l) => l.stream === 'stderr' && l.text === 'cat saw the end'));
      await removeAndCheck(id);
    });

    test('an exited container, or stdin to a container without one, is a clear error', async () => {
      const id = await create(['sh', '-c', 'echo done']);
      await containers.start(id);
      await containers.wait(id, 10_000);
      const streams = { stdout: new Collector(), stderr: new Collector() };
      await assert.rejects(containers.attach(id, streams), (e: unknown) => e instanceof StackError && e.kind === 'conflict' && /is not running/.test(e.message));
      await assert.rejects(containers.attach('no-such-container', streams), (e: unknown) => e instanceof StackError && e.kind === 'not-found');
      await removeAndCheck(id);

      const quiet = await running(['sleep', '60']);
      await assert.rejects(
        containers.attach(quiet, { stdin: new PassThrough(), ...streams }),
        (e: unknown) => e instanceof StackError && e.kind === 'invalid' && /no stdin/.test(e.message),
      );
      await removeAndCheck(quiet);
    });
  });
}

describe('seqpacket connect errors', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'stack-seqpacket-'));
    writeFileSync(path.join(dir, 'plain'), '');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a missing socket and a file that is no socket are SysErrors with their errno', () => {
    assert.throws(() => connectSeqpacket(path.join(dir, 'missing')), (e: unknown) => e instanceof SysError && e.code === 'ENOENT');
    assert.throws(() => connectSeqpacket(path.join(dir, 'plain')), (e: unknown) => e instanceof SysError && e.code === 'ECONNREFUSED');
  });
});
