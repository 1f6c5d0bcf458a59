/**
 * Registries as a user meets them through the built `stack` binary: login and logout in
 * docker's config.json, images pushed by stack and read by skopeo (and docker, when a
 * dockerd answers), images pushed by skopeo pulled and run by `stack pull`, `up` and `run`
 * per pull_policy, platforms, errors on one line, and a pull killed mid-layer resumed.
 * The registries are real (docker-registry on 127.0.0.1); a loopback proxy in this process
 * counts what the CLI fetched, so `stack` always runs as an asynchronous child here.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { BIN } from './support/cli-bin.js';
import { prepareHostForCrun } from './support/host.js';
import { tarDir } from './support/image-fixtures.js';
import { makeMultiArchLayout, makeOciLayout, makeRootfsLayout } from './support/oci-image.js';
import { projectLeftovers } from './support/project-leftovers.js';
import { startRegistryProxy, type RegistryProxy } from './support/registry-proxy.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from './support/registry.js';
import { skopeoAccess, skopeoCopy, skopeoInspect } from './support/skopeo.js';

const PROJECT = `regcli${process.pid}`;

let dir: string;
let env: Record<string, string>;
let plain: TestRegistry;
let proxy: RegistryProxy;
/** the busybox root as a tar, for `stack image import` */
let rootfsTar: string;
const running: TestRegistry[] = [];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `stack ARGS` as a child; never synchronous, since the proxy it may talk to runs in this process. */
function stack(args: string[], opts: { input?: string; cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? dir, env: { ...env, ...opts.env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
    child.stdin!.end(opts.input ?? '');
  });
}

async function ok(args: string[], opts?: Parameters<typeof stack>[1]): Promise<Result> {
  const r = await stack(args, opts);
  assert.equal(r.code, 0, `stack ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** A user error: exit 1, the message on one line and the hint on the next, no stack trace. */
async function fails(args: string[], message: RegExp, opts?: Parameters<typeof stack>[1]): Promise<{ error: string; hint: string }> {
  const r = await stack(args, opts);
  assert.equal(r.code, 1, `stack ${args.join(' ')} should fail: ${r.stdout}${r.stderr}`);
  const m = /(?:^|\n)error: ([^\n]*)\n {2}hint: ([^\n]*)\n$/.exec(r.stderr);
  assert.ok(m, `not an error line and a hint line: ${JSON.stringify(r.stderr)}`);
  assert.match(m[1]!, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'a stack trace');
  return { error: m[1]!, hint: m[2]! };
}

/** A fresh STACK_ROOT, for a pull that must start from nothing. */
function freshRoot(): Record<string, string> {
  return { STACK_ROOT: mkdtempSync(path.join(dir, 'root-')) };
}

async function registry(opts?: RegistryOptions): Promise<TestRegistry> {
  const r = await startRegistry(opts);
  running.push(r);
  return r;
}

/** `N: digest: sha256:... size: M`, docker's last line of a push */
function pushedDigest(r: Result): string {
  const m = /: digest: (sha256:[0-9a-f]{64}) size: \d+\n/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return m[1]!;
}

/** Why docker cannot be used here, or undefined when dockerd answers. */
function dockerUnavailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: '/var/run/docker.sock', path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `dockerd answered /_ping with ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', (e) => resolve(`dockerd does not answer at /var/run/docker.sock (${e.message})`));
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`)) : resolve(stdout))),
  );
}

before(async () => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-regcli-'));
  env = {
    PATH: process.env.PATH ?? '',
    HOME: '/root',
    STACK_ROOT: path.join(dir, 'state'),
    STACK_RUN: path.join(dir, 'run'),
    STACK_CONFIG: path.join(dir, 'config'),
    DOCKER_CONFIG: path.join(dir, 'docker'),
  };
  rootfsTar = tarDir(makeBusyboxRootfs(path.join(dir, 'rootfs')), path.join(dir, 'rootfs.tar'));
  plain = await registry();
  proxy = await startRegistryProxy(plain.host);
});

after(async () => {
  const proj = path.join(dir, 'proj');
  if (existsSync(path.join(proj, 'compose.yaml'))) await stack(['down', '-t', '0'], { cwd: proj });
  await proxy?.close();
  await Promise.all(running.map((r) => r.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('registries through the CLI', () => {
  test("login --password-stdin saves docker's config.json; push and pull use it; a wrong password is one line; logout forgets it", async () => {
    const reg = await registry({ htpasswd: { user: 'alice', password: 's3cret pass' } });
    const config = path.join(env.DOCKER_CONFIG!, 'config.json');
    const wrong = await fails(['login', '-u', 'alice', '--password-stdin', reg.host], /^registry 127\.0\.0\.1:\d+ refused the credentials of alice: unauthorized$/, { input: 'nope\n' });
    assert.match(wrong.hint, /stack login 127\.0\.0\.1:\d+/);
    assert.ok(!existsSync(config), 'a refused login saved credentials');

    const login = await ok(['login', '-u', 'alice', '--password-stdin', `http://${reg.host}/v2/`], { input: 's3cret pass\n' });
    assert.equal(login.stdout, `Login Succeeded (credentials saved in ${config})\n`);
    assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')), { auths: { [reg.host]: { auth: Buffer.from('alice:s3cret pass').toString('base64') } } });
    assert.equal(statSync(config).mode & 0o777, 0o600);

    const ref = `${reg.host}/basic/busybox:v1`;
    await ok(['image', 'import', rootfsTar, ref]);
    const pushed = await ok(['image', 'push', ref]);
    const digest = pushedDigest(pushed);
    const pulled = await ok(['image', 'pull', ref], { env: freshRoot() });
    assert.equal(pulled.stdout, `${ref}\n`);
    assert.match(pulled.stderr, new RegExp(`Digest: ${digest}\nStatus: Downloaded newer image for ${ref}\n`));

    const out = await ok(['logout', reg.host]);
    assert.equal(out.stdout, `Removing login credentials for ${reg.host}\n`);
    assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')), { auths: {} });
    assert.equal((await ok(['logout', reg.host])).stdout, `Not logged in to ${reg.host}\n`);
    const anonymous = await fails(['image', 'pull', ref], /^registry 127\.0\.0\.1:\d+ requires authentication$/, { env: freshRoot() });
    assert.equal(anonymous.hint, `log in first: stack login ${reg.host}`);
  });

  test('pushed by stack: skopeo inspects and copies it; docker pulls and runs it when a dockerd answers', async (t) => {
    const ref = `${plain.host}/stack/busybox:v1`;
    const imported = (await ok(['image', 'import', rootfsTar, ref])).stdout.trim();
    const digest = pushedDigest(await ok(['image', 'push', ref]));
    const seen = (await skopeoInspect(`docker://${ref}`, skopeoAccess(plain))) as { Digest: string; Os: string; Architecture: string };
    assert.equal(seen.Digest, digest);
    assert.equal(seen.Os, 'linux');
    const copy = path.join(dir, 'skopeo-copy');
    await skopeoCopy(`docker://${ref}`, `dir:${copy}`, { src: skopeoAccess(plain) });
    // the config is the image: its digest is the id stack gave it
    const manifest = JSON.parse(readFileSync(path.join(copy, 'manifest.json'), 'utf8')) as { config: { digest: string } };
    assert.equal(manifest.config.digest, imported);

    const why = await dockerUnavailable();
    if (why) {
      t.diagnostic(`docker pull + docker run not tried: ${why}`);
      t.skip(why);
      return;
    }
    // 127.0.0.0/8 is an insecure registry for docker by default: plain HTTP is fine
    await run('docker', ['pull', ref]);
    try {
      assert.equal(await run('docker', ['run', '--rm', '--network', 'none', ref, 'sh', '-c', 'echo pushed by stack, run by docker']), 'pushed by stack, run by docker\n');
      assert.match(await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref]), new RegExp(imported));
    } finally {
      await run('docker', ['rmi', ref]).catch(() => undefined);
    }
  });

  test('pushed by skopeo: stack pull then up runs it without asking again; always pulls again; never with a missing image is one line', async () => {
    const layoutDir = path.join(dir, 'busybox-layout');
    makeRootfsLayout(layoutDir, readFileSync(rootfsTar), { tag: 'v1', cmd: ['sh'] });
    await skopeoCopy(`oci:${layoutDir}:v1`, `docker://${plain.host}/skopeo/busybox:v1`, { dest: skopeoAccess(plain) });
    // through the proxy, so every request the CLI makes is seen
    const image = `${proxy.host}/skopeo/busybox:v1`;
    const proj = path.join(dir, 'proj');
    mkdirSync(proj);
    writeFileSync(
      path.join(proj, 'compose.yaml'),
      [
        `name: ${PROJECT}`,
        'services:',
        '  web:',
        `    image: ${image}`,
        '    command: ["sh", "-c", "echo served from the registry; sleep 300"]',
        '  fresh:',
        `    image: ${image}`,
        '    pull_policy: always',
        '  gone:',
        `    image: ${proxy.host}/skopeo/busybox:gone`,
        '  offline:',
        `    image: ${proxy.host}/skopeo/busybox:absent`,
        '    pull_policy: never',
        '',
      ].join('\n'),
    );
    const paths = { stateDir: env.STACK_ROOT!, runDir: env.STACK_RUN! };

    proxy.reset();
    const pulled = await ok(['pull', 'web'], { cwd: proj });
    assert.match(pulled.stderr, new RegExp(`Status: Downloaded newer image for ${image.replace(/\./g, '\\.')}\n`));
    assert.equal(proxy.blobGets().length, 2, 'config and layer');

    proxy.reset();
    await ok(['up', '-d', 'web'], { cwd: proj });
    assert.equal(proxy.requests.length, 0, 'pull_policy missing asked the registry about a stored image');
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('served from the registry'); i++) {
      logs = (await ok(['logs', '--no-log-prefix', 'web'], { cwd: proj })).stdout;
      await sleep(100);
    }
    assert.equal(logs, 'served from the registry\n');

    proxy.reset();
    const fresh = await ok(['run', '--rm', '--no-deps', 'fresh', 'echo', 'ran in the pulled image'], { cwd: proj });
    assert.equal(fresh.stdout, 'ran in the pulled image\n');
    assert.match(fresh.stderr, /Status: Image is up to date for /);
    assert.deepEqual(proxy.requests.map((r) => `${r.method} ${r.path}`), ['GET /v2/', 'GET /v2/skopeo/busybox/manifests/v1']);

    const gone = await fails(['run', '--rm', '--no-deps', 'gone', 'true'], /^service "gone": image 127\.0\.0\.1:\d+\/skopeo\/busybox:gone not found: registry 127\.0\.0\.1:\d+ has no tag gone in skopeo\/busybox$/, { cwd: proj });
    assert.match(gone.hint, /check the name and tag/);

    proxy.reset();
    const never = await fails(['run', '--rm', '--no-deps', 'offline', 'true'], /^service "offline": image 127\.0\.0\.1:\d+\/skopeo\/busybox:absent is not in the local store$/, { cwd: proj });
    assert.match(never.hint, /pulls are off \(pull_policy: never/);
    assert.equal(proxy.requests.length, 0);

    await ok(['down', '-t', '0'], { cwd: proj });
    assert.deepEqual(projectLeftovers(paths, PROJECT, [`${PROJECT}_default`]), []);
  });

  test('a multi-arch image: the platform chosen with --platform; one not offered is one line', async () => {
    const layoutDir = path.join(dir, 'multi-layout');
    await makeMultiArchLayout(layoutDir, { tag: 'v1' });
    await skopeoCopy(`oci:${layoutDir}:v1`, `docker://${plain.host}/multi/app:v1`, { dest: skopeoAccess(plain), all: true });
    const ref = `${plain.host}/multi/app:v1`;
    const arch = async () => (JSON.parse((await ok(['image', 'inspect', ref])).stdout) as { Architecture: string }[])[0]!.Architecture;
    await ok(['image', 'pull', '--platform', 'linux/arm64', ref]);
    assert.equal(await arch(), 'arm64');
    await ok(['image', 'pull', '--platform', 'linux/amd64', ref]);
    assert.equal(await arch(), 'amd64');
    const none = await fails(['image', 'pull', '--platform', 'linux/s390x', ref], /^image 127\.0\.0\.1:\d+\/multi\/app:v1 has no variant for linux\/s390x$/);
    assert.equal(none.hint, 'it is published for linux/amd64, linux/arm64; choose one with platform: (or --platform)');
    await fails(['image', 'pull', '--platform', 'linux', ref], /^invalid platform "linux"$/);
  });

  test('a missing image and an untrusted registry are one-line errors; the CA in STACK_CONFIG/certs.d fixes the second', async () => {
    const missing = await fails(['image', 'pull', `${plain.host}/nosuch/app:v1`], /^image 127\.0\.0\.1:\d+\/nosuch\/app:v1 not found: registry 127\.0\.0\.1:\d+ has no tag v1 in nosuch\/app$/);
    assert.match(missing.hint, /check the name and tag/);
    await fails(['image', 'push', `${plain.host}/nosuch/app:v1`], /^image 127\.0\.0\.1:\d+\/nosuch\/app:v1 is not in the local store$/);

    const tls = await registry({ tls: true });
    const ca = path.join(env.STACK_CONFIG!, 'certs.d', tls.host, 'ca.crt');
    const untrusted = await fails(['image', 'pull', `${tls.host}/any/app:v1`], /^the TLS certificate of registry 127\.0\.0\.1:\d+ is not trusted: /);
    assert.equal(untrusted.hint, `put the CA that signed it at ${ca}`);
    mkdirSync(path.dirname(ca), { recursive: true });
    copyFileSync(tls.caFile!, ca);
    // trusted now: the registry itself answers
    await fails(['image', 'pull', `${tls.host}/any/app:v1`], /^image 127\.0\.0\.1:\d+\/any\/app:v1 not found/);
  });

  test('a pull killed mid-layer goes on from its ingest file when run again', async () => {
    const layoutDir = path.join(dir, 'big-layout');
    const img = await makeOciLayout(layoutDir, { layers: 1, bytesPerLayer: 512 * 1024, tag: 'v1' });
    await skopeoCopy(`oci:${layoutDir}:v1`, `docker://${plain.host}/resume/big:v1`, { dest: skopeoAccess(plain) });
    const layer = img.layers[0]!;
    const ref = `${proxy.host}/resume/big:v1`;
    const root = freshRoot();
    const ingest = path.join(root.STACK_ROOT!, 'images/ingest', layer.digest.slice('sha256:'.length));
    const HELD = 200_000;
    proxy.reset();
    proxy.fault = (r) => (r.path.endsWith(`/blobs/${layer.digest}`) && r.range === undefined ? { hold: HELD } : undefined);
    try {
      const child = spawn(process.execPath, [BIN, 'image', 'pull', ref], { env: { ...env, ...root }, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      for (let i = 0; i < 200 && !(existsSync(ingest) && statSync(ingest).size === HELD); i++) await sleep(50);
      assert.equal(statSync(ingest).size, HELD, 'the held bytes never reached the ingest file');
      child.kill('SIGKILL');
      await exited;
    } finally {
      proxy.fault = () => undefined;
    }
    proxy.reset();
    await ok(['image', 'pull', ref], { env: root });
    assert.deepEqual(proxy.requests.filter((r) => r.path.endsWith(`/blobs/${layer.digest}`)).map((r) => r.range), [`bytes=${HELD}-`]);
    assert.ok(!existsSync(ingest));
    const inspected = JSON.parse((await ok(['image', 'inspect', ref], { env: root })).stdout) as { Id: string }[];
    assert.equal(inspected[0]!.Id, img.config.digest);
  });
});

