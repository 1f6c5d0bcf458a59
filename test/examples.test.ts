/**
 * The examples as a newcomer runs them, offline: the base image built by its recipe, each
 * stack brought up with the built CLI, reached from the host on its published port,
 * inspected (ps, logs, exec), changed and brought up again (only the changed service is
 * recreated), and taken down, after which nothing of it is left. The examples are copied to
 * a temp dir first: the recipe and the edits write into them.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareHostForCrun } from './support/host.js';
import { BIN } from './support/cli-bin.js';
import { freePort, httpGet } from './support/net-probe.js';
import { projectLeftovers } from './support/project-leftovers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;
let env: Record<string, string>;

function stack(cwd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

interface PsRow {
  Name: string;
  Service: string;
  State: string;
  Health: string;
  Created: string;
}

const ps = (cwd: string) => JSON.parse(ok(stack(cwd, ['ps', '-a', '--format', 'json']), 'ps')) as PsRow[];

const enginePathsOf = () => ({ stateDir: env.STACK_ROOT!, runDir: env.STACK_RUN! });

before(() => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-examples-'));
  env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: path.join(dir, 'state'), STACK_RUN: path.join(dir, 'run') };
  cpSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'), { recursive: true });
  // the recipe the examples' README gives, run as a user would (with the checkout's CLI)
  const base = spawnSync('sh', [path.join(dir, 'examples/base/build.sh')], { encoding: 'utf8', env: { ...env, STACK: `${process.execPath} ${BIN}` } });
  assert.equal(base.status, 0, base.stderr);
  assert.match(base.stdout, /^sha256:[0-9a-f]{64}\n$/);
});

after(() => {
  for (const ex of ['web-api-kv', 'multi-stage', 'ci-tests']) {
    const cwd = path.join(dir, 'examples', ex);
    if (existsSync(cwd)) stack(cwd, ['down', '-v', '-t', '0']);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('examples', () => {
  test('web-api-kv: healthchecks order the start, the count lives in the named volume, a change recreates one service', async () => {
    const cwd = path.join(dir, 'examples/web-api-kv');
    const port = await freePort();
    const portEnv = { WEB_PORT: String(port) };
    ok(stack(cwd, ['up', '--wait', '--progress', 'plain'], portEnv), 'up --wait');
    const rows = ps(cwd);
    assert.deepEqual(rows.map((r) => [r.Service, r.State, r.Health]), [['api', 'running', 'healthy'], ['kv', 'running', 'healthy'], ['web', 'running', 'healthy']]);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/cgi-bin/visit`)).trim(), 'visit number 1');
    assert.equal((await httpGet(`http://127.0.0.1:${port}/cgi-bin/visit`)).trim(), 'visit number 2');
    assert.equal(ok(stack(cwd, ['exec', '-T', 'kv', 'cat', '/data/visits']), 'exec').trim(), '2');

    // only the changed service is recreated
    const before = new Map(ps(cwd).map((r) => [r.Service, r.Created]));
    const file = path.join(cwd, 'compose.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('    build: ./api\n', '    build: ./api\n    environment:\n      CHANGED: "yes"\n'));
    ok(stack(cwd, ['up', '--wait', '--progress', 'plain'], portEnv), 'up after a change');
    const after = new Map(ps(cwd).map((r) => [r.Service, r.Created]));
    assert.notEqual(after.get('api'), before.get('api'), 'api was not recreated');
    assert.equal(after.get('kv'), before.get('kv'), 'kv was recreated');
    assert.equal(after.get('web'), before.get('web'), 'web was recreated');

    // down keeps the named volume; the count goes on
    ok(stack(cwd, ['down', '-t', '2']), 'down');
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'webapikv', ['webapikv_default']), []);
    ok(stack(cwd, ['up', '--wait'], portEnv), 'up again');
    assert.equal((await httpGet(`http://127.0.0.1:${port}/cgi-bin/visit`)).trim(), 'visit number 3');
    ok(stack(cwd, ['down', '-v', '-t', '2']), 'down -v');
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'webapikv', ['webapikv_default']), []);
    assert.ok(!existsSync(path.join(env.STACK_ROOT!, 'volumes', 'webapikv_kvdata')), 'down -v kept the volume');
  });

  test('multi-stage: stages build in parallel, the unused one never; an edited page rebuilds from its COPY', async () => {
    const cwd = path.join(dir, 'examples/multi-stage');
    const port = await freePort();
    const portEnv = { SITE_PORT: String(port) };
    const up = stack(cwd, ['up', '-d', '--wait', '--progress', 'plain'], portEnv);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /Service site {2}Built .*\(\d+\/\d+ steps cached\)/);
    const index = await httpGet(`http://127.0.0.1:${port}/`);
    assert.match(index, /<h1>stack example site<\/h1>/);
    assert.match(index, /href="about.html"/);
    assert.equal((await httpGet(`http://127.0.0.1:${port}/tested.txt`)).trim(), 'checked 2 pages');

    writeFileSync(path.join(cwd, 'site/hello.txt'), 'Hello again\nEdited.\n');
    const rebuilt = stack(cwd, ['up', '-d', '--build', '--wait', '--progress', 'plain'], portEnv);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stderr, /Container site-site-1 {2}Started/);
    assert.match(await httpGet(`http://127.0.0.1:${port}/hello.html`), /<h1>Hello again<\/h1>/);
    ok(stack(cwd, ['down', '-v', '-t', '2']), 'down');
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'site', ['site_default']), []);
  });

  test('ci-tests: the tests decide the exit code', () => {
    const cwd = path.join(dir, 'examples/ci-tests');
    const pass = stack(cwd, ['up', '--build', '--exit-code-from', 'tests', '--progress', 'plain']);
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
    assert.match(pass.stdout, /tests-1 +\| 0 failure\(s\)/);
    assert.match(ok(stack(cwd, ['logs', '--no-color', 'tests']), 'logs'), /^tests-1 +\| PASS app found by service name$/m);
    const fail = stack(cwd, ['up', '--exit-code-from', 'tests', '--progress', 'quiet'], { EXPECT: 'something else' });
    assert.equal(fail.code, 1, fail.stdout + fail.stderr);
    assert.match(fail.stdout, /tests-1 +\| FAIL greets by name: expected 'something else', got 'hello, world'/);
    ok(stack(cwd, ['down', '-t', '2']), 'down');
    assert.deepEqual(projectLeftovers(enginePathsOf(), 'citests', ['citests_default']), []);
  });
});
