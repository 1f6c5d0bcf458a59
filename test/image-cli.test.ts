/**
 * The image commands as a user runs them: the built binary, a store under a temp STACK_ROOT,
 * a base imported from a rootfs tar, a compose project built with `stack build`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { prepareHostForCrun } from './support/host.js';
import { BIN } from './support/cli-bin.js';

let dir: string;
let env: Record<string, string>;

function stack(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-image-cli-'));
  env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: path.join(dir, 'state'), STACK_RUN: path.join(dir, 'run') };
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('stack image', () => {
  test('import, images, tag, build (compose), inspect, save/load, rm, prune', () => {
    const imported = stack(dir, 'image', 'import', 'rootfs.tar', 'base:1');
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^sha256:[0-9a-f]{64}\n$/);

    const proj = path.join(dir, 'proj');
    mkdirSync(path.join(proj, 'app'), { recursive: true });
    writeFileSync(path.join(proj, 'compose.yaml'), 'name: demo\nservices:\n  web:\n    build:\n      context: ./app\n      args: [GREETING=hi]\n  db:\n    image: base:1\n');
    writeFileSync(path.join(proj, 'app/Dockerfile'), 'FROM base:1\nARG GREETING\nRUN echo $GREETING > /greeting\nCMD ["cat", "/greeting"]\n');
    const built = stack(proj, 'build');
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stdout, /web \[stage-0 3\/4\] RUN echo \$GREETING > \/greeting/);
    assert.match(built.stdout, /web built [0-9a-f]{12} as demo-web \(1\/3 steps cached\)/);
    const again = stack(proj, 'build');
    assert.match(again.stdout, /\(3\/3 steps cached\)/);

    const list = stack(dir, 'images');
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.ok(lines.some((l) => /^base\s+1\s+[0-9a-f]{12}\s/.test(l)), list.stdout);
    assert.ok(lines.some((l) => /^demo-web\s+latest\s+[0-9a-f]{12}\s/.test(l)), list.stdout);

    assert.equal(stack(dir, 'image', 'tag', 'demo-web', 'demo-web:v2').code, 0);
    const inspect = JSON.parse(stack(dir, 'image', 'inspect', 'demo-web:v2').stdout) as { RepoTags: string[]; Config: { Cmd: string[] } }[];
    assert.deepEqual(inspect[0]!.RepoTags.sort(), ['demo-web:latest', 'demo-web:v2']);
    assert.deepEqual(inspect[0]!.Config.Cmd, ['cat', '/greeting']);

    const saved = stack(dir, 'image', 'save', '--format', 'docker-archive', '-o', 'web.tar', 'demo-web:v2');
    assert.equal(saved.code, 0, saved.stderr);
    // removing by one name only untags; the last name deletes
    assert.match(stack(dir, 'image', 'rm', 'demo-web:v2').stdout, /^Untagged: demo-web:v2\n$/);
    const removed = stack(dir, 'image', 'rm', 'demo-web');
    assert.match(removed.stdout, /Untagged: demo-web:latest\nDeleted: sha256:/);
    const loaded = stack(dir, 'image', 'load', '-i', 'web.tar');
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /Loaded image: demo-web:v2/);

    const missing = stack(dir, 'image', 'rm', 'nosuch:1');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: image "nosuch:1" not found\n  hint: /);
    assert.doesNotMatch(missing.stderr, /at .*\.js/, 'no stack trace for a user error');

    // prune keeps the layers the build cache needs, so a rebuild is still fully cached
    assert.equal(stack(dir, 'image', 'rm', 'demo-web:v2').code, 0);
    assert.equal(stack(dir, 'image', 'prune').code, 0);
    assert.match(stack(proj, 'build').stdout, /\(3\/3 steps cached\)/);
    // prune --all removes every image no container uses, named ones too, as docker's
    const pruned = stack(dir, 'image', 'prune', '--all', '--build-cache');
    assert.match(pruned.stdout, /Dropped \d+ build cache records\n/);
    assert.equal(stack(dir, 'images', '-q').stdout, '');
    // with the cache gone too, no layer is left in the store
    assert.deepEqual(readdirSync(path.join(dir, 'state/images/layers')), []);
  });

  test('a Dockerfile error points at its line and leaves no container or mount', () => {
    const ctx = path.join(dir, 'bad');
    mkdirSync(ctx);
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM base:1\nRUN true\nCOPPY a /a\n');
    const r = stack(dir, 'image', 'build', 'bad');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*Dockerfile:3:1: .*COPPY/m);
    assert.match(r.stderr, /did you mean "COPY"/);
    const containers = path.join(dir, 'state/containers');
    assert.deepEqual(existsSync(containers) ? readdirSync(containers) : [], []);
  });
});
