/**
 * `stack up` and `stack down` as a user runs them: the built CLI, a store under a temp
 * STACK_ROOT with a busybox base imported, real containers on real networks. Proves the
 * plan is followed (only changed services recreated), dependency conditions, rollback of a
 * failed up, serialised concurrent ups, attached mode's exit codes, and that down leaves
 * nothing behind. Only loopback and the test's own namespaces are contacted.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { supervisorPid } from '../engine/supervisor/supervisor-control.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { prepareHostForCrun } from './support/host.js';
import { BIN } from './support/cli-bin.js';
import { freePort, httpGet } from './support/net-probe.js';
import { projectLeftovers } from './support/project-leftovers.js';

let dir: string;
let env: Record<string, string>;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function stack(cwd: string, ...args: string[]): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function stackAsync(cwd: string, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function project(name: string, compose: string): string {
  const p = path.join(dir, name);
  mkdirSync(p, { recursive: true });
  writeFileSync(path.join(p, 'compose.yaml'), compose);
  return p;
}

interface PsRow {
  Name: string;
  Service: string;
  State: string;
  Created: string;
  ExitCode: number;
}

function ps(cwd: string): PsRow[] {
  const r = stack(cwd, 'ps', '-a', '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PsRow[];
}

const enginePathsOf = () => ({ stateDir: env.STACK_ROOT!, runDir: env.STACK_RUN! });

before(() => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-up-'));
  env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: path.join(dir, 'state'), STACK_RUN: path.join(dir, 'run') };
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  const imported = stack(dir, 'image', 'import', 'rootfs.tar', 'busybox:local');
  assert.equal(imported.code, 0, imported.stderr);
});

after(() => {
  // whatever a failed test left running
  for (const p of existsSync(dir) ? readdirSync(dir) : []) {
    if (existsSync(path.join(dir, p, 'compose.yaml'))) stack(path.join(dir, p), 'down', '-v', '-t', '0');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('stack up / down', () => {
  test('up, reach a published port, up again changes nothing, a changed service alone is recreated, down -v leaves nothing', async () => {
    const port = await freePort();
    const compose = (apiWord: string) => `
name: upweb
services:
  web:
    image: busybox:local
    init: true
    command: ["sh", "-c", "mkdir -p /w && cat /data/word > /w/index.html && exec httpd -f -p 80 -h /w"]
    ports: ["127.0.0.1:${port}:80"]
    volumes: [data:/data]
    depends_on:
      seed:
        condition: service_completed_successfully
  seed:
    image: busybox:local
    command: ["sh", "-c", "echo seeded > /data/word"]
    volumes: [data:/data]
  api:
    image: busybox:local
    init: true
    command: ["sh", "-c", "echo ${apiWord}; wget -q -O - http://web/; exec sleep 600"]
    depends_on: [web]
volumes:
  data:
`;
    const p = project('upweb', compose('one'));
    const up = stack(p, 'up', '-d');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /Network upweb_default {2}Created/);
    const rows = ps(p);
    assert.deepEqual(rows.map((r) => [r.Name, r.State]), [['upweb-api-1', 'running'], ['upweb-seed-1', 'exited'], ['upweb-web-1', 'running']]);
    assert.equal(rows.find((r) => r.Service === 'seed')!.ExitCode, 0);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).trim(), 'seeded');

    const again = stack(p, 'up', '-d', '--dry-run');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /keep {5}upweb-api-1/);
    assert.match(again.stdout, /keep {5}upweb-web-1/);

    writeFileSync(path.join(p, 'compose.yaml'), compose('two'));
    const before = new Map(ps(p).map((r) => [r.Name, r.Created]));
    const changed = stack(p, 'up', '-d');
    assert.equal(changed.code, 0, changed.stderr);
    const after = new Map(ps(p).map((r) => [r.Name, r.Created]));
    assert.equal(after.get('upweb-web-1'), before.get('upweb-web-1'), 'web was recreated');
    assert.notEqual(after.get('upweb-api-1'), before.get('upweb-api-1'), 'api was not recreated');
    // the new api container reached web by name through the network's DNS
    await waitFor(() => readLog('upweb-api-1').includes('seeded'));
    assert.ok(readLog('upweb-api-1').startsWith('two'));

    const down = stack(p, 'down', '-v', '-t', '1');
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(ps(p), []);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upweb', ['upweb_default']), []);
    assert.ok(!existsSync(path.join(env.STACK_ROOT!, 'volumes', 'upweb_data')), 'the named volume survived down -v');
    assert.ok(!existsSync(path.join(env.STACK_ROOT!, 'networks', 'upweb_default.json')));
  });

  test('a failed dependency stops its dependents, reports the cause, and leaves nothing of them', () => {
    const p = project('upfail', `
name: upfail
services:
  ok:
    image: busybox:local
    init: true
    command: ["sleep", "600"]
  broken:
    image: busybox:local
    command: ["sh", "-c", "exit 3"]
  needs:
    image: busybox:local
    command: ["true"]
    depends_on:
      broken:
        condition: service_completed_successfully
`);
    const up = stack(p, 'up', '-d');
    assert.equal(up.code, 1);
    assert.match(up.stderr, /error: service "needs" not started: dependency upfail-broken-1 exited with code 3/);
    assert.doesNotMatch(up.stderr, /at .*\.js:\d+/, 'a stack trace was printed');
    const rows = ps(p);
    assert.deepEqual(rows.map((r) => r.Name).sort(), ['upfail-broken-1', 'upfail-ok-1'], 'needs was created, or the others removed');
    assert.equal(stack(p, 'down', '-t', '0').code, 0);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upfail', ['upfail_default']), []);
  });

  test('a missing image is an error before anything is made', () => {
    // pulled from a loopback port nothing listens on: tests send packets to loopback only
    const p = project('upnoimg', 'name: upnoimg\nservices:\n  a:\n    image: 127.0.0.1:1/nothing-here:1\n');
    const up = stack(p, 'up', '-d');
    assert.equal(up.code, 1);
    assert.match(up.stderr, /error: service "a": cannot reach registry 127\.0\.0\.1:1: connection refused/);
    assert.match(up.stderr, /hint: /);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upnoimg', ['upnoimg_default']), []);
  });

  test('a network that cannot be made (its subnet is taken) leaves none of the networks made before it', () => {
    const p = project('upnet', `
name: upnet
services:
  a:
    image: busybox:local
    command: ["true"]
    networks: [first, second]
networks:
  first:
    ipam:
      config:
        - subnet: 10.213.0.0/16
  second:
    ipam:
      config:
        - subnet: 10.213.5.0/24
`);
    const up = stack(p, 'up', '-d');
    assert.equal(up.code, 1);
    assert.match(up.stderr, /error: network upnet_second: subnet 10.213.5.0\/24 overlaps network upnet_first/);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upnet', ['upnet_first', 'upnet_second']), []);
    assert.ok(!existsSync(path.join(env.STACK_ROOT!, 'networks', 'upnet_first.json')), 'the first network was left');
  });

  test('in a terminal, ink draws the progress: its last frame has every step done', () => {
    const p = project('uptty', 'name: uptty\nservices:\n  a:\n    image: busybox:local\n    command: ["true"]\n  b:\n    image: busybox:local\n    command: ["true"]\n    depends_on: [a]\n');
    // script(1) gives the command a terminal; its size must be set, or ink wraps at one column
    const r = spawnSync('script', ['-qec', `stty cols 120 rows 40; ${process.execPath} ${BIN} up -d`, '/dev/null'], { cwd: p, env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout);
    const screen = r.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
    assert.match(screen, /✔ Network uptty_default +Created/);
    assert.match(screen, /✔ Container uptty-a-1 +Started \d+\.\ds/);
    assert.match(screen, /✔ Container uptty-b-1 +Started \d+\.\ds/);
    assert.doesNotMatch(screen, /✘/, 'a step failed');
    assert.equal(stack(p, 'down').code, 0);
  });

  test('two concurrent ups of one project serialise: one set of containers, both succeed', async () => {
    const p = project('upboth', 'name: upboth\nservices:\n  a:\n    image: busybox:local\n    init: true\n    command: ["sleep", "600"]\n  b:\n    image: busybox:local\n    init: true\n    command: ["sleep", "600"]\n');
    const [one, two] = await Promise.all([stackAsync(p, 'up', '-d'), stackAsync(p, 'up', '-d')]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    assert.deepEqual(ps(p).map((r) => [r.Name, r.State]), [['upboth-a-1', 'running'], ['upboth-b-1', 'running']]);
    // the image the containers run from cannot go from under them
    const rm = stack(p, 'image', 'rm', 'busybox:local');
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /unable to remove image busybox:local: it is being used by container upboth-[ab]-1/);
    assert.equal(stack(p, 'image', 'prune', '--all').code, 0);
    assert.match(stack(p, 'images').stdout, /^busybox +local /m);
    assert.equal(stack(p, 'down', '-t', '0').code, 0);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upboth', ['upboth_default']), []);
  });

  test('attached: prefixed output, --exit-code-from returns that service\'s code and stops the rest', () => {
    const p = project('upatt', `
name: upatt
services:
  job:
    image: busybox:local
    command: ["sh", "-c", "sleep 0.5; echo job says hi; exit 3"]
  svc:
    image: busybox:local
    init: true
    command: ["sh", "-c", "echo svc up; exec sleep 600"]
`);
    const up = stack(p, 'up', '--exit-code-from', 'job', '-t', '1');
    assert.equal(up.code, 3, up.stderr);
    assert.match(up.stdout, /^job-1  \| job says hi$/m);
    assert.match(up.stdout, /^svc-1  \| svc up$/m);
    assert.ok(ps(p).every((r) => r.State === 'exited'), 'svc kept running');
    assert.equal(stack(p, 'down').code, 0);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upatt', ['upatt_default']), []);
  });

  test('service_healthy waits for the healthcheck; up --wait returns once everything is healthy; a crash is restarted', async () => {
    const p = project('uphealth', `
name: uphealth
services:
  db:
    image: busybox:local
    init: true
    command: ["sh", "-c", "sleep 1; touch /ready; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 200ms
      retries: 30
  app:
    image: busybox:local
    init: true
    command: ["sh", "-c", "echo app started; exec sleep 600"]
    depends_on:
      db:
        condition: service_healthy
  flaky:
    image: busybox:local
    restart: on-failure:2
    command: ["sh", "-c", "echo run; exit 1"]
`);
    const up = stack(p, 'up', '--wait', '--wait-timeout', '30', '--progress', 'plain');
    assert.equal(up.code, 1, 'flaky exits, so --wait fails');
    assert.match(up.stderr, /Service app {2}Waiting .*\(db healthy\)/);
    const rows = ps(p);
    assert.equal(rows.find((r) => r.Service === 'app')!.State, 'running');
    assert.equal(rows.find((r) => r.Service === 'db')!.State, 'running');
    // the supervisor applies on-failure:2: three runs in all
    await waitFor(() => readLog('uphealth-flaky-1').split('\n').filter((l) => l === 'run').length === 3, 15_000);
    assert.equal(stack(p, 'down', '-t', '1').code, 0);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'uphealth', ['uphealth_default']), []);
  });

  test('kill -9 of the supervisor, then a crash: nothing restarts it, and the next up converges', async () => {
    const p = project('upfault', 'name: upfault\nservices:\n  svc:\n    image: busybox:local\n    init: true\n    restart: always\n    command: ["sleep", "600"]\n');
    assert.equal(stack(p, 'up', '-d').code, 0);
    const paths = { stateDir: env.STACK_ROOT!, runDir: env.STACK_RUN! };
    const first = supervisorPid(paths, 'upfault');
    assert.ok(first !== undefined, 'no supervisor for a service with a restart policy');
    process.kill(first, 'SIGKILL');
    await waitFor(() => supervisorPid(paths, 'upfault') === undefined);
    const pid = Number(readFileSync(path.join(env.STACK_RUN!, 'containers', 'upfault-svc-1', 'pidfile'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await waitFor(() => ps(p)[0]!.State === 'exited');
    const up = stack(p, 'up', '-d', '--progress', 'plain');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /Container upfault-svc-1 {2}Started/);
    assert.equal(ps(p)[0]!.State, 'running');
    const second = supervisorPid(paths, 'upfault');
    assert.ok(second !== undefined && second !== first, 'the supervisor was not started again');
    assert.equal(stack(p, 'down', '-t', '1').code, 0);
    await waitFor(() => supervisorPid(paths, 'upfault') === undefined);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upfault', ['upfault_default']), []);
  });

  test('Ctrl-C during up: exit 130, the waiting service is not created, the started one runs on', async () => {
    const p = project('upint', `
name: upint
services:
  db:
    image: busybox:local
    init: true
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 200ms
      retries: 1000
  app:
    image: busybox:local
    command: ["true"]
    depends_on:
      db:
        condition: service_healthy
`);
    const child = spawn(process.execPath, [BIN, 'up', '-d', '--progress', 'plain'], { cwd: p, env });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && stderr.includes('Service app  Waiting')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /error: interrupted/);
    assert.deepEqual(ps(p).map((r) => [r.Name, r.State]), [['upint-db-1', 'running']]);
    assert.equal(stack(p, 'down', '-t', '1').code, 0);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upint', ['upint_default']), []);
  });

  test('--scale runs replicas, all answering to the service name', () => {
    const p = project('upscale', 'name: upscale\nservices:\n  w:\n    image: busybox:local\n    init: true\n    command: ["sleep", "600"]\n  probe:\n    image: busybox:local\n    init: true\n    command: ["sh", "-c", "sleep 0.5; nslookup w; exec sleep 600"]\n    depends_on: [w]\n');
    const up = stack(p, 'up', '-d', '--scale', 'w=3');
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(ps(p).filter((r) => r.Service === 'w').map((r) => r.Name), ['upscale-w-1', 'upscale-w-2', 'upscale-w-3']);
    const down = stack(p, 'up', '-d', '--scale', 'w=1', '--dry-run');
    assert.match(down.stdout, /remove {3}upscale-w-3 \(scaled down\)/);
    assert.equal(stack(p, 'down', '-t', '0').code, 0);
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'upscale', ['upscale_default']), []);
  });
});

function readLog(id: string): string {
  const file = path.join(env.STACK_ROOT!, 'containers', id, 'ctr.log');
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ').slice(3).join(' '))
    .join('\n');
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
