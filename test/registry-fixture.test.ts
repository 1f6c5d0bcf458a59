/**
 * The registry fixtures, proven with curl and skopeo only (no engine code): each kind of test
 * registry answers the way distribution does, and skopeo pushes to it and reads back.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { makeMultiArchLayout, makeOciLayout, MEDIA, type OciImage } from './support/oci-image.js';
import { startRegistry, type RegistryOptions, type TestRegistry } from './support/registry.js';
import { skopeoAccess, skopeoCopy, skopeoInspect } from './support/skopeo.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-regfix-'));
const running: TestRegistry[] = [];
after(async () => {
  await Promise.all(running.map((r) => r.stop()));
  rmSync(base, { recursive: true, force: true });
});

async function registry(opts?: RegistryOptions): Promise<TestRegistry> {
  const r = await startRegistry(opts);
  running.push(r);
  return r;
}

interface CurlResult {
  code: number;
  status: number;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

/**
 * curl with its response split; `code` is curl's exit status (0 once a response came back).
 * Asynchronous because the token server answers from this very process.
 */
function curl(url: string, ...args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '-i', '--max-time', '10', ...args, url], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const [head = '', ...rest] = stdout.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n'), stderr });
    });
  });
}

async function status(url: string, ...args: string[]): Promise<number> {
  return (await curl(url, ...args)).status;
}

function jwtPart(token: string, i: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8'));
}

let single: { dir: string; image: OciImage } | undefined;
/** one small two-layer image, made once */
async function tinyImage(): Promise<{ dir: string; image: OciImage }> {
  if (!single) {
    const dir = path.join(base, 'tiny');
    single = { dir, image: await makeOciLayout(dir, { layers: 2, bytesPerLayer: 4096, tag: 'v1' }) };
  }
  return single;
}

/** Pushes the tiny image with skopeo and checks skopeo reads back the same manifest and layers. */
async function pushAndInspect(reg: TestRegistry, repo: string, creds?: { user: string; password: string }): Promise<void> {
  const { dir, image } = await tinyImage();
  const ref = `docker://${reg.host}/${repo}:v1`;
  await skopeoCopy(`oci:${dir}:v1`, ref, { dest: skopeoAccess(reg, creds) });
  const seen = (await skopeoInspect(ref, skopeoAccess(reg, creds))) as { Digest: string; Layers: string[]; Architecture: string };
  assert.equal(seen.Digest, image.manifest.digest);
  assert.deepEqual(seen.Layers, image.layers.map((l) => l.digest));
  assert.equal(seen.Architecture, 'amd64');
}

describe('test registries', () => {
  test('plain HTTP on 127.0.0.1 only; stop removes the process and its files', async () => {
    const reg = await startRegistry();
    try {
      assert.match(reg.host, /^127\.0\.0\.1:\d+$/);
      assert.equal(reg.url, `http://${reg.host}`);
      const r = await curl(`${reg.url}/v2/`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
      const port = reg.host.split(':')[1]!;
      const listening = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n');
      assert.deepEqual(listening.map((l) => l.split(/\s+/)[3]), [`127.0.0.1:${port}`]);
      assert.equal(reg.caFile, undefined);
      assert.equal(reg.tokenRequests, 0);
      await pushAndInspect(reg, 'plain/tiny');
    } finally {
      await reg.stop();
    }
    assert.notEqual((await curl(`${reg.url}/v2/`)).code, 0, 'the registry still answers after stop');
    assert.ok(!existsSync(reg.dataDir) && !existsSync(reg.logFile));
    await reg.stop(); // twice is harmless
  });

  test('storageDir outlives the registry: a second one serves what the first stored', async () => {
    const storageDir = path.join(base, 'kept-storage');
    const first = await registry({ storageDir });
    await pushAndInspect(first, 'kept/tiny');
    await first.stop();
    assert.ok(existsSync(path.join(storageDir, 'docker/registry/v2/repositories/kept/tiny')));
    const second = await registry({ storageDir });
    const { image } = await tinyImage();
    const r = await curl(`${second.url}/v2/kept/tiny/manifests/v1`, '-H', `Accept: ${MEDIA.manifest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-content-digest'], image.manifest.digest);
  });

  test('TLS: trusted with the CA, refused without; skopeo pushes through the cert dir', async () => {
    const reg = await registry({ tls: true });
    assert.equal(reg.url, `https://${reg.host}`);
    assert.equal(path.dirname(reg.caFile!), reg.certDir);
    assert.equal(await status(`${reg.url}/v2/`, '--cacert', reg.caFile!), 200);
    const port = reg.host.split(':')[1]!;
    // the certificate names localhost too
    assert.equal(await status(`https://localhost:${port}/v2/`, '--cacert', reg.caFile!, '--resolve', `localhost:${port}:127.0.0.1`), 200);
    const untrusted = await curl(`${reg.url}/v2/`);
    assert.equal(untrusted.code, 60, untrusted.stderr); // CURLE_PEER_FAILED_VERIFICATION
    assert.match(untrusted.stderr, /certificate/i);
    await pushAndInspect(reg, 'tls/tiny');
    const { dir } = await tinyImage();
    await assert.rejects(skopeoCopy(`oci:${dir}:v1`, `docker://${reg.host}/tls/other:v1`, { dest: { tlsVerify: true } }), /certificate/);
  });

  test('htpasswd: 401 with a Basic challenge without credentials or with wrong ones, 200 with them', async () => {
    const creds = { user: 'alice', password: 's3cret pass' };
    const reg = await registry({ htpasswd: creds });
    const anonymous = await curl(`${reg.url}/v2/`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="test"');
    assert.equal(await status(`${reg.url}/v2/`, '-u', 'alice:wrong'), 401);
    assert.equal(await status(`${reg.url}/v2/`, '-u', `${creds.user}:${creds.password}`), 200);
    await pushAndInspect(reg, 'basic/tiny', creds);
    const { dir } = await tinyImage();
    await assert.rejects(skopeoCopy(`oci:${dir}:v1`, `docker://${reg.host}/basic/anon:v1`), /authentication required/);
  });

  test('token: a Bearer challenge names realm and service; a token from the realm opens the registry', async () => {
    const reg = await registry({ token: true });
    const ts = reg.tokenServer!;
    const challenge = await curl(`${reg.url}/v2/`);
    assert.equal(challenge.status, 401);
    assert.equal(challenge.headers['www-authenticate'], `Bearer realm="${ts.realm}",service="stack-test-registry"`);
    assert.match(ts.realm, /^http:\/\/127\.0\.0\.1:\d+\/token$/);

    const scope = 'repository:team/app:pull,push';
    const got = await curl(`${ts.realm}?service=stack-test-registry&scope=${encodeURIComponent(scope)}&scope=${encodeURIComponent('repository:team/lib:pull')}`);
    assert.equal(got.status, 200, got.body);
    const answer = JSON.parse(got.body) as { token: string; access_token: string; expires_in: number; issued_at: string };
    assert.equal(answer.access_token, answer.token);
    assert.equal(answer.expires_in, 300);
    assert.ok(Math.abs(Date.parse(answer.issued_at) - Date.now()) < 5000);
    assert.equal(reg.tokenRequests, 1);
    const header = jwtPart(answer.token, 0);
    assert.equal(header.alg, 'ES256');
    assert.equal((header.x5c as string[]).length, 1);
    const claims = jwtPart(answer.token, 1);
    assert.equal(claims.aud, 'stack-test-registry');
    assert.equal(claims.iss, ts.issuer);
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'team/lib', actions: ['pull'] },
    ]);
    assert.equal(await status(`${reg.url}/v2/`, '-H', `Authorization: Bearer ${answer.token}`), 200);

    // the registry checks the signature: a token whose signature is altered is refused
    const [h, c, sig] = answer.token.split('.') as [string, string, string];
    const forged = `${h}.${c}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    const refused = await curl(`${reg.url}/v2/`, '-H', `Authorization: Bearer ${forged}`);
    assert.equal(refused.status, 401);
    assert.match(refused.headers['www-authenticate'] ?? '', /error="invalid_token"/);

    // a client must ask for the registry's service
    assert.equal(await status(`${ts.realm}?service=elsewhere&scope=${encodeURIComponent(scope)}`), 400);
    assert.equal(await status(`${ts.realm}?service=stack-test-registry&scope=nonsense`), 400);

    await pushAndInspect(reg, 'token/tiny');
    const pushes = ts.requests.filter((q) => q.scopes.some((s) => s.name === 'token/tiny' && s.actions.includes('push')));
    assert.ok(pushes.length > 0, 'skopeo never asked for push on token/tiny');
  });

  test('token with credentials: the token server wants them, and skopeo passes them through', async () => {
    const creds = { user: 'bob', password: 'hunter2' };
    const reg = await registry({ token: { credentials: creds } });
    const realm = `${reg.tokenServer!.realm}?service=stack-test-registry&scope=repository:x:pull`;
    const anonymous = await curl(realm);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="token"');
    assert.equal(await status(realm, '-u', 'bob:nope'), 401);
    const ok = await curl(realm, '-u', 'bob:hunter2');
    assert.equal(ok.status, 200);
    assert.equal(jwtPart(JSON.parse(ok.body).token, 1).sub, 'bob');
    await pushAndInspect(reg, 'creds/tiny', creds);
    assert.ok(reg.tokenServer!.requests.some((q) => q.user === 'bob' && q.granted !== null));
    const { dir } = await tinyImage();
    await assert.rejects(skopeoCopy(`oci:${dir}:v1`, `docker://${reg.host}/creds/anon:v1`), /wrong or missing credentials/);
  });

  test('token with authorize: only what it grants is in the token, and the registry holds to it', async () => {
    const reg = await registry({ token: { authorize: (asked) => (asked.name.startsWith('public/') ? asked.actions : ['pull']) } });
    const ts = reg.tokenServer!;
    const got = await curl(`${ts.realm}?service=stack-test-registry&scope=${encodeURIComponent('repository:private/x:pull,push')}`);
    assert.deepEqual(jwtPart(JSON.parse(got.body).token, 1).access, [{ type: 'repository', name: 'private/x', actions: ['pull'] }]);
    await pushAndInspect(reg, 'public/tiny');
    const { dir } = await tinyImage();
    await assert.rejects(skopeoCopy(`oci:${dir}:v1`, `docker://${reg.host}/private/tiny:v1`), /requested access to the resource is denied/);
    // pull alone is granted on private/: reading is allowed (and finds nothing), writing is not
    const pull = JSON.parse((await curl(`${ts.realm}?service=stack-test-registry&scope=${encodeURIComponent('repository:private/tiny:pull,push')}`)).body).token as string;
    const tags = await curl(`${reg.url}/v2/private/tiny/tags/list`, '-H', `Authorization: Bearer ${pull}`);
    assert.equal(tags.status, 404, tags.body);
    const upload = await curl(`${reg.url}/v2/private/tiny/blobs/uploads/`, '-X', 'POST', '-H', `Authorization: Bearer ${pull}`);
    assert.equal(upload.status, 401);
    assert.match(upload.headers['www-authenticate'] ?? '', /error="insufficient_scope"/);
  });

  test('a multi-arch index is pushed whole and read back as stored', async () => {
    const reg = await registry();
    const dir = path.join(base, 'multi');
    const multi = await makeMultiArchLayout(dir, { tag: 'v2' });
    const ref = `docker://${reg.host}/multi/tiny:v2`;
    await skopeoCopy(`oci:${dir}:v2`, ref, { dest: skopeoAccess(reg), all: true });
    const index = (await skopeoInspect(ref, skopeoAccess(reg), true)) as { mediaType: string; manifests: { digest: string; platform: { architecture: string } }[] };
    assert.equal(index.mediaType, MEDIA.index);
    assert.deepEqual(
      index.manifests.map((m) => [m.platform.architecture, m.digest]),
      multi.images.map((i) => [i.platform.architecture, i.manifest.digest]),
    );
    const r = await curl(`${reg.url}/v2/multi/tiny/manifests/v2`, '-H', `Accept: ${MEDIA.index}`);
    assert.equal(r.headers['docker-content-digest'], multi.index.digest);
    const arm = await curl(`${reg.url}/v2/multi/tiny/manifests/${multi.images[1]!.manifest.digest}`, '-H', `Accept: ${MEDIA.manifest}`);
    assert.equal(arm.status, 200);
    assert.notEqual(multi.images[0]!.config.digest, multi.images[1]!.config.digest);
  });
});
