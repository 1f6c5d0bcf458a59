/**
 * The commands around `up` as a user runs them (logs, exec, start, stop, restart, kill, rm,
 * top, stats, ls): the built CLI on a project of three services in real containers on a
 * real network, each command's effect checked through the others and the host. Only the
 * test's own namespaces are contacted; everything it makes goes with `down -v`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bridgeName, hostVethName } from '../engine/network/link-names.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { prepareHostForCrun } from './support/host.js';
import { BIN } from './support/cli-bin.js';

const PROJECT = `clip${process.pid}`;
const NETWORK = `${PROJECT}_default`;
const IMAGE = `${PROJECT}-busybox:1`;
let dir: string;
let proj: string;
let env: Record<string, string>;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function stack(args: string[], input = ''): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: proj, encoding: 'utf8', env, input, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], input = ''): Result {
  const r = stack(args, input);
  assert.equal(r.code, 0, `stack ${args.join(' ')}: ${r.stderr}`);
  return r;
}

interface PsRow {
  Name: string;
  Service: string;
  State: string;
  ExitCode: number;
}

function states(): Record<string, string> {
  const rows = JSON.parse(ok(['ps', '-a', '--format', 'json']).stdout) as PsRow[];
  return Object.fromEntries(rows.map((r) => [r.Service, r.State === 'exited' ? `exited(${r.ExitCode})` : r.State]));
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function logText(service: string): string {
  return ok(['logs', '--no-log-prefix', service]).stdout;
}

const COMPOSE = `
name: ${PROJECT}
services:
  db:
    image: ${IMAGE}
    init: true
    command: ["sh", "-c", "echo db ready; while true; do sleep 0.2; done"]
  web:
    image: ${IMAGE}
    init: true
    environment: [GREETING=hello]
    volumes: [/scratch]
    depends_on:
      db:
        condition: service_started
        restart: true
    command: ["sh", "-c", "trap 'echo web got USR1' USR1; echo web 1; sleep 0.05; echo web 2 >&2; sleep 0.05; echo web 3; while true; do sleep 0.2; done"]
  worker:
    image: ${IMAGE}
    init: true
    command: ["sh", "-c", "echo worker up; exec sleep 1000"]
`;

before(() => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-cli-project-'));
  proj = path.join(dir, 'proj');
  mkdirSync(proj);
  env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: path.join(dir, 'state'), STACK_RUN: path.join(dir, 'run') };
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  ok(['image', 'import', path.join(dir, 'rootfs.tar'), IMAGE]);
  writeFileSync(path.join(proj, 'compose.yaml'), COMPOSE);
});

after(() => {
  if (existsSync(path.join(proj, 'compose.yaml'))) stack(['down', '-v', '-t', '0']);
  rmSync(dir, { recursive: true, force: true });
});

describe('project commands', () => {
  test('start runs created containers dependencies first; ls lists the project', () => {
    ok(['up', '-d', '--no-start']);
    assert.deepEqual(states(), { db: 'created', web: 'created', worker: 'created' });
    const started = ok(['start']);
    const order = [...started.stderr.matchAll(/Container (\S+)\s+Started/g)].map((m) => m[1]);
    assert.ok(order.indexOf(`${PROJECT}-db-1`) < order.indexOf(`${PROJECT}-web-1`), started.stderr);
    assert.deepEqual(states(), { db: 'running', web: 'running', worker: 'running' });

    const ls = ok(['ls']);
    const line = ls.stdout.split('\n').find((l) => l.startsWith(`${PROJECT} `));
    assert.match(line ?? '', new RegExp(`^${PROJECT}\\s+running\\(3\\)\\s+${path.join(proj, 'compose.yaml')}$`), ls.stdout);
    const json = JSON.parse(ok(['ls', '--format', 'json']).stdout) as { Name: string; Status: string; ConfigFiles: string }[];
    assert.deepEqual(json.find((p) => p.Name === PROJECT), { Name: PROJECT, Status: 'running(3)', ConfigFiles: path.join(proj, 'compose.yaml') });
    assert.ok(ok(['ls', '-q']).stdout.split('\n').includes(PROJECT));
  });

  test('logs: prefixes, time order across containers, --tail, -t, --since/--until, --index', async () => {
    await until('all output', () => logText('web').includes('web 3') && logText('worker').includes('worker up'));
    const all = ok(['logs']).stdout.trimEnd().split('\n');
    for (const l of all) assert.match(l, /^(db-1 {5}|web-1 {4}|worker-1 ) \| /, 'names padded to the longest one and a space');
    const texts = all.map((l) => l.slice(l.indexOf('| ') + 2));
    assert.deepEqual(texts.filter((t) => t.startsWith('web')), ['web 1', 'web 2', 'web 3'], 'stderr lines are in the log too, in order');
    assert.ok(texts.indexOf('db ready') < texts.indexOf('web 1'), 'db started first, so its line comes first');
    assert.doesNotMatch(ok(['logs']).stdout, /\x1b\[/, 'no colour when the output is not a terminal');

    const stamped = ok(['logs', '-t']).stdout.trimEnd().split('\n');
    const times = stamped.map((l) => /\| (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) /.exec(l)?.[1]);
    assert.ok(times.every((t) => t !== undefined), stamped.join('\n'));
    assert.deepEqual([...times].sort(), times, 'merged by time');

    assert.deepEqual(ok(['logs', '--tail', '1', 'web']).stdout, `web-1  | web 3\n`);
    assert.deepEqual(ok(['logs', '--tail', '0']).stdout, '');
    const webTimes = ok(['logs', '-t', '--no-log-prefix', 'web']).stdout.trimEnd().split('\n').map((l) => l.split(' ')[0]!);
    assert.equal(ok(['logs', '--no-log-prefix', '--since', webTimes[1]!, 'web']).stdout, 'web 2\nweb 3\n');
    assert.equal(ok(['logs', '--no-log-prefix', '--until', webTimes[1]!, 'web']).stdout, 'web 1\nweb 2\n');
    assert.equal(ok(['logs', '--no-log-prefix', '--since', '10m', 'web']).stdout, 'web 1\nweb 2\nweb 3\n');
    assert.equal(ok(['logs', '--no-log-prefix', '--until', '10m', 'web']).stdout, '');
    assert.equal(ok(['logs', '--index', '1', 'db']).stdout, 'db-1  | db ready\n');
    assert.equal(ok(['logs', '--index', '2', 'db']).stdout, '');

    const unknown = stack(['logs', 'wbe']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: no such service: wbe\n {2}hint: .*web/);
    assert.equal(stack(['logs', '--tail', 'x']).code, 1);
    assert.equal(stack(['logs', '--since', 'yesterday']).code, 1);
  });

  test('logs -f prints new lines as they come, follows a new replica, and ends on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, 'logs', '-f', '--tail', '1', 'web', 'db'], { cwd: proj, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until('the tail', () => out.includes('web 3') && out.includes('db ready'));
      // what the containers' main processes write reaches their logs
      ok(['exec', 'web', 'sh', '-c', 'echo followed web > /proc/1/fd/1']);
      ok(['exec', 'db', 'sh', '-c', 'echo followed db > /proc/1/fd/2']);
      await until('the new lines', () => out.includes('web-1  | followed web\n') && out.includes('db-1   | followed db\n'));
      // a container that appears while following (a scale-up) is followed from its start
      ok(['up', '-d', '--scale', 'db=2', '--no-recreate', 'db']);
      await until('the new replica', () => out.includes('db-2   | db ready\n'));
      ok(['up', '-d', '--scale', 'db=1', '--no-recreate', 'db']);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 130);
  });

  test('exec: output, exit code, environment, working dir, user, stdin, detached; a replica that does not run', async () => {
    const r = stack(['exec', 'web', 'sh', '-c', 'echo $GREETING; echo oops >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(ok(['exec', '-e', 'EXTRA=1', '-w', '/tmp', '-u', 'app', 'web', 'sh', '-c', 'echo $EXTRA $(pwd) $(id -u) $HOME']).stdout, '1 /tmp 1000 /home/app\n');
    assert.equal(ok(['exec', '-T', 'web', 'cat'], 'piped in\n').stdout, 'piped in\n');
    // -t: a pseudo-terminal through an exec conmon, even with piped input; the pty echoes and ends lines with \r\n
    const withTty = stack(['exec', '-t', 'web', 'sh', '-c', 'tty; read x; echo got:$x; exit 3'], 'typed\n');
    assert.equal(withTty.code, 3, withTty.stderr);
    assert.match(withTty.stdout, /(^|\n)\/dev\/pts\/\d+\r\n/);
    assert.match(withTty.stdout, /got:typed\r\n$/);
    assert.equal(stack(['exec', '-t', '-T', 'web', 'true']).code, 1, '-t and -T contradict each other');
    const sessions = readdirSync(path.join(env.STACK_RUN!, 'containers', `${PROJECT}-web-1`)).filter((n) => n.includes('-x'));
    assert.deepEqual(sessions, [], 'the exec session dir is removed');
    assert.deepEqual(readdirSync(path.join(env.STACK_RUN!, 'sockets')).filter((n) => n.includes('-x')), [], 'and its attach socket link');
    assert.equal(ok(['exec', '-d', 'web', 'sh', '-c', 'sleep 0.5; echo detached > /proc/1/fd/1']).stdout, '');
    assert.ok(!logText('web').includes('detached'), 'exec -d returned before the command ended');
    await until('the detached command', () => logText('web').includes('detached'));
    const missing = stack(['exec', '--index', '2', 'web', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /service "web" is not running container #2/);
    assert.equal(stack(['exec', 'nosuch', 'true']).code, 1);
  });

  test('kill sends the signal; stop, start and restart change what ps reports', async () => {
    ok(['kill', '-s', 'USR1', 'web']);
    await until('the trap', () => logText('web').includes('web got USR1'));
    assert.equal(states().web, 'running', 'USR1 is handled, not fatal');
    assert.equal(stack(['kill', '-s', 'NOPE']).code, 1);

    // a follow ends by itself once the containers it follows are gone for good
    const follow = spawn(process.execPath, [BIN, 'logs', '-f', 'worker'], { cwd: proj, env });
    let followed = '';
    follow.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const followEnded = new Promise<number | null>((resolve) => follow.on('exit', (code) => resolve(code)));
    await until('the follow', () => followed.includes('worker up'));
    ok(['kill', 'worker']);
    await until('worker killed', () => states().worker === 'exited(137)');
    const timer = setTimeout(() => follow.kill('SIGKILL'), 10_000);
    assert.equal(await followEnded, 0);
    clearTimeout(timer);
    assert.match(stack(['kill', 'worker']).stderr, /No container to kill/);

    ok(['stop', '-t', '1', 'web']);
    assert.deepEqual(states(), { db: 'running', web: 'exited(143)', worker: 'exited(137)' });
    ok(['start', 'web']);
    assert.equal(states().web, 'running');
    // web depends on db with restart: true, so it is restarted with it
    ok(['restart', '-t', '1', 'db']);
    assert.deepEqual(states(), { db: 'running', web: 'running', worker: 'exited(137)' });
    await until('restarted output', () => logText('db').split('db ready').length - 1 === 2 && logText('web').split('web 1').length - 1 === 3);
  });

  test('top lists the container processes; stats has numbers', () => {
    const top = ok(['top', 'db']).stdout.trimEnd().split('\n');
    assert.match(top[0]!, /^SERVICE\s+#\s+UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    const init = Number(readFileSync(path.join(env.STACK_RUN!, 'containers', `${PROJECT}-db-1`, 'pidfile'), 'utf8'));
    const row = top.find((l) => l.split(/\s+/)[3] === String(init));
    assert.match(row ?? '', /^db\s+1\s+root\s+\d+\s+\d+\s+\d+\s+\d\d:\d\d\s+\?\s+\d\d:\d\d:\d\d\s+\/run\/stack-init -- sh -c echo db ready/, top.join('\n'));
    assert.ok(top.some((l) => / sh -c echo db ready; while true; do sleep 0\.2; done$/.test(l) && !l.includes('stack-init')), 'the shell under init');

    const stats = ok(['stats', '--no-stream', '--format', 'json']).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    const running = Object.entries(states()).filter(([, s]) => s === 'running').map(([svc]) => `${PROJECT}-${svc}-1`);
    assert.deepEqual(stats.map((s) => s.Name).sort(), running.sort());
    for (const s of stats) {
      assert.match(s.CPUPerc!, /^\d+\.\d\d%$/);
      assert.match(s.MemUsage!, /^\d+(\.\d+)?(B|KiB|MiB) \/ \d+(\.\d+)?(MiB|GiB|TiB)$/);
      assert.ok(Number.parseFloat(s.MemUsage!) > 0, 'memory in use');
      assert.match(s.MemPerc!, /^\d+\.\d\d%$/);
      assert.match(s.NetIO!, /^\d+(\.\d+)?(B|kB|MB) \/ \d+(\.\d+)?(B|kB|MB)$/);
      assert.match(s.BlockIO!, /^\d+(\.\d+)?(B|kB|MB|GB) \/ \d+(\.\d+)?(B|kB|MB|GB)$/);
      assert.ok(Number(s.PIDs) >= 2, `init and its child: ${s.PIDs}`);
    }
    const table = ok(['stats']).stdout.split('\n');
    assert.match(table[0]!, /^NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/, 'one table, not a stream, when the output is not a terminal');
  });

  test('rm removes stopped containers only, after confirmation, with their veths and anonymous volumes', () => {
    const anonymous = () =>
      readdirSync(path.join(env.STACK_ROOT!, 'volumes')).filter((v) => (JSON.parse(readFileSync(path.join(env.STACK_ROOT!, 'volumes', v, 'volume.json'), 'utf8')) as { anonymous: boolean }).anonymous);
    const veth = hostVethName(`${PROJECT}-web-1`, NETWORK);
    assert.equal(anonymous().length, 1, 'web has one');
    assert.match(ok(['rm', '-f', 'db']).stderr, /No stopped containers/, 'a running container stays');
    assert.equal(states().db, 'running');
    ok(['stop', '-t', '1', 'web']);
    const unanswered = ok(['rm', 'web']);
    assert.match(unanswered.stdout, new RegExp(`Going to remove ${PROJECT}-web-1`));
    assert.ok('web' in states(), 'no answer, no removal');
    assert.ok(execFileSync('ip', ['-o', 'link', 'show']).toString().includes(veth));
    ok(['rm', '-v', 'web'], 'y\n');
    assert.ok(!('web' in states()));
    assert.ok(!execFileSync('ip', ['-o', 'link', 'show']).toString().includes(veth), 'its veth went with it');
    assert.ok(!existsSync(path.join(env.STACK_RUN!, 'netns', `${PROJECT}-web-1`)), 'and its network namespace');
    assert.deepEqual(anonymous(), [], 'and its anonymous volume');
  });

  test('ls -a shows a stopped project; down -v leaves nothing behind', () => {
    ok(['stop', '-t', '1']);
    assert.ok(!ok(['ls', '-q']).stdout.split('\n').includes(PROJECT), 'stopped projects only with -a');
    assert.match(ok(['ls', '-a']).stdout, new RegExp(`^${PROJECT}\\s+exited\\(2\\)\\s`, 'm'));
    ok(['down', '-v']);
    const left: string[] = [];
    const containersDir = path.join(env.STACK_ROOT!, 'containers');
    if (existsSync(containersDir)) left.push(...readdirSync(containersDir));
    const netns = path.join(env.STACK_RUN!, 'netns');
    if (existsSync(netns)) left.push(...readdirSync(netns));
    const links = execFileSync('ip', ['-o', 'link', 'show']).toString();
    if (links.includes(bridgeName(NETWORK))) left.push('bridge');
    for (const svc of ['db', 'web', 'worker']) if (links.includes(hostVethName(`${PROJECT}-${svc}-1`, NETWORK))) left.push(`veth of ${svc}`);
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(dir)) left.push('mounts');
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) left.push(`process ${pid}`);
      } catch {
        // gone
      }
    }
    assert.deepEqual(left, []);
    assert.ok(!ok(['ls', '-a', '-q']).stdout.split('\n').includes(PROJECT));
  });
});
