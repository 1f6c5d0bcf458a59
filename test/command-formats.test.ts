/**
 * The parsing and formatting under the project commands, on inputs the CLI test cannot
 * produce at will: --since/--until in every form docker takes, log times across zones,
 * partial log records, prefixes and colours, /proc and cgroup files, docker's size units,
 * options that end at the first positional (`exec`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { parseBlkioServiceBytes, parseIoStat } from '../engine/cgroups/block-io.js';
import { parseNetDev } from '../engine/runtime/container-usage.js';
import type { ContainerRecord } from '../engine/runtime/containers.js';
import { readLog } from '../engine/runtime/log-follow.js';
import { formatLogTime, logTimeNs, timeArgNs } from '../engine/runtime/log-time.js';
import { parseProcess } from '../engine/runtime/process-table.js';
import { parseOptions } from '../cli/args.js';
import type { CommandContext } from '../cli/command.js';
import { binarySize, decimalSize } from '../cli/commands/stats.js';
import { confirm } from '../cli/prompt.js';
import { LogFormatter } from '../cli/render/log-prefix.js';

const dir = mkdtempSync(path.join(tmpdir(), 'stack-command-formats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const S = 1_000_000_000n;

describe('log times', () => {
  test('records: zones and nanoseconds, printed as docker does in UTC', () => {
    const utc = logTimeNs('2024-03-01T10:00:00.123456789+00:00')!;
    assert.equal(logTimeNs('2024-03-01T12:30:00.123456789+02:30'), utc);
    assert.equal(logTimeNs('2024-03-01T10:00:00.123456789Z'), utc);
    assert.equal(formatLogTime(utc), '2024-03-01T10:00:00.123456789Z');
    assert.equal(formatLogTime(logTimeNs('2024-03-01T10:00:00.5Z')!), '2024-03-01T10:00:00.500000000Z');
    // one nanosecond apart still orders
    assert.ok(logTimeNs('2024-03-01T10:00:00.000000002Z')! > logTimeNs('2024-03-01T10:00:00.000000001Z')!);
    assert.equal(logTimeNs('yesterday'), undefined);
    assert.equal(logTimeNs('2024-03-01T10:00:00'), undefined, 'a record has a zone');
  });

  test('--since/--until: durations before now, RFC 3339, local times, dates, Unix seconds', () => {
    const now = 1_700_000_000n * S;
    assert.equal(timeArgNs('10m', '--since', now), now - 600n * S);
    assert.equal(timeArgNs('1h30m', '--since', now), now - 5400n * S);
    assert.equal(timeArgNs('1.5s', '--since', now), now - 1_500_000_000n);
    assert.equal(timeArgNs('250ms', '--since', now), now - 250_000_000n);
    assert.equal(timeArgNs('0', '--since', now), now);
    assert.equal(timeArgNs('2023-11-14T22:13:20Z', '--since', now), now);
    assert.equal(timeArgNs('2023-11-14T23:13:20+01:00', '--since', now), now);
    assert.equal(timeArgNs('1700000000', '--since', now), now);
    assert.equal(timeArgNs('1700000000.25', '--since', now), now + 250_000_000n);
    assert.equal(timeArgNs('2023-11-14T22:13:20', '--since', now), BigInt(new Date(2023, 10, 14, 22, 13, 20).getTime()) * 1_000_000n, 'no zone: local time');
    assert.equal(timeArgNs('2023-11-14', '--since', now), BigInt(new Date(2023, 10, 14).getTime()) * 1_000_000n);
    for (const bad of ['10x', 'soon', '2023-13-01', 'm', '']) {
      assert.throws(() => timeArgNs(bad, '--until', now), /--until .*: not a time/, bad);
    }
  });

  test('readLog leaves a line still being written to the follow', () => {
    const file = path.join(dir, 'ctr.log');
    const done = '2024-03-01T10:00:00.1Z stdout F one\n2024-03-01T10:00:00.2Z stderr P tw\n2024-03-01T10:00:00.3Z stderr F o\n';
    writeFileSync(file, `${done}2024-03-01T10:00:00.4Z stdout P thr\n2024-03-01T10:00:00.5Z stdout F ee-without-newline`);
    const snap = readLog(file);
    assert.deepEqual(snap.lines.map((l) => [l.stream, l.text]), [['stdout', 'one'], ['stderr', 'two']]);
    assert.equal(snap.offset, Buffer.byteLength(done));
    assert.deepEqual(readLog(path.join(dir, 'missing.log')), { lines: [], offset: 0 });
  });
});

describe('log prefixes', () => {
  const rec = (service: string, n: number): ContainerRecord =>
    ({ id: `p-${service}-${n}`, name: `p-${service}-${n}`, labels: { 'com.docker.compose.service': service, 'com.docker.compose.container-number': String(n) } }) as unknown as ContainerRecord;
  const line = { time: '2024-03-01T10:00:00.000000001+00:00', stream: 'stdout' as const, text: 'hi' };

  test("compose's layout: the longest name plus a space, then ' | '", () => {
    const f = new LogFormatter([rec('web', 1), rec('worker', 12)], { color: false });
    assert.equal(f.line('p-web-1', line), 'web-1      | hi\n');
    assert.equal(f.line('p-worker-12', line), 'worker-12  | hi\n');
    assert.equal(new LogFormatter([rec('web', 1)], { color: false, prefix: false, timestamps: true }).line('p-web-1', line), '2024-03-01T10:00:00.000000001Z hi\n');
  });

  test('one colour per service, the replicas sharing it', () => {
    const f = new LogFormatter([rec('web', 1), rec('web', 2), rec('db', 1)], { color: true });
    const color = (id: string) => /^\x1b\[([\d;]+)m/.exec(f.line(id, line))?.[1];
    assert.equal(color('p-web-1'), '36');
    assert.equal(color('p-web-2'), '36');
    assert.equal(color('p-db-1'), '33');
    assert.equal(f.line('p-db-1', line), '\x1b[33mdb-1   | \x1b[0mhi\n');
  });
});

describe('/proc and cgroup files', () => {
  test('a process as ps -ef shows it', () => {
    const stat = '4242 (my (odd) name) S 4200 4242 4242 34817 4242 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 1000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0';
    const p = parseProcess(4242, stat, 'Name:\tx\nUid:\t1000\t1001\t1001\t1001\n', 'sleep\x001000\x00', 1_000_000);
    assert.deepEqual(p, { pid: 4242, ppid: 4200, uid: 1001, tty: 34817, startedAt: 1_000_000 + 123_450, cpuMs: 3000, command: 'sleep 1000' });
    assert.equal(parseProcess(7, '7 (kworker/0:1) I 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0', 'Uid:\t0\t0\t0\t0\n', '', 0).command, '[kworker/0:1]');
  });

  test('network bytes without loopback; block I/O on v1 and v2', () => {
    const dev = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:    9999      10    0    0    0     0          0         0     9999      10    0    0    0     0       0          0',
      '  eth0:    1500      12    0    0    0     0          0         0      700       8    0    0    0     0       0          0',
      '  eth1:     500       2    0    0    0     0          0         0      300       1    0    0    0     0       0          0',
    ].join('\n');
    assert.deepEqual(parseNetDev(dev), { rx: 2000, tx: 1000 });
    assert.deepEqual(parseIoStat('8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:0 rbytes=1 wbytes=2 rios=1 wios=1\n'), { read: 4097, write: 8194 });
    assert.deepEqual(parseBlkioServiceBytes('8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Async 4608\n8:0 Total 4608\nTotal 4608\n'), { read: 4096, write: 512 });
  });

  test("docker's units", () => {
    assert.equal(binarySize(0), '0B');
    assert.equal(binarySize(1536 * 1024), '1.5MiB');
    assert.equal(binarySize(25_270_000_000), '23.53GiB');
    assert.equal(decimalSize(999), '999B');
    assert.equal(decimalSize(12_345), '12.3kB');
    assert.equal(decimalSize(3_080), '3.08kB');
  });
});

describe('command line', () => {
  test('exec-style options end at the first positional: the rest is the command', () => {
    const specs = [
      { name: 'env', short: 'e', type: 'string' as const, multiple: true, description: '' },
      { name: 'detach', short: 'd', type: 'boolean' as const, description: '' },
      { name: 'tty', short: 't', type: 'boolean' as const, description: '' },
      { name: 'interactive', short: 'i', type: 'boolean' as const, description: '' },
    ];
    const p = parseOptions(['-it', '-e', 'A=1', '--env=B=2', 'web', 'sh', '-c', 'ls -d /'], specs, 'exec', { interspersed: false });
    assert.deepEqual(p.positionals, ['web', 'sh', '-c', 'ls -d /']);
    assert.deepEqual(p.values.env, ['A=1', 'B=2']);
    assert.equal(p.values.tty, true);
    assert.deepEqual(parseOptions(['-eA=1', '--', '-web'], specs, 'exec', { interspersed: false }).positionals, ['-web']);
    assert.throws(() => parseOptions(['--nope', 'web'], specs, 'exec', { interspersed: false }), /--nope/);
  });

  test('a confirmation reads one line; yes is y, yes, true or 1', async () => {
    const ask = async (answer: string | undefined) => {
      const input = new PassThrough();
      let shown = '';
      const ctx = { stdout: (t: string) => (shown += t) } as unknown as CommandContext;
      const asked = confirm(ctx, 'Sure? ', input);
      if (answer !== undefined) input.write(answer);
      input.end();
      return [await asked, shown];
    };
    assert.deepEqual(await ask('y\n'), [true, 'Sure? ']);
    for (const yes of ['YES\n', ' true\n', '1\n']) assert.equal((await ask(yes))[0], true, yes);
    for (const no of ['n\n', 'yep\n', '\n', undefined]) assert.equal((await ask(no))[0], false, String(no));
  });
});
