/**
 * `stack kube apply` and `stack kube down` against a real API server: the one KUBECONFIG
 * points at, in a namespace of the test's own that is deleted afterwards. Without a
 * reachable server the tests are skipped with the reason printed; nothing stands in for a
 * cluster. The project uses busybox only, so any cluster that reaches Docker Hub runs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type Cluster } from '../engine/kube/cluster.js';
import { projectObjects } from '../engine/kube/apply.js';
import { BIN } from './support/cli-bin.js';

const NAMESPACE = `stack-test-${process.pid}`;
const PROJECT = 'kubetest';
let cluster: Cluster | undefined;
let skipReason: string | undefined;
let dir: string;

before(async () => {
  if (!process.env.KUBECONFIG) {
    skipReason = 'no Kubernetes API server reachable (KUBECONFIG unset)';
    return;
  }
  try {
    const c = await connect({ namespace: NAMESPACE });
    await Promise.race([c.api.list('v1', 'Namespace'), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10_000))]);
    cluster = c;
  } catch (e) {
    skipReason = `no Kubernetes API server reachable through KUBECONFIG (${(e as Error).message})`;
    return;
  }
  dir = mkdtempSync(path.join(tmpdir(), 'stack-kube-cluster-'));
  writeFileSync(path.join(dir, 'compose.yaml'), `
name: ${PROJECT}
services:
  web:
    image: busybox:1.36
    command: ["httpd", "-f", "-p", "8080"]
    expose: ["8080"]
    depends_on:
      kv: {condition: service_healthy}
      seed: {condition: service_completed_successfully}
  seed:
    image: busybox:1.36
    command: ["sh", "-c", "echo seeded"]
  kv:
    image: busybox:1.36
    command: ["httpd", "-f", "-p", "80"]
    expose: ["80"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost/"]
      interval: 1s
      retries: 30
`);
});

after(async () => {
  if (cluster) {
    await cluster.api.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }).catch(() => undefined);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function stack(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'kube', ...args, '--namespace', NAMESPACE], { cwd: dir, encoding: 'utf8', env: process.env, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kube apply and down', () => {
  test('apply creates the objects and waits until they rolled out; applying again changes nothing', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const first = stack(['apply', '--wait-timeout', '240']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /Deployment\/web rolled out/);
    assert.match(first.stderr, /Deployment\/kv rolled out/);
    const objects = (await projectObjects(cluster!, PROJECT)).map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(objects, ['Deployment/kv', 'Deployment/web', 'Service/kv', 'Service/web'].sort());
    const again = stack(['apply', '--wait-timeout', '240']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /no longer in the stack file/);
  });

  test('down deletes everything that carries the project labels', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const down = stack(['down', '-v']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stderr, /deleted Deployment\/web/);
    assert.deepEqual(await projectObjects(cluster!, PROJECT), []);
  });
});
