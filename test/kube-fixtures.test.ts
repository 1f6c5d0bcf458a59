/**
 * `stack kube generate` on realistic projects (test/fixtures/kube/<name>/, and the repo's
 * examples/): each loaded as `up` loads it (its .env, interpolation, profiles), every object
 * checked against the Kubernetes schema and naming rules, and the facts that matter for that
 * project asserted. The last test runs `stack kube generate` itself, as a user would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadProject } from '../engine/load/loader.js';
import { generateManifests, type GenerateOptions } from '../engine/kube/generate.js';
import type { KubeObject } from '../engine/kube/objects.js';
import { BIN } from './support/cli-bin.js';
import { checkManifests, find, podOf } from './support/kube-manifests.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/kube');

interface Load {
  env?: Record<string, string>;
  profiles?: string[];
  options?: GenerateOptions;
  external?: string[];
}

function generate(dir: string, load: Load = {}) {
  // no variable of the real environment leaks in: only the fixture's .env and what the test sets
  const loaded = loadProject({ cwd: dir, env: load.env ?? {}, profiles: load.profiles ?? [] });
  const m = generateManifests(loaded, load.options ?? {});
  checkManifests(m.objects, load.external);
  const refs = m.objects.map((o) => `${o.kind}/${o.metadata.name}`);
  const lossy = m.warnings.filter((w) => w.lossy).map((w) => w.path);
  return { ...m, refs, lossy, project: loaded.project };
}

const fixture = (name: string, load?: Load) => generate(path.join(FIXTURES, name), load);
const initNames = (o: KubeObject) => (podOf(o).initContainers ?? []).map((c) => c.name);
const env = (objects: readonly KubeObject[], name: string) => find(objects, 'ConfigMap', name).data ?? {};

describe('fixtures', () => {
  test('every fixture folder is covered here', () => {
    const covered = ['web-db-cache', 'healthcheck-chain', 'one-shot-seed', 'secrets-configs', 'profiles', 'underscores', 'multi-network', 'jobs-and-daemons', 'hardened', 'stateful', 'wordpress-mysql', 'nginx-bind-file', 'host-access'];
    assert.deepEqual(readdirSync(FIXTURES).sort(), [...covered].sort());
  });

  test('web-db-cache: .env values, a headless Service for the port-less database, waits, a claim', () => {
    const { objects, refs, lossy } = fixture('web-db-cache');
    assert.deepEqual(lossy, []);
    const web = find(objects, 'Deployment', 'web');
    assert.equal(podOf(web).containers[0]!.image, 'registry.example/shop/web:1.7.2');
    assert.equal(env(objects, 'web-env').DATABASE_URL, 'postgres://shop:from-dotenv@db:5432/shop');
    assert.equal(env(objects, 'db-env').POSTGRES_PASSWORD, 'from-dotenv');
    assert.deepEqual(initNames(web), ['wait-cache', 'wait-db']);
    assert.equal(find(objects, 'Service', 'db').spec?.clusterIP, 'None');
    assert.equal(find(objects, 'Service', 'cache').spec?.ports?.[0]?.port, 6379);
    assert.match(podOf(web).initContainers![0]!.command![2]!, /nc -z -w 2 cache 6379/);
    assert.equal(find(objects, 'Service', 'web-published').spec?.type, 'LoadBalancer');
    assert.ok(refs.includes('PersistentVolumeClaim/pgdata'));
    assert.equal(podOf(web).containers[0]!.startupProbe?.failureThreshold, 4);
    for (const o of objects) assert.equal(o.metadata.labels?.['com.docker.compose.project'], 'shop');
  });

  test('healthcheck-chain: each link waits for the next through its ClusterIP; a string test runs in a shell', () => {
    const { objects } = fixture('healthcheck-chain');
    assert.deepEqual(initNames(find(objects, 'Deployment', 'gateway')), ['wait-api']);
    assert.match(podOf(find(objects, 'Deployment', 'gateway')).initContainers![0]!.command![2]!, /nc -z -w 2 api 3000/);
    assert.match(podOf(find(objects, 'Deployment', 'api')).initContainers![0]!.command![2]!, /nc -z -w 2 db 3306/);
    assert.deepEqual(podOf(find(objects, 'Deployment', 'gateway')).containers[0]!.readinessProbe?.exec?.command, ['/bin/sh', '-c', 'traefik healthcheck --ping']);
    const api = podOf(find(objects, 'Deployment', 'api')).containers[0]!;
    assert.equal(api.readinessProbe?.failureThreshold, 5);
    assert.equal(api.startupProbe?.failureThreshold, 9); // 20s every 5s (docker's start interval), then 5 retries
    assert.deepEqual(find(objects, 'Service', 'gateway-published').spec?.ports?.map((p) => p.port), [80, 443]);
  });

  test('one-shot-seed: migrate then seed run before the app, in its pod; the report is a Job', () => {
    const { objects, refs } = fixture('one-shot-seed');
    const app = find(objects, 'Deployment', 'app');
    assert.deepEqual(initNames(app), ['wait-db', 'migrate', 'seed']);
    const [, migrate, seed] = podOf(app).initContainers!;
    assert.deepEqual(migrate!.args, ['npm', 'run', 'migrate']);
    assert.deepEqual(migrate!.envFrom, [{ configMapRef: { name: 'migrate-env' } }]);
    assert.deepEqual(seed!.args, ['npm', 'run', 'seed']);
    assert.ok(!refs.some((r) => /\/(migrate|seed)$/.test(r)), refs.join(', '));
    const report = find(objects, 'Job', 'report');
    assert.equal(podOf(report).restartPolicy, 'Never');
    assert.deepEqual(initNames(report), ['wait-db']);
  });

  test('secrets-configs: Secrets and ConfigMaps with the contents of files, variables and inline text', () => {
    const { objects, warnings } = fixture('secrets-configs', { external: ['registry-token'] });
    const decode = (name: string, key: string) => Buffer.from(find(objects, 'Secret', name).data![key]!, 'base64').toString();
    assert.equal(decode('db-password', 'db_password'), 'correct horse battery staple\n');
    assert.equal(decode('jwt-key', 'jwt_key'), '-----BEGIN KEY-----abc');
    assert.equal(env(objects, 'api-config').api_config, 'listen: 8080\nlog: info\n');
    assert.equal(env(objects, 'motd').motd, 'Welcome to example.org');
    const mounts = podOf(find(objects, 'Deployment', 'api')).containers[0]!.volumeMounts!.map((m) => m.mountPath);
    assert.deepEqual(mounts, ['/run/secrets/db_password', '/etc/api/jwt.pem', '/run/secrets/registry_token', '/etc/api/config.yaml', '/motd']);
    assert.ok(warnings.some((w) => w.path === 'secrets.registry_token'));
  });

  test('profiles: a profiled service appears only with its profile, its dependencies with it', () => {
    const none = fixture('profiles');
    assert.ok(!none.refs.some((r) => /adminer|debugger/.test(r)));
    const tools = fixture('profiles', { profiles: ['tools'] });
    assert.ok(tools.refs.includes('Deployment/adminer'));
    assert.ok(tools.refs.includes('Service/db'), 'db is a dependency now, so it gets a Service');
    assert.ok(!tools.refs.some((r) => r.includes('debugger')));
    const all = fixture('profiles', { profiles: ['*'] });
    assert.ok(all.refs.includes('Deployment/debugger') && all.refs.includes('Deployment/adminer'));
  });

  test('underscores: names mapped to DNS labels, each change a lossy warning where the name no longer resolves', () => {
    const { objects, refs, lossy } = fixture('underscores');
    for (const r of ['Deployment/auth-service', 'Service/auth-service', 'Service/auth-internal', 'Deployment/user-api', 'PersistentVolumeClaim/user-data', 'Service/s-2fa']) {
      assert.ok(refs.includes(r), `${r} in ${refs.join(', ')}`);
    }
    assert.deepEqual(initNames(find(objects, 'Deployment', 'user-api')), ['wait-auth-service']);
    assert.deepEqual(find(objects, 'Service', 'auth-service').spec?.selector?.['com.docker.compose.service'], 'Auth_Service');
    assert.deepEqual([...new Set(lossy)].sort(), ['services.2fa', 'services.Auth_Service']);
  });

  test('multi-network: pods labelled by network, a policy per network, the published port open', () => {
    const { objects, refs, lossy } = fixture('multi-network');
    const labels = (name: string) => find(objects, 'Deployment', name).spec?.template.metadata?.labels ?? {};
    assert.equal(labels('app')['com.docker.compose.network/frontend'], 'true');
    assert.equal(labels('app')['com.docker.compose.network/backend'], 'true');
    assert.equal(labels('db')['com.docker.compose.network/frontend'], undefined);
    assert.ok(refs.includes('NetworkPolicy/network-frontend') && refs.includes('NetworkPolicy/network-backend'));
    assert.ok(refs.includes('Service/application'), 'the alias on the backend network resolves');
    assert.deepEqual(find(objects, 'NetworkPolicy', 'proxy-published').spec?.ingress?.[0]?.ports, [{ port: 80, protocol: 'TCP' }]);
    assert.deepEqual(lossy, ['networks.backend.internal']);
  });

  test('jobs-and-daemons: a DaemonSet, a Job of three completions, a one-off Job, four replicas', () => {
    const { objects } = fixture('jobs-and-daemons');
    assert.ok(find(objects, 'DaemonSet', 'node-exporter'));
    assert.equal(find(objects, 'Job', 'thumbnails').spec?.completions, 3);
    assert.equal(find(objects, 'Job', 'export').spec?.backoffLimit, 0); // condition: none is never retried
    assert.equal(podOf(find(objects, 'Job', 'export')).restartPolicy, 'Never');
    assert.equal(find(objects, 'Deployment', 'web').spec?.replicas, 4);
  });

  test('hardened: limits, security context, tmpfs in memory, grace period, init', () => {
    const { objects, lossy } = fixture('hardened');
    const pod = podOf(find(objects, 'Deployment', 'api'));
    const c = pod.containers[0]!;
    assert.deepEqual(c.resources, { limits: { cpu: '1500m', memory: '1Gi' }, requests: { cpu: '500m', memory: '256Mi' } });
    assert.deepEqual(c.securityContext, { runAsUser: 10001, runAsGroup: 10001, readOnlyRootFilesystem: true, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] }, allowPrivilegeEscalation: false });
    assert.deepEqual(pod.securityContext, { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] });
    assert.equal(pod.terminationGracePeriodSeconds, 45);
    assert.equal(pod.shareProcessNamespace, true);
    const memory = pod.volumes!.filter((v) => v.emptyDir?.medium === 'Memory').map((v) => v.emptyDir?.sizeLimit);
    assert.deepEqual(memory, ['32Mi', '64Mi']);
    assert.deepEqual(lossy, ['services.api.ulimits']);
  });

  test('stateful: the StatefulSet claims its volume per pod, its labels kept; start-first rolls without downtime', () => {
    const { objects, refs } = fixture('stateful');
    const db = find(objects, 'StatefulSet', 'db');
    assert.equal(db.spec?.serviceName, 'db');
    assert.equal(db.spec?.volumeClaimTemplates?.[0]?.metadata?.labels?.backup, 'nightly');
    assert.ok(!refs.includes('PersistentVolumeClaim/dbdata'));
    const web = find(objects, 'Deployment', 'web');
    assert.equal(web.spec?.replicas, 2);
    assert.deepEqual(web.spec?.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  });

  test('wordpress-mysql: .env passwords, the command as args, `$` left for the shell', () => {
    const { objects } = fixture('wordpress-mysql');
    assert.equal(env(objects, 'wordpress-env').WORDPRESS_DB_PASSWORD, 'wp-pass');
    assert.equal(env(objects, 'db-env').MYSQL_ROOT_PASSWORD, 'root-pass');
    const db = podOf(find(objects, 'Deployment', 'db')).containers[0]!;
    assert.deepEqual(db.args, ['--default-authentication-plugin=mysql_native_password']);
    // a probe's exec is not expanded by Kubernetes: the text is docker's
    assert.deepEqual(db.readinessProbe?.exec?.command, ['mysqladmin', 'ping', '-h', 'localhost', '-p$MYSQL_ROOT_PASSWORD']);
    assert.deepEqual(initNames(find(objects, 'Deployment', 'wordpress')), ['wait-db']);
  });

  test('nginx-bind-file: the config file as a ConfigMap, the site directory left out, the traefik rule an annotation', () => {
    const { objects, lossy } = fixture('nginx-bind-file');
    assert.match(env(objects, 'nginx-conf')['nginx.conf']!, /listen 80;/);
    const web = find(objects, 'Deployment', 'web');
    assert.deepEqual(podOf(web).containers[0]!.volumeMounts?.map((m) => m.mountPath), ['/etc/nginx/conf.d/default.conf']);
    assert.equal(web.spec?.template.metadata?.labels?.['com.example.team'], 'web');
    assert.equal(web.spec?.template.metadata?.annotations?.['traefik.http.routers.web.rule'], 'Host(`example.org`)');
    assert.deepEqual(lossy, ['services.web.volumes.1']);
  });

  test('host-access: every host-bound key is a lossy warning', () => {
    const { objects, lossy } = fixture('host-access');
    assert.deepEqual(lossy.sort(), ['services.agent.devices', 'services.agent.logging', 'services.agent.network_mode', 'services.agent.pid', 'services.agent.volumes.0', 'services.agent.volumes.1']);
    assert.equal(podOf(find(objects, 'Deployment', 'agent')).containers[0]!.securityContext?.privileged, true);
  });
});

describe('examples', () => {
  const example = (name: string, load?: Load) => generate(path.join(ROOT, 'examples', name), load);

  test('web-api-kv: built images, a healthcheck chain, a claim', () => {
    const { objects, warnings } = example('web-api-kv');
    assert.deepEqual(initNames(find(objects, 'Deployment', 'web')), ['wait-api']);
    assert.deepEqual(initNames(find(objects, 'Deployment', 'api')), ['wait-kv']);
    assert.equal(podOf(find(objects, 'Deployment', 'kv')).containers[0]!.image, 'webapikv-kv');
    assert.ok(find(objects, 'PersistentVolumeClaim', 'kvdata'));
    assert.equal(warnings.filter((w) => w.path.endsWith('.build')).length, 3);
  });

  test('multi-stage, ci-tests, web-db-cache', () => {
    const site = example('multi-stage');
    assert.ok(site.refs.includes('Deployment/site'));
    const ci = example('ci-tests');
    assert.equal(env(ci.objects, 'tests-env').EXPECT, 'hello, world');
    assert.deepEqual(initNames(find(ci.objects, 'Deployment', 'tests')), ['wait-app']);
    const shop = example('web-db-cache', { env: { POSTGRES_PASSWORD: 'pw' } });
    assert.ok(!shop.refs.some((r) => r.includes('adminer')));
    assert.equal(env(shop.objects, 'web-env').DATABASE_URL, 'postgres://shop:pw@db:5432/shop');
  });
});

describe('the command', () => {
  test('stack kube generate prints the manifests, -o writes one file per object, --strict fails on what cannot be carried over', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'stack-kube-out-'));
    try {
      const run = (cwd: string, args: string[]) => spawnSync(process.execPath, [BIN, 'kube', ...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 });
      const printed = run(path.join(FIXTURES, 'one-shot-seed'), ['generate']);
      assert.equal(printed.status, 0, printed.stderr);
      const docs = parseAllDocuments(printed.stdout, { version: '1.1' });
      const objects = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as KubeObject);
      checkManifests(objects);
      assert.deepEqual(initNames(find(objects, 'Deployment', 'app')), ['wait-db', 'migrate', 'seed']);

      const written = run(path.join(FIXTURES, 'web-db-cache'), ['generate', '-o', out, 'web']);
      assert.equal(written.status, 0, written.stderr);
      const files = readdirSync(out).sort();
      assert.ok(files.includes('web-deployment.yaml') && files.includes('pgdata-persistentvolumeclaim.yaml'), files.join(', '));
      assert.equal(written.stdout.trim().split('\n').length, files.length);
      assert.match(readFileSync(path.join(out, 'web-env-configmap.yaml'), 'utf8'), /DATABASE_URL: postgres:\/\/shop:from-dotenv@db:5432\/shop/);

      const strict = run(path.join(FIXTURES, 'host-access'), ['generate', '--strict']);
      assert.equal(strict.status, 1);
      assert.equal(strict.stdout, '');
      assert.match(strict.stderr, /error: compose\.yaml:5:19: services\.agent\.network_mode: "host" has no faithful Kubernetes equivalent/);
      assert.equal(strict.stderr.match(/^error: /gm)?.length, 6);

      const bad = run(path.join(FIXTURES, 'profiles'), ['generate', '--service-type', 'ClusterIP']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /--service-type ClusterIP: expected NodePort or LoadBalancer/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
