/**
 * `stack kube generate --push`: a service's image is built, pushed to a real registry on
 * loopback, and the manifests refer to it by the digest the registry holds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { BIN } from './support/cli-bin.js';
import { startRegistry, type TestRegistry } from './support/registry.js';
import { skopeoInspect } from './support/skopeo.js';

let dir: string;
let registry: TestRegistry;
let env: NodeJS.ProcessEnv;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'stack-kube-push-'));
  registry = await startRegistry();
  env = { ...process.env, STACK_ROOT: path.join(dir, 'state'), STACK_RUN: path.join(dir, 'run'), DOCKER_CONFIG: path.join(dir, 'docker') };
  const proj = path.join(dir, 'proj');
  mkdirSync(path.join(proj, 'app'), { recursive: true });
  writeFileSync(path.join(proj, 'app', 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\nCMD ["/hello"]\n');
  writeFileSync(path.join(proj, 'app', 'hello.txt'), 'hi\n');
  writeFileSync(path.join(proj, 'compose.yaml'), 'name: kp\nservices:\n  web:\n    build: ./app\n    ports: ["8080:80"]\n  cache:\n    image: redis:7\n');
});

after(async () => {
  await registry.stop();
  rmSync(dir, { recursive: true, force: true });
});

function stack(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: path.join(dir, 'proj'), env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('stack kube generate --push', () => {
  test('builds and pushes the built services, and the manifests name their images by digest', async () => {
    const r = stack('kube', 'generate', '--push', '--registry', `${registry.host}/team`);
    assert.equal(r.code, 0, r.stderr);
    const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: { template?: { spec: { containers: { image: string }[] } } } });
    const images = Object.fromEntries(
      objects.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, o.spec!.template!.spec.containers[0]!.image]),
    );
    assert.match(images.web!, new RegExp(`^${registry.host.replace(/\./g, '\\.')}/team/kp-web@sha256:[0-9a-f]{64}$`));
    assert.equal(images.cache, 'redis:7', 'an image the project does not build is left as it is');
    // the registry holds what the manifest names
    const inspected = (await skopeoInspect(`docker://${registry.host}/team/kp-web:latest`)) as { Digest: string };
    assert.equal(`${registry.host}/team/kp-web@${inspected.Digest}`, images.web);
  });

  test('--registry without --push, and --push without a registry to push to, are clear errors', () => {
    const noPush = stack('kube', 'generate', '--registry', registry.host);
    assert.equal(noPush.code, 1);
    assert.match(noPush.stderr, /^error: --registry needs --push/);
    const nowhere = stack('kube', 'generate', '--push');
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /service "web" has no image name with a registry to push to \(kp-web\)\n  hint: .*--registry/);
  });
});
