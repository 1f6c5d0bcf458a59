/**
 * The registry client against real registries (Debian's docker-registry, distribution 2.8,
 * on 127.0.0.1): plain HTTP, TLS with a CA in certs.d, htpasswd basic auth, bearer tokens
 * from a token server on loopback. Images go in by stack and by skopeo and come back out by
 * the other; a loopback proxy counts what a pull fetched and breaks downloads on purpose.
 * The pure parts (challenges, platforms, credentials, hosts, pull policies) first.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import { sha256 } from '../engine/image/store/digest.js';
import { ImageStore, type StoredImage } from '../engine/image/store/image-store.js';
import type { Service } from '../engine/model/types.js';
import { parseChallenges } from '../engine/registry/challenge.js';
import { CredentialStore } from '../engine/registry/credentials.js';
import { ImagePuller } from '../engine/registry/image-puller.js';
import { login, logout, registryOfServer } from '../engine/registry/login.js';
import { hostPlatform, parsePlatform, selectManifest } from '../engine/registry/platform.js';
import { pullPeriod, shouldPull } from '../engine/registry/pull-policy.js';
import { pullImage, type PullEvent, type PullOptions } from '../engine/registry/pull.js';
import { pushImage, type PushEvent } from '../engine/registry/push.js';
import { Registries } from '../engine/registry/registries.js';
import { allowsPlainHttp, isLoopback, registryConfig, tlsFilesFor } from '../engine/registry/registry-hosts.js';
import type { EnginePaths } from '../engine/runtime/paths.js';
import { filesUnder, tarDir, tinyRootfsTar } from './support/image-fixtures.js';
import { freePort } from './support/net-probe.js';
import { makeMultiArchLayout, makeOciLayout, MEDIA, type OciImage, type OciMultiArch } from './support/oci-image.js';
import { startRegistryProxy, type RegistryProxy } from './support/registry-proxy.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from './support/registry.js';
import { skopeoAccess, skopeoCopy, skopeoInspect } from './support/skopeo.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-regtest-'));
const running: TestRegistry[] = [];
const proxies: RegistryProxy[] = [];
const clients: Registries[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(running.map((r) => r.stop()));
  rmSync(base, { recursive: true, force: true });
});

async function registry(opts?: RegistryOptions): Promise<TestRegistry> {
  const r = await startRegistry(opts);
  running.push(r);
  return r;
}

async function proxyTo(reg: TestRegistry): Promise<RegistryProxy> {
  const p = await startRegistryProxy(reg.host);
  proxies.push(p);
  return p;
}

/** One engine's state: its own STACK_ROOT, config dir and docker credentials file. */
interface Engine {
  paths: EnginePaths;
  store: ImageStore;
  registries: Registries;
  pull(ref: string, opts?: PullOptions): Promise<{ image: StoredImage; status: string; digest: string; events: PullEvent[] }>;
  push(ref: string): Promise<{ digest: string; events: PushEvent[] }>;
}

let engines = 0;
function engine(opts: { configDir?: string; credentialsFile?: string } = {}): Engine {
  const root = path.join(base, `engine-${++engines}`);
  const paths = { stateDir: path.join(root, 'state'), runDir: path.join(root, 'run') };
  const store = ImageStore.open(paths);
  const registries = new Registries({
    config: registryConfig({ STACK_CONFIG: opts.configDir ?? path.join(root, 'config') }),
    credentials: new CredentialStore(opts.credentialsFile ?? path.join(root, 'docker/config.json')),
  });
  clients.push(registries);
  return {
    paths,
    store,
    registries,
    async pull(ref, pullOpts = {}) {
      const events: PullEvent[] = [];
      const r = await pullImage(store, registries, paths, ref, {
        ...pullOpts,
        onEvent: (e) => {
          events.push(e);
          pullOpts.onEvent?.(e);
        },
      });
      return { ...r, events };
    },
    async push(ref) {
      const events: PushEvent[] = [];
      const r = await pushImage(store, registries, paths, ref, { onEvent: (e) => events.push(e) });
      return { digest: r.digest, events };
    },
  };
}

/** What a store holds: images, blobs, extracted layers, and half-downloaded blobs. */
function holdings(e: Engine) {
  const root = e.store.root;
  return {
    images: e.store.list().length,
    blobs: filesUnder(path.join(root, 'oci/blobs')),
    layers: existsSync(path.join(root, 'layers')) ? readdirSync(path.join(root, 'layers')) : [],
    ingest: filesUnder(path.join(root, 'ingest')),
  };
}
const NOTHING = { images: 0, blobs: [], layers: [], ingest: [] };

/** Rejects with a StackError of one line whose message matches. */
async function refused(p: Promise<unknown>, message: RegExp, kind?: StackError['kind']): Promise<StackError> {
  let error: unknown;
  await p.then(
    () => assert.fail(`expected a failure matching ${message}`),
    (e: unknown) => (error = e),
  );
  assert.ok(error instanceof StackError, `not a StackError: ${(error as Error).stack}`);
  assert.match(error.message, message);
  assert.ok(!error.message.includes('\n'), `not one line: ${error.message}`);
  if (kind) assert.equal(error.kind, kind);
  return error;
}

function layerEvents(events: PullEvent[], phase: string): string[] {
  return events.flatMap((e) => (e.kind === 'layer' && e.phase === phase ? [e.digest] : [])).sort();
}

function blobFile(reg: TestRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(reg.dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/** An OCI layout under base, made once per name. */
const layouts = new Map<string, Promise<OciImage>>();
function layout(name: string, opts: Parameters<typeof makeOciLayout>[1]): { dir: string; image: Promise<OciImage> } {
  const dir = path.join(base, 'layouts', name);
  if (!layouts.has(name)) layouts.set(name, makeOciLayout(dir, opts));
  return { dir, image: layouts.get(name)! };
}

/** Pushes an image of one uncompressed layer through the API by hand; its layer's digest. */
async function putImage(reg: TestRegistry, repo: string, tag: string, layer: Buffer): Promise<string> {
  const put = async (bytes: Buffer) => {
    const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const at = new URL(start.headers.get('location')!, reg.url);
    at.searchParams.set('digest', sha256(bytes));
    const done = await fetch(at, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(done.status, 201, await done.text());
    return { digest: sha256(bytes), size: bytes.length };
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: MEDIA.config, ...(await put(config)) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await put(layer)) }],
  };
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': MEDIA.manifest }, body: JSON.stringify(manifest) });
  assert.equal(res.status, 201, await res.text());
  return sha256(layer);
}

async function skopeoPush(reg: TestRegistry, name: string, opts: Parameters<typeof makeOciLayout>[1], repo: string): Promise<OciImage> {
  const { dir, image } = layout(name, opts);
  const img = await image;
  await skopeoCopy(`oci:${dir}:${img.tag}`, `docker://${reg.host}/${repo}`, { dest: skopeoAccess(reg) });
  return img;
}

describe('registry logic', () => {
  test('WWW-Authenticate challenges: bearer and basic, quoted values with commas and escapes, several in one header', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    assert.deepEqual(parseChallenges('Negotiate abc, Basic realm=x, BEARER Realm="a\\"b" , error=invalid_token'), [
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'a"b', error: 'invalid_token' } },
    ]);
    assert.deepEqual(parseChallenges(['Basic realm="one"', 'Bearer realm="two"']).map((c) => c.params.realm), ['one', 'two']);
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges('Digest realm="x", nonce="y"'), []);
  });

  test('platforms: parsed and normalized as containerd does; an index entry is chosen for the platform asked', () => {
    assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('Linux/aarch64/v8'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    for (const bad of ['linux', 'linux/', 'linux/arm/v7/x', '/amd64']) assert.throws(() => parsePlatform(bad), /invalid platform/);

    const d = (digest: string, platform: object, annotations?: Record<string, string>) => ({ mediaType: MEDIA.manifest, digest, size: 1, platform, ...(annotations && { annotations }) }) as never;
    const index = [
      d('amd64', { os: 'linux', architecture: 'amd64' }),
      d('attest', { os: 'linux', architecture: 'arm64' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
      d('arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      d('armv6', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      d('win', { os: 'windows', architecture: 'amd64' }),
    ];
    const pick = (p: string) => (selectManifest(index, parsePlatform(p)) as { digest: string } | undefined)?.digest;
    assert.equal(pick('linux/amd64'), 'amd64');
    assert.equal(pick('linux/arm64'), 'arm64');
    assert.equal(pick('linux/aarch64'), 'arm64');
    // an arm v7 machine runs v6 code; a v5 one does not
    assert.equal(pick('linux/arm/v7'), 'armv6');
    assert.equal(pick('linux/arm/v5'), undefined);
    assert.equal(pick('windows/amd64'), 'win');
    assert.equal(pick('linux/s390x'), undefined);
  });

  test("credentials: docker's config.json read in its key forms, written in its format, other settings kept", () => {
    const dir = mkdtempSync(path.join(base, 'creds-'));
    const file = path.join(dir, 'config.json');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(
      file,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
          'http://legacy.example:5000/v2/': { auth: b64('old:pw') },
          'plain.example': { username: 'u', password: 'p' },
          'broken.example': { auth: b64('no-colon') },
        },
        credsStore: 'desktop',
        psFormat: 'table {{.ID}}',
      }),
    );
    const store = new CredentialStore(file);
    // the password is everything after the first colon
    assert.deepEqual(store.get('docker.io'), { username: 'hubuser', password: 'hub:pass' });
    assert.deepEqual(store.get('legacy.example:5000'), { username: 'old', password: 'pw' });
    assert.deepEqual(store.get('plain.example'), { username: 'u', password: 'p' });
    assert.equal(store.get('other.example'), undefined);
    assert.throws(() => store.get('broken.example'), /damaged/);
    assert.equal(store.helperFor('other.example'), 'desktop');

    store.set('127.0.0.1:5000', { username: 'alice', password: 's3cret pass' });
    store.set('docker.io', { username: 'hub2', password: 'x' });
    const written = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(written.auths['127.0.0.1:5000'], { auth: b64('alice:s3cret pass') });
    assert.deepEqual(written.auths['https://index.docker.io/v1/'], { auth: b64('hub2:x') });
    assert.equal(written.credsStore, 'desktop');
    assert.equal(written.psFormat, 'table {{.ID}}');
    assert.equal(statSync(file).mode & 0o777, 0o600);

    assert.equal(store.remove('legacy.example:5000'), true);
    assert.equal(store.remove('legacy.example:5000'), false);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths).sort(), ['127.0.0.1:5000', 'broken.example', 'https://index.docker.io/v1/', 'plain.example']);

    assert.equal(new CredentialStore(path.join(dir, 'missing/config.json')).get('docker.io'), undefined);
    writeFileSync(path.join(dir, 'bad.json'), '{"auths": ');
    assert.throws(() => new CredentialStore(path.join(dir, 'bad.json')).get('docker.io'), /is not a valid docker config/);

    assert.equal(registryOfServer(undefined), 'docker.io');
    assert.equal(registryOfServer('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(registryOfServer('https://Registry.Example:5000/v2/'), 'registry.example:5000');
    assert.equal(registryOfServer('127.0.0.1:5000'), '127.0.0.1:5000');
  });

  test('registry hosts: plain HTTP for loopback and listed names or CIDRs only; certs.d as docker reads it', () => {
    const dir = mkdtempSync(path.join(base, 'hosts-'));
    writeFileSync(path.join(dir, 'registries.json'), JSON.stringify({ 'insecure-registries': ['registry.lan:5000', 'bare.lan', '10.1.0.0/16'] }));
    const cfg = registryConfig({ STACK_CONFIG: dir, STACK_INSECURE_REGISTRIES: 'extra.lan:443, 192.168.7.7' });
    assert.deepEqual(cfg.insecure, ['registry.lan:5000', 'bare.lan', '10.1.0.0/16', 'extra.lan:443', '192.168.7.7']);
    for (const r of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.8.9.10', '[::1]:5000']) {
      assert.ok(isLoopback(r), r);
      assert.ok(allowsPlainHttp(r, cfg), r);
    }
    for (const r of ['registry.lan:5000', 'bare.lan', 'bare.lan:8080', '10.1.2.3:5000', 'extra.lan:443', '192.168.7.7:5000']) assert.ok(allowsPlainHttp(r, cfg), r);
    for (const r of ['registry.lan:6000', 'docker.io', '10.2.0.1:5000', '128.0.0.1', 'localhost.example.com', '192.168.7.8']) assert.ok(!allowsPlainHttp(r, cfg), r);

    const certs = path.join(dir, 'certs.d/registry.lan:5000');
    mkdirSync(certs, { recursive: true });
    writeFileSync(path.join(certs, 'ca.crt'), 'CA ONE');
    writeFileSync(path.join(certs, 'extra.crt'), 'CA TWO');
    writeFileSync(path.join(certs, 'client.cert'), 'CLIENT');
    writeFileSync(path.join(certs, 'client.key'), 'KEY');
    const files = tlsFilesFor('registry.lan:5000', cfg);
    assert.deepEqual(files.ca.map(String), ['CA ONE', 'CA TWO']);
    assert.equal(String(files.cert), 'CLIENT');
    assert.equal(String(files.key), 'KEY');
    assert.deepEqual(tlsFilesFor('other.lan', cfg), { ca: [] });
    rmSync(path.join(certs, 'client.key'));
    assert.throws(() => tlsFilesFor('registry.lan:5000', cfg), /client\.cert has no matching key file client\.key/);

    writeFileSync(path.join(dir, 'registries.json'), '{"insecure-registries": "registry.lan"}');
    assert.throws(() => registryConfig({ STACK_CONFIG: dir }), /must be a list of strings/);
    writeFileSync(path.join(dir, 'registries.json'), '{nope');
    assert.throws(() => registryConfig({ STACK_CONFIG: dir }), /is not valid JSON/);
  });

  test("pull_policy: compose's policies as periods, and when each pulls", () => {
    const DAY = 86_400_000;
    assert.equal(pullPeriod(undefined, 'x'), Infinity);
    assert.equal(pullPeriod('missing', 'x'), Infinity);
    assert.equal(pullPeriod('if_not_present', 'x'), Infinity);
    assert.equal(pullPeriod('always', 'x'), 0);
    assert.equal(pullPeriod('refresh', 'x'), 0);
    assert.equal(pullPeriod('never', 'x'), undefined);
    assert.equal(pullPeriod('build', 'x'), undefined);
    assert.equal(pullPeriod('daily', 'x'), DAY);
    assert.equal(pullPeriod('weekly', 'x'), 7 * DAY);
    assert.equal(pullPeriod('every_1s', 'x'), 1000);
    assert.equal(pullPeriod('every_12h', 'x'), 12 * 3_600_000);
    assert.equal(pullPeriod('every_1h30m', 'x'), 90 * 60_000);
    assert.equal(pullPeriod('every_2d', 'x'), 2 * DAY);
    assert.equal(pullPeriod('every_1w1d', 'x'), 8 * DAY);
    for (const bad of ['sometimes', 'every_', 'every_0s', 'every_soon', 'Daily']) {
      assert.throws(() => pullPeriod(bad, 'services.web.pull_policy'), (e: unknown) => e instanceof StackError && /^services\.web\.pull_policy: invalid pull_policy/.test(e.message));
    }

    const now = 1_000_000_000;
    // never: not even when missing
    assert.equal(shouldPull(undefined, false, undefined, now), false);
    // missing: only when not stored
    assert.equal(shouldPull(Infinity, false, undefined, now), true);
    assert.equal(shouldPull(Infinity, true, undefined, now), false);
    // always
    assert.equal(shouldPull(0, true, now, now), true);
    // periods: when the last pull is as old as the period, or unknown
    assert.equal(shouldPull(DAY, true, now - DAY + 1, now), false);
    assert.equal(shouldPull(DAY, true, now - DAY, now), true);
    assert.equal(shouldPull(DAY, true, undefined, now), true);
    assert.equal(shouldPull(DAY, false, now, now), true);
  });
});

describe('registries', () => {
  let plain: TestRegistry;
  let proxy: RegistryProxy;
  before(async () => {
    plain = await registry();
    proxy = await proxyTo(plain);
  });

  test('plain HTTP: pushed by stack and pulled back with the same image id and manifest digest; again it is up to date; skopeo reads it', async () => {
    const src = engine();
    const ref = `${plain.host}/stack/tiny:v1`;
    const img = await src.store.importRootfs(tinyRootfsTar(mkdtempSync(path.join(base, 'rootfs-'))), ref);
    const pushed = await src.push(ref);
    assert.equal(pushed.digest, img.manifestDigest);
    const uploaded = pushed.events.flatMap((e) => (e.kind === 'blob' && e.phase === 'done' ? [e.digest] : [])).sort();
    assert.deepEqual(uploaded, [img.id, img.layers[0]!.digest].sort());
    // the registry has them now: nothing is uploaded again
    const again = await src.push(ref);
    assert.equal(again.digest, img.manifestDigest);
    assert.deepEqual(again.events.flatMap((e) => (e.kind === 'blob' ? [e.phase] : [])).filter((p) => p !== 'waiting'), ['exists', 'exists']);

    const dst = engine();
    const pulled = await dst.pull(ref);
    assert.equal(pulled.status, 'downloaded');
    assert.equal(pulled.image.id, img.id);
    assert.equal(pulled.image.manifestDigest, img.manifestDigest);
    assert.equal(pulled.digest, img.manifestDigest);
    assert.deepEqual(pulled.image.names, [ref]);
    assert.deepEqual(pulled.image.repoDigests, [`${plain.host}/stack/tiny@${img.manifestDigest}`]);
    assert.deepEqual(pulled.image.layers.map((l) => l.diffId), img.layers.map((l) => l.diffId));
    assert.equal(readFileSync(path.join(pulled.image.layers[0]!.dir, 'etc/os-release'), 'utf8'), 'NAME=tiny\n');
    const second = await dst.pull(ref);
    assert.equal(second.status, 'up-to-date');
    assert.deepEqual(second.events.filter((e) => e.kind === 'layer'), []);
    // by digest too, without a name
    const byDigest = await engine().pull(`${plain.host}/stack/tiny@${img.manifestDigest}`);
    assert.equal(byDigest.image.id, img.id);
    assert.deepEqual(byDigest.image.names, []);

    const seen = (await skopeoInspect(`docker://${ref}`, skopeoAccess(plain))) as { Digest: string; Layers: string[]; Os: string };
    assert.equal(seen.Digest, img.manifestDigest);
    assert.deepEqual(seen.Layers, [img.layers[0]!.digest]);
    // dir: keeps what it copies as it is: the manifest arrives byte for byte
    const out = path.join(base, 'skopeo-out');
    await skopeoCopy(`docker://${ref}`, `dir:${out}`, { src: skopeoAccess(plain) });
    assert.equal(sha256(readFileSync(path.join(out, 'manifest.json'))), img.manifestDigest);
    assert.equal(sha256(readFileSync(path.join(out, img.layers[0]!.digest.slice('sha256:'.length)))), img.layers[0]!.digest);
  });

  test('push: a blob larger than a chunk goes in PATCH chunks; one the registry holds in another repository is mounted, not sent', async () => {
    const src = engine();
    const ref = `${proxy.host}/chunks/app:v1`;
    const img = await src.store.importRootfs(tinyRootfsTar(mkdtempSync(path.join(base, 'rootfs-'))), ref);
    const layer = img.layers[0]!;
    assert.ok(layer.size > 8192 && layer.size <= 12288, String(layer.size));
    proxy.reset();
    const events: PushEvent[] = [];
    const pushed = await pushImage(src.store, src.registries, src.paths, ref, { chunkSize: 4096, onEvent: (e) => events.push(e) });
    assert.equal(pushed.digest, img.manifestDigest);
    const patches = proxy.requests.filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, 3, proxy.requests.map((r) => `${r.method} ${r.path}`).join('\n'));
    assert.deepEqual(
      events.flatMap((e) => (e.kind === 'blob' && e.digest === layer.digest && e.phase === 'uploading' ? [e.bytes] : [])),
      [0, 4096, 8192, layer.size],
    );
    assert.equal((await engine().pull(ref)).image.id, img.id);

    const copy = `${proxy.host}/chunks/copy:v1`;
    await src.store.tag(ref, copy);
    proxy.reset();
    const mounted = await src.push(copy);
    assert.equal(mounted.digest, img.manifestDigest);
    assert.deepEqual(mounted.events.flatMap((e) => (e.kind === 'blob' && e.phase === 'mounted' ? [[e.digest, e.from]] : [])).sort(), [
      [img.id, 'chunks/app'],
      [layer.digest, 'chunks/app'],
    ].sort());
    assert.ok(!proxy.requests.some((r) => r.method === 'PATCH' || (r.method === 'PUT' && r.path.includes('/blobs/'))), 'a blob was sent again');
  });

  test('layers the store holds are not downloaded again; an up-to-date pull fetches only the manifest', async () => {
    // the same generator gives both images their first two layers
    const a = await skopeoPush(plain, 'two', { layers: 2, bytesPerLayer: 8192, tag: 'v1' }, 'shared/a:v1');
    const b = await skopeoPush(plain, 'three', { layers: 3, bytesPerLayer: 8192, tag: 'v1' }, 'shared/b:v1');
    assert.deepEqual(b.layers.slice(0, 2), a.layers);
    const e = engine();
    proxy.reset();
    await e.pull(`${proxy.host}/shared/a:v1`);
    assert.deepEqual(proxy.blobGets().sort(), [a.config.digest, ...a.layers.map((l) => l.digest)].sort());

    proxy.reset();
    const pb = await e.pull(`${proxy.host}/shared/b:v1`);
    assert.equal(pb.image.id, b.config.digest);
    assert.deepEqual(proxy.blobGets().sort(), [b.config.digest, b.layers[2]!.digest].sort());
    assert.deepEqual(layerEvents(pb.events, 'exists'), a.layers.map((l) => l.digest).sort());
    assert.deepEqual(layerEvents(pb.events, 'done'), [b.layers[2]!.digest]);

    proxy.reset();
    assert.equal((await e.pull(`${proxy.host}/shared/a:v1`)).status, 'up-to-date');
    assert.deepEqual(proxy.requests.map((r) => `${r.method} ${r.path}`), ['GET /v2/shared/a/manifests/v1']);
  });

  test('a dropped connection is picked up where it stopped, with Range', async () => {
    const img = await skopeoPush(plain, 'big', { layers: 1, bytesPerLayer: 256 * 1024, tag: 'v1' }, 'resume/cut:v1');
    const layer = img.layers[0]!;
    assert.ok(layer.size > 200_000);
    proxy.reset();
    proxy.fault = (r) => (r.method === 'GET' && r.path.endsWith(`/blobs/${layer.digest}`) && r.range === undefined ? { cut: 100_000 } : undefined);
    try {
      const e = engine();
      const pulled = await e.pull(`${proxy.host}/resume/cut:v1`);
      assert.equal(pulled.image.layers[0]!.diffId, img.diffIds[0]);
      const ranges = proxy.requests.filter((r) => r.path.endsWith(`/blobs/${layer.digest}`)).map((r) => r.range);
      assert.equal(ranges.length, 2, String(ranges));
      assert.equal(ranges[0], undefined);
      // from where the kept bytes end: all 100000 sent, unless the client dropped some still buffered when the socket closed
      const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
      assert.ok(from > 0 && from <= 100_000, ranges[1]);
      assert.ok(pulled.events.some((ev) => ev.kind === 'layer' && ev.phase === 'retrying' && ev.bytes === from));
      assert.deepEqual(holdings(e).ingest, []);
    } finally {
      proxy.fault = () => undefined;
    }
  });

  test('an interrupted pull goes on from its ingest file next time', { timeout: 20_000 }, async () => {
    const img = await skopeoPush(plain, 'big', { layers: 1, bytesPerLayer: 256 * 1024, tag: 'v1' }, 'resume/abort:v1');
    const layer = img.layers[0]!;
    const e = engine();
    proxy.reset();
    // the registry stalls mid-blob; the user gives up
    // (without the abort, the pull would wait on the stalled body until undici's body timeout)
    proxy.fault = (r) => (r.method === 'GET' && r.path.endsWith(`/blobs/${layer.digest}`) ? { hold: 100_000 } : undefined);
    const abort = new AbortController();
    try {
      const first = e.pull(`${proxy.host}/resume/abort:v1`, {
        signal: abort.signal,
        onEvent: (ev) => ev.kind === 'layer' && ev.phase === 'downloading' && ev.bytes >= 100_000 && abort.abort(),
      });
      await assert.rejects(first, (err: Error) => err.name === 'AbortError' || /abort/i.test(err.message));
    } finally {
      proxy.fault = () => undefined;
    }
    assert.equal(e.store.list().length, 0);
    const ingest = path.join(e.store.root, 'ingest', layer.digest.slice('sha256:'.length));
    assert.equal(statSync(ingest).size, 100_000);

    proxy.reset();
    const pulled = await e.pull(`${proxy.host}/resume/abort:v1`);
    assert.equal(pulled.image.id, img.config.digest);
    assert.deepEqual(proxy.requests.filter((r) => r.path.endsWith(`/blobs/${layer.digest}`)).map((r) => r.range), ['bytes=100000-']);
    assert.ok(!existsSync(ingest), 'the ingest file stays after the blob is stored');
  });

  test('a corrupted blob is refused, naming its digest, and nothing is stored', async () => {
    const img = await skopeoPush(plain, 'corrupt-layer', { layers: 1, bytesPerLayer: 16 * 1024, tag: 'v1' }, 'corrupt/layer:v1');
    const layer = img.layers[0]!;
    // bit rot: the same size, other bytes
    writeFileSync(blobFile(plain, layer.digest), randomBytes(layer.size));
    const e = engine();
    await refused(e.pull(`${plain.host}/corrupt/layer:v1`), new RegExp(`blob ${layer.digest} failed verification`), 'invalid');
    assert.deepEqual(holdings(e), NOTHING);

    // content that unpacks well but is another's: two uncompressed layers of the same size
    const tars = ['A', 'B'].map((letter) => {
      const dir = path.join(base, `swap-${letter}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'file'), letter.repeat(4096));
      return readFileSync(tarDir(dir, `${dir}.tar`));
    }) as [Buffer, Buffer];
    assert.equal(tars[0].length, tars[1].length);
    const victim = await putImage(plain, 'corrupt/swap', 'v1', tars[0]);
    writeFileSync(blobFile(plain, victim), tars[1]);
    await refused(e.pull(`${plain.host}/corrupt/swap:v1`), new RegExp(`blob ${victim} failed verification: its content hashes to ${sha256(tars[1])}`));
    assert.deepEqual(holdings(e), NOTHING);

    const cfg = await skopeoPush(plain, 'corrupt-config', { layers: 1, bytesPerLayer: 1024, arch: 'ppc64le', tag: 'v1' }, 'corrupt/config:v1');
    writeFileSync(blobFile(plain, cfg.config.digest), Buffer.alloc(cfg.config.size, '{'));
    await refused(e.pull(`${plain.host}/corrupt/config:v1`), new RegExp(`config blob ${cfg.config.digest} failed verification`));
    assert.deepEqual(holdings(e), NOTHING);
  });

  test('a manifest that gives a layer the wrong size is refused, and nothing is stored', async () => {
    const img = await skopeoPush(plain, 'sized', { layers: 1, bytesPerLayer: 16 * 1024, arch: 'riscv64', tag: 'v1' }, 'size/base:v1');
    const layer = img.layers[0]!;
    const put = async (tag: string, size: number) => {
      const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: img.config, layers: [{ ...layer, size }] };
      const res = await fetch(`${plain.url}/v2/size/base/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': MEDIA.manifest }, body: JSON.stringify(manifest) });
      assert.equal(res.status, 201, await res.text());
    };
    await put('short', layer.size - 1);
    await put('long', layer.size + 1);
    const e = engine();
    await refused(e.pull(`${plain.host}/size/base:short`), new RegExp(`blob ${layer.digest} is larger than the ${layer.size - 1} bytes its manifest says`), 'invalid');
    assert.deepEqual(holdings(e), NOTHING);
    await refused(e.pull(`${plain.host}/size/base:long`), new RegExp(`blob ${layer.digest} is ${layer.size} bytes, not the ${layer.size + 1} its manifest says`), 'invalid');
    assert.deepEqual(holdings(e), NOTHING);
  });

  test("multi-arch index: the host's platform by default, another when asked, a clear error for one not offered", async () => {
    const dir = path.join(base, 'layouts/multi');
    const multi: OciMultiArch = await makeMultiArchLayout(dir, { tag: 'v1' });
    await skopeoCopy(`oci:${dir}:v1`, `docker://${plain.host}/multi/app:v1`, { dest: skopeoAccess(plain), all: true });
    const ref = `${plain.host}/multi/app:v1`;
    const e = engine();
    const native = multi.images.find((i) => i.platform.architecture === hostPlatform().architecture)!;
    const def = await e.pull(ref);
    assert.equal(def.image.id, native.config.digest);
    assert.equal(def.image.manifestDigest, native.manifest.digest);
    // the name resolves to the index: that is the digest a pull reports
    assert.equal(def.digest, multi.index.digest);
    const arm = await e.pull(ref, { platform: 'linux/arm64' });
    assert.equal(arm.image.id, multi.images[1]!.config.digest);
    assert.equal(arm.image.config.architecture, 'arm64');
    assert.equal(e.store.find(ref)?.id, multi.images[1]!.config.digest);
    const err = await refused(e.pull(ref, { platform: 'linux/s390x' }), /^image 127\.0\.0\.1:\d+\/multi\/app:v1 has no variant for linux\/s390x$/, 'not-found');
    assert.match(err.hint ?? '', /linux\/amd64, linux\/arm64/);
    // a single-platform image asked for on another platform
    await refused(e.pull(`${plain.host}/stack/tiny:v1`, { platform: 'linux/arm64' }), /is for linux\/amd64, not the linux\/arm64 asked for/);
  });

  test('a missing image, a missing tag, an unreachable registry and schema 1 are one-line errors', async () => {
    const e = engine();
    const missing = await refused(e.pull(`${plain.host}/nosuch/thing:v1`), /^image 127\.0\.0\.1:\d+\/nosuch\/thing:v1 not found: registry 127\.0\.0\.1:\d+ has no tag v1 in nosuch\/thing$/, 'not-found');
    assert.match(missing.hint ?? '', /check the name/);
    await refused(e.pull(`${plain.host}/stack/tiny:nosuch`), /has no tag nosuch in stack\/tiny/, 'not-found');
    await refused(e.pull(`${plain.host}/stack/tiny@sha256:${'0'.repeat(64)}`), /has no manifest sha256:0+ in stack\/tiny/, 'not-found');
    await refused(e.push(`${plain.host}/stack/absent:v1`), /is not in the local store/, 'not-found');
    const port = await freePort();
    await refused(e.pull(`127.0.0.1:${port}/any/thing:v1`), new RegExp(`^cannot reach registry 127\\.0\\.0\\.1:${port}: connection refused$`), 'system');

    // distribution 2.8 no longer takes schema 1 pushes: a registry of our own serves one
    const old = http.createServer((req, res) => {
      if (req.url === '/v2/') return res.end('{}');
      res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
      res.end(JSON.stringify({ schemaVersion: 1, name: 'old/app', tag: 'v1', fsLayers: [], history: [] }));
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    try {
      const host = `127.0.0.1:${(old.address() as AddressInfo).port}`;
      const err = await refused(e.pull(`${host}/old/app:v1`), /uses the Docker image manifest schema 1, which is deprecated and not supported/, 'unsupported');
      assert.match(err.hint ?? '', /push the image again/);
    } finally {
      await e.registries.close();
      old.closeAllConnections();
      old.close();
    }
    assert.deepEqual(holdings(e), NOTHING);
  });

  test('pull_policy against the store and the last pull: missing, always, never, every_1s, daily', async () => {
    await skopeoPush(plain, 'two', { layers: 2, bytesPerLayer: 8192, tag: 'v1' }, 'policy/app:latest');
    const e = engine();
    const puller = new ImagePuller(e.store, e.paths);
    const service = (pull_policy?: string, extra: Partial<Service> = {}) => ({ name: 'web', pull_policy, ...extra }) as Service;
    // the service names it without a tag: the pull stores and times it as :latest
    const image = `${plain.host}/policy/app`;
    for (const p of [undefined, 'missing', 'always', 'daily', 'every_1s']) assert.equal(puller.wants(service(p), image), true, `${p} with the image missing`);
    assert.equal(puller.wants(service('never'), image), false);
    assert.equal(puller.wants(service(undefined, { build: { context: '.' } as Service['build'] }), image), false, 'a service that builds');
    assert.equal(puller.wants(service('always', { build: { context: '.' } as Service['build'] }), image), true);

    await e.pull(image);
    assert.equal(puller.wants(service(), image), false);
    assert.equal(puller.wants(service('missing'), image), false);
    assert.equal(puller.wants(service('never'), image), false);
    assert.equal(puller.wants(service('always'), image), true);
    assert.equal(puller.wants(service('daily'), image), false);
    assert.equal(puller.wants(service('every_1s'), image), false);
    await sleep(1100);
    assert.equal(puller.wants(service('every_1s'), image), true);
    assert.equal(puller.wants(service('daily'), image), false);
    // a pull that finds the image up to date counts as a pull
    assert.equal((await e.pull(`${image}:latest`)).status, 'up-to-date');
    assert.equal(puller.wants(service('every_1s'), image), false);
    await puller.close();
  });
});

describe('registries with TLS and auth', () => {
  test('TLS: trusted with the CA in certs.d; without it, a one-line "not trusted" error that names the fix', async () => {
    const reg = await registry({ tls: true });
    const configDir = path.join(base, 'tls-config');
    mkdirSync(path.join(configDir, 'certs.d', reg.host), { recursive: true });
    copyFileSync(reg.caFile!, path.join(configDir, 'certs.d', reg.host, 'ca.crt'));
    const src = engine({ configDir });
    const ref = `${reg.host}/tls/tiny:v1`;
    const img = await src.store.importRootfs(tinyRootfsTar(mkdtempSync(path.join(base, 'rootfs-'))), ref);
    assert.equal((await src.push(ref)).digest, img.manifestDigest);
    const dst = engine({ configDir });
    assert.equal((await dst.pull(ref)).image.id, img.id);

    const untrusting = engine();
    const err = await refused(untrusting.pull(ref), new RegExp(`^the TLS certificate of registry 127\\.0\\.0\\.1:\\d+ is not trusted: `), 'system');
    // the fix, where this engine reads it (a loopback registry is verified whatever the insecure list says)
    assert.equal(err.hint, `put the CA that signed it at ${path.join(untrusting.registries.config.configDir, 'certs.d', reg.host, 'ca.crt')}`);
    assert.deepEqual(holdings(untrusting), NOTHING);
  });

  test('htpasswd: login checks and saves the credentials, pull and push use them; a wrong password is refused; logout forgets them', async () => {
    const creds = { user: 'alice', password: 's3cret pass' };
    const reg = await registry({ htpasswd: creds });
    const credentialsFile = path.join(base, 'basic-docker/config.json');
    const store = new CredentialStore(credentialsFile);
    const config = registryConfig({ STACK_CONFIG: path.join(base, 'basic-config') });

    await refused(login(reg.host, { username: 'alice', password: 'wrong' }, store, config), /^registry 127\.0\.0\.1:\d+ refused the credentials of alice: unauthorized$/, 'invalid');
    assert.ok(!existsSync(credentialsFile), 'a refused login wrote credentials');
    await login(reg.host, { username: creds.user, password: creds.password }, store, config);
    assert.deepEqual(JSON.parse(readFileSync(credentialsFile, 'utf8')), { auths: { [reg.host]: { auth: Buffer.from('alice:s3cret pass').toString('base64') } } });

    const src = engine({ credentialsFile });
    const ref = `${reg.host}/basic/tiny:v1`;
    const img = await src.store.importRootfs(tinyRootfsTar(mkdtempSync(path.join(base, 'rootfs-'))), ref);
    assert.equal((await src.push(ref)).digest, img.manifestDigest);
    assert.equal((await engine({ credentialsFile }).pull(ref)).image.id, img.id);

    const anonymous = await refused(engine().pull(ref), /^registry 127\.0\.0\.1:\d+ requires authentication$/, 'invalid');
    assert.equal(anonymous.hint, `log in first: stack login ${reg.host}`);
    const wrongFile = path.join(base, 'basic-wrong/config.json');
    new CredentialStore(wrongFile).set(reg.host, { username: 'alice', password: 'wrong' });
    await refused(engine({ credentialsFile: wrongFile }).pull(ref), /refused the credentials of alice/, 'invalid');

    assert.equal(logout(reg.host, store), true);
    assert.deepEqual(JSON.parse(readFileSync(credentialsFile, 'utf8')), { auths: {} });
    assert.equal(logout(reg.host, store), false);
    await refused(engine({ credentialsFile }).pull(ref), /requires authentication/);
  });

  test('bearer tokens: pull and push with tokens from the token server, one token per client and scope however many blobs', async () => {
    const creds = { user: 'bob', password: 'hunter2' };
    // bob may read private/ but not write to it
    const reg = await registry({ token: { credentials: creds, authorize: (asked) => (asked.name.startsWith('private/') ? ['pull'] : asked.actions) } });
    const plain = await registry();
    const b = await skopeoPush(plain, 'three', { layers: 3, bytesPerLayer: 8192, tag: 'v1' }, 'shared/b:v1');

    const credentialsFile = path.join(base, 'token-docker/config.json');
    new CredentialStore(credentialsFile).set(reg.host, { username: creds.user, password: creds.password });
    const src = engine({ credentialsFile });
    await src.pull(`${plain.host}/shared/b:v1`);
    const ref = `${reg.host}/team/app:v1`;
    await src.store.tag(`${plain.host}/shared/b:v1`, ref);
    const pushed = await src.push(ref);
    assert.equal(pushed.digest, b.manifest.digest);
    // 4 blobs checked and uploaded, and the manifest: one token did for all of them
    assert.equal(reg.tokenRequests, 1);

    const dst = engine({ credentialsFile });
    const pulled = await dst.pull(ref);
    assert.equal(pulled.image.id, b.config.digest);
    assert.equal(reg.tokenRequests, 2);
    assert.equal((await dst.pull(ref)).status, 'up-to-date');
    assert.equal(reg.tokenRequests, 2);
    const ts = reg.tokenServer!;
    assert.deepEqual(
      ts.requests.map((r) => [r.user, r.scopes.map((s) => `${s.name}:${s.actions.join(',')}`)]),
      [
        ['bob', ['team/app:pull,push']],
        ['bob', ['team/app:pull']],
      ],
    );
    const anonymous = await refused(engine().pull(ref), /^registry 127\.0\.0\.1:\d+ requires authentication$/, 'invalid');
    assert.match(anonymous.hint ?? '', /stack login/);

    // (the scope may name team/app too: the blobs are known there, so the push asks to mount them)
    const denied = `${reg.host}/private/app:v1`;
    await src.store.tag(ref, denied);
    const short = await refused(src.push(denied), /^registry 127\.0\.0\.1:\d+ denied bob repository:private\/app:pull,push( repository:team\/app:pull)? \(insufficient scope\)$/, 'invalid');
    assert.match(short.hint ?? '', /lacks those rights/);
  });
});
