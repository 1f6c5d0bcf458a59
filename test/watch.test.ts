/**
 * The dev loop on real containers: a project brought up by the built CLI (busybox imported
 * into a temp store), watched in-process through WatchSession with the same Reconciler, and
 * checked from inside the containers (exec). Then `stack watch` as users run it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import { loadProject } from '../engine/index.js';
import { LABELS, projectRecords } from '../engine/reconcile/project-containers.js';
import { Reconciler } from '../engine/reconcile/reconciler.js';
import { WatchSession, type WatchEvent } from '../engine/watch/watch-session.js';
import { compileWatchRules } from '../engine/watch/watch-rules.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { BIN } from './support/cli-bin.js';
import { prepareHostForCrun } from './support/host.js';
import { projectLeftovers } from './support/project-leftovers.js';

const PROJECT = `watch${process.pid}`;
const LOOP = `["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]`;

let dir: string;
let proj: string;
let env: Record<string, string>;

function stack(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function compose(extraEnv = ''): string {
  return `
name: ${PROJECT}
services:
  web:
    image: busybox:local
    user: app
    command: ${LOOP}
    environment: { MODE: dev${extraEnv} }
    develop:
      watch:
        - { path: ./src, action: sync, target: /app, initial_sync: true, ignore: [ignored/, "*.tmp"] }
        - { path: ./only-md, action: sync, target: /docs, include: ["*.md"] }
  worker:
    image: busybox:local
    command: ${LOOP}
    develop:
      watch:
        - { path: ./worker, action: sync+restart, target: /w }
  hook:
    image: busybox:local
    command: ${LOOP}
    develop:
      watch:
        - path: ./hook
          action: sync+exec
          target: /h
          exec: { command: "sh -c 'cat /h/conf > /tmp/seen; echo $$GREETING >> /tmp/seen'", environment: { GREETING: hello } }
  rs:
    image: busybox:local
    command: ${LOOP}
    develop:
      watch:
        - { path: ./rs, action: restart }
  one:
    build: ./app
    command: ${LOOP}
    develop:
      watch:
        - { path: ./app, action: rebuild }
  two:
    build: ./app
    command: ${LOOP}
    develop:
      watch:
        - { path: ./app, action: rebuild }
`;
}

const paths = () => ({ stateDir: env.STACK_ROOT!, runDir: env.STACK_RUN! });
const reconciler = () => new Reconciler(paths());
const load = () => loadProject({ cwd: proj, env });

function containerOf(r: Reconciler, service: string) {
  const rec = projectRecords(r.containers, PROJECT).find((x) => x.labels[LABELS.service] === service);
  assert.ok(rec, `a container of ${service}`);
  return rec;
}

async function sh(r: Reconciler, service: string, script: string): Promise<string> {
  const res = await r.containers.exec(containerOf(r, service).id, { args: ['sh', '-c', script], user: { uid: 0, gid: 0 } });
  // exec hands back its output trimmed: lines here end in a newline
  const out = res.stdout.trim();
  return out === '' ? '' : `${out}\n`;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000, show?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${show ? `: ${await show()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function write(rel: string, content: string): void {
  const file = path.join(proj, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

before(() => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-watch-'));
  env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: path.join(dir, 'state'), STACK_RUN: path.join(dir, 'run') };
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  const imported = spawnSync(process.execPath, [BIN, 'image', 'import', 'rootfs.tar', 'busybox:local'], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(imported.status, 0, imported.stderr);
  proj = path.join(dir, 'proj');
  mkdirSync(proj);
  writeFileSync(path.join(proj, 'compose.yaml'), compose());
  write('src/index.html', 'v0\n');
  write('src/ignored/secret', 'no\n');
  write('src/a.tmp', 'no\n');
  write('only-md/readme.md', 'md\n');
  write('only-md/code.js', 'js\n');
  write('worker/conf', 'w0\n');
  write('hook/conf', 'h0\n');
  write('rs/trigger', '0\n');
  write('app/Dockerfile', `FROM busybox:local\nCOPY msg /msg\nCMD ${LOOP}\n`);
  write('app/msg', 'built 0\n');
});

after(() => {
  stack(proj, 'down', '-v', '-t', '0');
  const left = projectLeftovers(paths(), PROJECT, []);
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(left, [], 'down left nothing of the project');
});

describe('develop.watch rules', () => {
  test('user errors name the rule', () => {
    const base = load().project;
    const broken = structuredClone(base);
    broken.services.web!.develop!.watch[1]!.path = path.join(proj, 'nope');
    assert.throws(() => compileWatchRules(broken), (e: unknown) => e instanceof StackError && /services\.web\.develop\.watch\[1\]: path .*nope does not exist/.test(e.message));
    const rebuildImage = structuredClone(base);
    rebuildImage.services.web!.develop!.watch[0]!.action = 'rebuild';
    assert.throws(() => compileWatchRules(rebuildImage, ['web']), (e: unknown) => e instanceof StackError && /watch\[0\]: action rebuild needs a build section/.test(e.message) && e.path === 'services.web.develop.watch.0');
    const noTarget = structuredClone(base);
    delete noTarget.services.worker!.develop!.watch[0]!.target;
    assert.throws(() => compileWatchRules(noTarget, ['worker']), /services\.worker\.develop\.watch\[0\]: action sync\+restart needs a target/);
  });

  test('a rule error points at the rule in the stack file', () => {
    const where = mkdtempSync(path.join(tmpdir(), 'stack-watch-loc-'));
    try {
      writeFileSync(
        path.join(where, 'compose.yaml'),
        'services:\n  web:\n    image: busybox:local\n    develop:\n      watch:\n        - path: ./missing\n          action: sync\n          target: /srv\n',
      );
      const { project } = loadProject({ cwd: where, env: {} });
      assert.throws(() => compileWatchRules(project), (e: unknown) => {
        assert.ok(e instanceof StackError);
        assert.match(e.format(), /^compose\.yaml:6:11: services\.web\.develop\.watch\[0\]: path .*missing does not exist/);
        return true;
      });
    } finally {
      rmSync(where, { recursive: true, force: true });
    }
  });

  test('ignore, include, editor files and .git', () => {
    const [sync, md] = compileWatchRules(load().project, ['web']);
    const at = (rel: string) => path.join(proj, 'src', rel);
    assert.equal(sync!.ignores(at('index.html'), false), false);
    assert.equal(sync!.ignores(at('ignored/secret'), false), true);
    assert.equal(sync!.ignores(at('deep/x.tmp'), false), false, '*.tmp is relative to the rule path: top level only');
    assert.equal(sync!.ignores(at('a.tmp'), false), true);
    for (const f of ['.git', '.git/HEAD', 'x/.index.html.swp', 'index.html~', '4913', '.#index.html']) assert.equal(sync!.ignores(at(f), false), true, f);
    assert.equal(md!.ignores(path.join(proj, 'only-md/a.md'), false), false);
    assert.equal(md!.ignores(path.join(proj, 'only-md/a.js'), false), true);
    assert.equal(md!.ignores(path.join(proj, 'only-md/sub'), true), false, 'a directory stays watched for what it may include');
  });
});

describe('watch on running containers', () => {
  let r: Reconciler;
  let session: WatchSession;
  const events: WatchEvent[] = [];

  before(async () => {
    const up = stack(proj, 'up', '-d');
    assert.equal(up.code, 0, up.stderr);
    r = reconciler();
    const { project, graph } = load();
    session = await WatchSession.start({
      reconciler: r,
      model: { project, graph },
      reload: load,
      configFiles: [path.join(proj, 'compose.yaml')],
      pollMs: 100,
      onEvent: (e) => events.push(e),
    });
  });

  after(async () => {
    await session?.close();
  });

  test('initial sync copies what differs, owned by the container user, and leaves ignored files out', async () => {
    assert.equal(await sh(r, 'web', 'cat /app/index.html; stat -c %u:%g /app/index.html /app'), 'v0\n1000:1000\n1000:1000\n');
    assert.equal(await sh(r, 'web', 'ls -A /app'), 'index.html\n');
    assert.equal(await sh(r, 'web', 'ls /docs 2>&1 || true'), 'ls: /docs: No such file or directory\n', 'no initial_sync on the second rule');
    // a second watch start compares and copies nothing
    const again: WatchEvent[] = [];
    const { project, graph } = load();
    const s2 = await WatchSession.start({ reconciler: r, model: { project, graph }, services: ['web'], onEvent: (e) => again.push(e) });
    await s2.close();
    assert.deepEqual(again.filter((e) => e.kind === 'synced'), []);
  });

  test('sync: new, changed, deleted and renamed files and directories; include', async () => {
    write('src/new/deep.txt', 'deep\n');
    write('src/index.html', 'v1\n');
    write('only-md/more.md', 'more\n');
    write('only-md/more.js', 'js\n');
    await until('the new files', async () => (await sh(r, 'web', 'cat /app/new/deep.txt /app/index.html /docs/more.md 2>/dev/null')) === 'deep\nv1\nmore\n');
    await session.settled();
    assert.equal(await sh(r, 'web', 'ls -A /docs'), 'more.md\n', 'only what include names');
    renameSync(path.join(proj, 'src/index.html'), path.join(proj, 'src/main.html'));
    renameSync(path.join(proj, 'src/new'), path.join(proj, 'src/renamed'));
    await until('the renames', async () => (await sh(r, 'web', 'ls -A /app | tr "\\n" " "')) === 'main.html renamed\n');
    assert.equal(await sh(r, 'web', 'cat /app/renamed/deep.txt /app/main.html'), 'deep\nv1\n');
    unlinkSync(path.join(proj, 'src/main.html'));
    await until('the delete', async () => (await sh(r, 'web', 'ls -A /app | tr "\\n" " "')) === 'renamed\n');
  });

  test('a symlink never makes the sync write outside target', async () => {
    // the container puts a symlink where the host will have a directory
    await sh(r, 'web', 'ln -s /etc /app/escape');
    symlinkSync('/etc/hostname', path.join(proj, 'src/hostlink'));
    write('src/escape/planted', 'x\n');
    await until('the directory', async () => (await sh(r, 'web', 'cat /app/escape/planted 2>/dev/null')) === 'x\n');
    await session.settled();
    assert.equal(await sh(r, 'web', 'ls /etc/planted 2>/dev/null; readlink /app/hostlink; [ -L /app/escape ] && echo link || echo dir'), '/etc/hostname\ndir\n');
  });

  test('changes while the container is stopped are applied when it runs again', async () => {
    const web = containerOf(r, 'web');
    await r.containers.stop(web.id, { gracePeriod: 2000 });
    write('src/while-stopped.txt', 'later\n');
    rmSync(path.join(proj, 'src/renamed'), { recursive: true });
    await until('the waiting event', () => events.some((e) => e.kind === 'waiting' && e.service === 'web'));
    await r.containers.start(web.id);
    await until('the change applied', async () => (await sh(r, 'web', 'ls -A /app | tr "\\n" " "')) === 'escape hostlink while-stopped.txt\n', 10_000, () => sh(r, 'web', 'ls -lAR /app'));
  });

  test('sync+restart restarts the service, sync+exec runs the rule command, restart restarts', async () => {
    const worker = containerOf(r, 'worker');
    const rs = containerOf(r, 'rs');
    const started = (id: string) => r.containers.runState(id).startedAt;
    const [w0, r0] = [started(worker.id), started(rs.id)];
    write('worker/conf', 'w1\n');
    write('hook/conf', 'h1\n');
    write('rs/trigger', '1\n');
    await until('the restarts and the exec', async () => started(worker.id) !== w0 && started(rs.id) !== r0 && (await sh(r, 'hook', 'cat /tmp/seen 2>/dev/null')) === 'h1\nhello\n');
    await session.settled();
    assert.equal(await sh(r, 'worker', 'cat /w/conf'), 'w1\n');
    assert.equal(await r.containers.status(worker.id), 'running');
    const exec = events.find((e) => e.kind === 'exec');
    assert.equal(exec?.kind === 'exec' && exec.exitCode, 0);
  });

  test('rebuild: services sharing a build definition build once and are recreated', async () => {
    const image = (s: string) => containerOf(r, s).labels[LABELS.image];
    const before = [image('one'), image('two')];
    write('app/msg', 'built 1\n');
    await until('the rebuild', () => events.some((e) => e.kind === 'rebuilt'), 60_000);
    await session.settled();
    const rebuilding = events.filter((e) => e.kind === 'rebuilding');
    assert.deepEqual(rebuilding, [{ kind: 'rebuilding', services: ['one', 'two'] }], 'one build for both');
    assert.equal(image('one'), image('two'));
    assert.notEqual(image('one'), before[0]);
    assert.equal(await sh(r, 'one', 'cat /msg'), 'built 1\n');
    assert.equal(await sh(r, 'two', 'cat /msg'), 'built 1\n');
  });

  test('a stack file change reloads the model and applies it to the services it affects', async () => {
    const worker = containerOf(r, 'worker').created;
    writeFileSync(path.join(proj, 'compose.yaml'), compose(', EXTRA: "yes"'));
    await until('the reload', () => events.some((e) => e.kind === 'reloaded'), 30_000);
    assert.deepEqual(events.find((e) => e.kind === 'reloaded'), { kind: 'reloaded', services: ['web'] });
    assert.equal(await sh(r, 'web', 'echo $EXTRA'), 'yes\n');
    assert.equal(containerOf(r, 'worker').created, worker, 'other services untouched');
    // the re-created container got the tree again
    await until('the re-created container synced', async () => (await sh(r, 'web', 'cat /app/while-stopped.txt 2>/dev/null')) === 'later\n');
  });
});

describe('stack watch', () => {
  test('prints watch events, syncs, and Ctrl-C ends it with 130', async () => {
    const child = spawn(process.execPath, [BIN, 'watch', 'web'], { cwd: proj, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      await until('watching', () => out.includes('Watch enabled: web'), 30_000);
      write('src/cli.txt', 'cli\n');
      await until('the sync event', () => /Synced \S+web\S* \(services\.web\.develop\.watch\[0\]\): 1 written/.test(out), 10_000);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 130, out);
  });

  test('up --watch: watch events between the logs; Ctrl-C stops the containers and ends it with 130', async () => {
    const child = spawn(process.execPath, [BIN, 'up', '--watch', 'web'], { cwd: proj, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      await until('watching', () => out.includes('watch | Watch enabled: web'), 30_000);
      write('src/up-watch.txt', 'up\n');
      await until('the sync event', () => /watch \| Synced \S+web\S* \(services\.web\.develop\.watch\[0\]\): 1 written/.test(out), 10_000);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 130, out);
    const r = reconciler();
    assert.equal(await r.containers.status(containerOf(r, 'web').id), 'exited', 'Ctrl-C stopped the attached containers');
  });
});
