/**
 * `stack kube generate`'s semantics, rule by rule: each test loads a small stack file with
 * the loader `up` uses, generates, checks every object against the Kubernetes schema and
 * the API server's naming rules (test/support/kube-manifests.ts), and asserts the mapping.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadProject } from '../engine/load/loader.js';
import { generateManifests, type GenerateOptions } from '../engine/kube/generate.js';
import type { KubeObject } from '../engine/kube/objects.js';
import { kubeName, labelValue } from '../engine/kube/names.js';
import { manifestsYaml } from '../engine/kube/output.js';
import { rolloutState } from '../engine/kube/rollout.js';
import { throwIfLossy } from '../engine/kube/warnings.js';
import { StackError, StackErrors } from '../engine/errors.js';
import { checkManifests, find, podOf } from './support/kube-manifests.js';

let root: string;
let count = 0;

before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'stack-kube-'));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

interface GenInput {
  env?: Record<string, string>;
  profiles?: string[];
  services?: string[];
  options?: GenerateOptions;
  /** ConfigMaps, Secrets and claims that are expected to exist already */
  external?: string[];
}

function write(files: Record<string, string>): string {
  const dir = path.join(root, `p${count++}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

function generate(files: string | Record<string, string>, input: GenInput = {}) {
  const dir = write(typeof files === 'string' ? { 'compose.yaml': files } : files);
  const loaded = loadProject({ cwd: dir, projectName: 'demo', env: input.env ?? {}, profiles: input.profiles ?? [], services: input.services ?? [] });
  const manifests = generateManifests(loaded, { ...input.options, ...(input.services && { services: input.services }) });
  checkManifests(manifests.objects, input.external);
  const refs = manifests.objects.map((o) => `${o.kind}/${o.metadata.name}`);
  return { ...manifests, dir, refs, project: loaded.project };
}

const names = (list: readonly { name: string }[] | undefined) => (list ?? []).map((c) => c.name);

describe('Services', () => {
  test('a dependency without ports still gets a Service, headless so every port answers as under up', () => {
    const { objects, refs } = generate(`
services:
  app:
    image: app
    depends_on: [db]
  db:
    image: postgres:16
  worker:
    image: worker
`);
    const db = find(objects, 'Service', 'db');
    assert.equal(db.spec?.clusterIP, 'None');
    assert.equal(db.spec?.ports, undefined);
    assert.deepEqual(db.spec?.selector, { 'com.docker.compose.project': 'demo', 'com.docker.compose.service': 'db' });
    // nothing depends on app or worker and they name no port: no Service
    assert.ok(!refs.includes('Service/app'));
    assert.ok(!refs.includes('Service/worker'));
  });

  test('ports and expose make a ClusterIP Service on the container ports, named when there are several', () => {
    const { objects } = generate(`
services:
  api:
    image: api
    ports: ["8080:80", "9090:9090/udp"]
    expose: ["3000-3001", "80"]
`);
    const api = find(objects, 'Service', 'api');
    assert.equal(api.spec?.type, 'ClusterIP');
    assert.deepEqual(api.spec?.ports?.map((p) => [p.name, p.port, p.targetPort, p.protocol]), [
      ['tcp-80', 80, 80, 'TCP'],
      ['udp-9090', 9090, 9090, 'UDP'],
      ['tcp-3000', 3000, 3000, 'TCP'],
      ['tcp-3001', 3001, 3001, 'TCP'],
    ]);
    const container = podOf(find(objects, 'Deployment', 'api')).containers[0]!;
    assert.deepEqual(container.ports?.map((p) => p.containerPort), [80, 9090, 3000, 3001]);
  });

  test('published ports leave through a LoadBalancer, or NodePort by flag; loopback ones stay inside', () => {
    const yaml = `
services:
  web:
    image: web
    ports: ["80:8080", "31000:9000", "127.0.0.1:5000:5000", "8443"]
`;
    const lb = generate(yaml);
    const pub = find(lb.objects, 'Service', 'web-published');
    assert.equal(pub.spec?.type, 'LoadBalancer');
    assert.deepEqual(pub.spec?.ports?.map((p) => [p.port, p.targetPort]), [[80, 8080], [31000, 9000], [8443, 8443]]);
    const advice = lb.warnings.find((w) => w.path === 'services.web.ports.2');
    assert.ok(advice && !advice.lossy && advice.message.includes('kubectl port-forward service/web 5000:5000'), JSON.stringify(lb.warnings));
    assert.ok(advice.location && advice.location.line > 0);
    // the internal Service still carries every container port, the loopback one included
    assert.deepEqual(find(lb.objects, 'Service', 'web').spec?.ports?.map((p) => p.port), [8080, 9000, 5000, 8443]);

    const np = generate(yaml, { options: { serviceType: 'NodePort' } });
    const nodePorts = find(np.objects, 'Service', 'web-published');
    assert.equal(nodePorts.spec?.type, 'NodePort');
    // only a published port in the node port range keeps its number
    assert.deepEqual(nodePorts.spec?.ports?.map((p) => p.nodePort), [undefined, 31000, undefined]);
  });

  test('network aliases, container_name and links aliases resolve through Services of their own', () => {
    const { objects, refs } = generate(`
services:
  db:
    image: postgres
    container_name: main-db
    networks:
      default:
        aliases: [database]
  app:
    image: app
    links: ["db:pg"]
`);
    for (const name of ['db', 'main-db', 'database', 'pg']) {
      assert.ok(refs.includes(`Service/${name}`), name);
      assert.deepEqual(find(objects, 'Service', name).spec?.selector, find(objects, 'Service', 'db').spec?.selector);
    }
  });

  test('endpoint_mode dnsrr makes the Service headless even with ports', () => {
    const { objects } = generate(`
services:
  dns:
    image: coredns
    expose: ["53/udp"]
    deploy:
      endpoint_mode: dnsrr
`);
    assert.equal(find(objects, 'Service', 'dns').spec?.clusterIP, 'None');
  });
});

describe('healthchecks', () => {
  test('a healthcheck becomes readiness and liveness probes with its timings, start_period a startup probe', () => {
    const { objects } = generate(`
services:
  db:
    image: postgres
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app"]
      interval: 5s
      timeout: 3s
      retries: 10
      start_period: 30s
      start_interval: 2s
  api:
    image: api
    healthcheck:
      test: ["CMD", "wget", "-q", "http://localhost/"]
      interval: 500ms
  plain:
    image: plain
    healthcheck:
      disable: true
`);
    const db = podOf(find(objects, 'Deployment', 'db')).containers[0]!;
    assert.deepEqual(db.readinessProbe, { exec: { command: ['/bin/sh', '-c', 'pg_isready -U app'] }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 10, successThreshold: 1 });
    assert.deepEqual(db.livenessProbe, { exec: { command: ['/bin/sh', '-c', 'pg_isready -U app'] }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 10 });
    // 30s of start period probed every 2s, then the 10 retries
    assert.deepEqual(db.startupProbe, { exec: { command: ['/bin/sh', '-c', 'pg_isready -U app'] }, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 25 });
    const api = podOf(find(objects, 'Deployment', 'api')).containers[0]!;
    // sub-second intervals round up to Kubernetes' 1s; unset fields are docker's defaults (30s timeout, 3 retries)
    assert.deepEqual(api.readinessProbe, { exec: { command: ['wget', '-q', 'http://localhost/'] }, periodSeconds: 1, timeoutSeconds: 30, failureThreshold: 3, successThreshold: 1 });
    assert.equal(api.startupProbe, undefined);
    const plain = podOf(find(objects, 'Deployment', 'plain')).containers[0]!;
    assert.equal(plain.readinessProbe, undefined);
    assert.equal(plain.livenessProbe, undefined);
  });
});

describe('dependencies', () => {
  const chain = `
services:
  web:
    image: web
    ports: ["80:80"]
    depends_on:
      api: {condition: service_healthy}
      seed: {condition: service_completed_successfully}
  api:
    image: api
    expose: ["8080"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "true"]
  seed:
    image: seed
    command: ["seed", "--once"]
    environment:
      SEED_SIZE: "10"
    depends_on:
      migrate: {condition: service_completed_successfully}
  migrate:
    image: migrate
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres
    healthcheck:
      test: ["CMD", "pg_isready"]
`;

  test('a one-shot becomes init containers of its dependent, after its own dependencies, and nothing else', () => {
    const { objects, refs } = generate(chain);
    for (const oneShot of ['seed', 'migrate']) {
      assert.ok(!refs.some((r) => r.endsWith(`/${oneShot}`)), `${oneShot} has objects of its own: ${refs.join(', ')}`);
    }
    const web = podOf(find(objects, 'Deployment', 'web'));
    // in start order: api's wait (api starts before seed), then the seed's chain: db's wait, the migration, the seed
    assert.deepEqual(names(web.initContainers), ['wait-api', 'wait-db', 'migrate', 'seed']);
    const seed = web.initContainers!.find((c) => c.name === 'seed')!;
    assert.equal(seed.image, 'seed');
    assert.deepEqual(seed.args, ['seed', '--once']);
    assert.deepEqual(seed.envFrom, [{ configMapRef: { name: 'seed-env' } }]);
    assert.equal(seed.readinessProbe, undefined);
    assert.equal(find(objects, 'ConfigMap', 'seed-env').data?.SEED_SIZE, '10');
    assert.equal(web.initContainers!.findIndex((c) => c.name === 'wait-db') < web.initContainers!.findIndex((c) => c.name === 'migrate'), true);
  });

  test('service_healthy and service_started wait for a ready pod: a TCP connection through a ClusterIP, DNS for a headless Service', () => {
    const { objects } = generate(chain);
    const web = podOf(find(objects, 'Deployment', 'web'));
    const waitApi = web.initContainers!.find((c) => c.name === 'wait-api')!;
    assert.deepEqual(waitApi.command?.slice(0, 2), ['sh', '-c']);
    assert.match(waitApi.command![2]!, /^until nc -z -w 2 api 8080; do/);
    const waitDb = web.initContainers!.find((c) => c.name === 'wait-db')!;
    assert.match(waitDb.command![2]!, /nc -w 1 db 1 .*grep -q "bad address"/);
    assert.equal(waitDb.image, 'busybox:1.36');
    assert.equal(waitDb.securityContext?.runAsNonRoot, true);
    // the api waits for db on its own
    assert.deepEqual(names(podOf(find(objects, 'Deployment', 'api')).initContainers), ['wait-db']);
    const custom = generate(chain, { options: { waitImage: 'registry.local/busybox:1' } });
    assert.equal(podOf(find(custom.objects, 'Deployment', 'api')).initContainers![0]!.image, 'registry.local/busybox:1');
  });

  test('a one-shot several pods wait for is run in each, with advice that it runs more than once', () => {
    const { objects, warnings } = generate(`
services:
  migrate: {image: migrate}
  a:
    image: a
    depends_on: {migrate: {condition: service_completed_successfully}}
  b:
    image: b
    depends_on: {migrate: {condition: service_completed_successfully}}
`);
    assert.deepEqual(names(podOf(find(objects, 'Deployment', 'a')).initContainers), ['migrate']);
    assert.deepEqual(names(podOf(find(objects, 'Deployment', 'b')).initContainers), ['migrate']);
    assert.ok(warnings.some((w) => w.path === 'services.migrate' && !w.lossy && w.message.includes('a, b')));
  });

  test('restart: "no" that nobody waits for is a Job that is not restarted; a job mode runs its replicas to completion', () => {
    const { objects } = generate(`
services:
  report:
    image: report
    restart: "no"
    depends_on: [db]
  batch:
    image: batch
    deploy:
      mode: replicated-job
      replicas: 3
  db: {image: db}
`);
    const report = find(objects, 'Job', 'report');
    assert.equal(report.spec?.backoffLimit, 0);
    assert.equal(podOf(report).restartPolicy, 'Never');
    assert.deepEqual(names(podOf(report).initContainers), ['wait-db']);
    const batch = find(objects, 'Job', 'batch');
    assert.equal(batch.spec?.completions, 3);
    assert.equal(batch.spec?.parallelism, 3);
  });

  test('deploy.mode global is a DaemonSet; scale and deploy.replicas set the replicas', () => {
    const { objects } = generate(`
services:
  agent: {image: agent, deploy: {mode: global}}
  web: {image: web, scale: 3}
  api: {image: api, deploy: {replicas: 2}}
`);
    assert.ok(find(objects, 'DaemonSet', 'agent'));
    assert.equal(find(objects, 'Deployment', 'web').spec?.replicas, 3);
    assert.equal(find(objects, 'Deployment', 'api').spec?.replicas, 2);
  });
});

describe('environment, secrets and configs', () => {
  test('environment and env_file are a ConfigMap the container takes whole; .env values appear', () => {
    const { objects } = generate({
      'compose.yaml': `
services:
  app:
    image: app:\${TAG}
    env_file: [app.env]
    environment:
      GREETING: hello \${NAME}
      FROM_FILE: overridden
      UNSET:
`,
      'app.env': 'FROM_FILE=file\nONLY_FILE=1\n',
      '.env': 'TAG=1.4\nNAME=world\n',
    });
    const pod = podOf(find(objects, 'Deployment', 'app'));
    assert.equal(pod.containers[0]!.image, 'app:1.4');
    assert.deepEqual(pod.containers[0]!.envFrom, [{ configMapRef: { name: 'app-env' } }]);
    // a key without a value nor a variable is left unset, as under up
    assert.deepEqual(find(objects, 'ConfigMap', 'app-env').data, { FROM_FILE: 'overridden', ONLY_FILE: '1', GREETING: 'hello world' });
  });

  test('secrets are Secrets mounted at /run/secrets; configs ConfigMaps at /<name>; each file alone, 0444 unless a mode is given', () => {
    const { objects, warnings } = generate({
      'compose.yaml': `
services:
  app:
    image: app
    secrets:
      - db_password
      - source: api_key
        target: /etc/app/key
        mode: 0400
      - tls
    configs:
      - app_conf
      - source: inline
        target: /etc/inline.txt
secrets:
  db_password: {file: ./db_password.txt}
  api_key: {environment: API_KEY}
  tls: {external: true}
configs:
  app_conf: {file: ./app.conf}
  inline: {content: "hello \${WHO}"}
`,
      'db_password.txt': 's3cret\n',
      'app.conf': 'listen 80;\n',
      '.env': 'API_KEY=k-123\nWHO=there\n',
    }, { external: ['tls'] });
    assert.deepEqual(find(objects, 'Secret', 'db-password').data, { db_password: Buffer.from('s3cret\n').toString('base64') });
    assert.deepEqual(find(objects, 'Secret', 'api-key').data, { api_key: Buffer.from('k-123').toString('base64') });
    assert.deepEqual(find(objects, 'ConfigMap', 'app-conf').data, { app_conf: 'listen 80;\n' });
    assert.deepEqual(find(objects, 'ConfigMap', 'inline').data, { inline: 'hello there' });
    const pod = podOf(find(objects, 'Deployment', 'app'));
    const mounts = pod.containers[0]!.volumeMounts!.map((m) => [m.mountPath, m.subPath, m.readOnly]);
    assert.deepEqual(mounts, [
      ['/run/secrets/db_password', 'db_password', true],
      ['/etc/app/key', 'api_key', true],
      ['/run/secrets/tls', 'tls', true],
      ['/app_conf', 'app_conf', true],
      ['/etc/inline.txt', 'inline', true],
    ]);
    const keyVolume = pod.volumes!.find((v) => v.secret?.secretName === 'api-key')!;
    assert.deepEqual(keyVolume.secret?.items, [{ key: 'api_key', path: 'api_key', mode: 0o400 }]);
    assert.equal(pod.volumes!.find((v) => v.secret?.secretName === 'db-password')!.secret?.items?.[0]?.mode, 0o444);
    assert.ok(warnings.some((w) => w.path === 'secrets.tls' && !w.lossy && w.message.includes('"tls"')));
  });

  test('a single-file bind mount is a ConfigMap volume; a directory bind mount is left out with a lossy warning', () => {
    const { objects, warnings } = generate({
      'compose.yaml': `
services:
  proxy:
    image: nginx
    volumes:
      - ./conf/nginx.conf:/etc/nginx/nginx.conf:ro
      - ./html:/usr/share/nginx/html
`,
      'conf/nginx.conf': 'events {}\n',
      'html/index.html': '<h1>hi</h1>\n',
    });
    assert.deepEqual(find(objects, 'ConfigMap', 'conf-nginx-conf').data, { 'nginx.conf': 'events {}\n' });
    const mounts = podOf(find(objects, 'Deployment', 'proxy')).containers[0]!.volumeMounts!;
    assert.deepEqual(mounts.map((m) => [m.mountPath, m.subPath]), [['/etc/nginx/nginx.conf', 'nginx.conf']]);
    const w = warnings.find((x) => x.path === 'services.proxy.volumes.1');
    assert.ok(w?.lossy && w.message.includes('directory'), JSON.stringify(warnings));
    assert.equal(w.location?.line, 7);
  });
});

describe('volumes', () => {
  test('named volumes are claims; anonymous volumes, tmpfs and shm_size are emptyDirs, in memory where docker uses tmpfs', () => {
    const { objects } = generate(`
services:
  db:
    image: postgres
    volumes:
      - pgdata:/var/lib/postgresql/data
      - /scratch
      - type: tmpfs
        target: /cache
        tmpfs: {size: 64m}
    tmpfs: ["/run:size=16m,mode=1777"]
    shm_size: 256m
volumes:
  pgdata:
`, { options: { volumeSize: '5Gi', storageClass: 'fast' } });
    const pvc = find(objects, 'PersistentVolumeClaim', 'pgdata');
    assert.deepEqual(pvc.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } }, storageClassName: 'fast' });
    const deployment = find(objects, 'Deployment', 'db');
    // a second pod on the same data directory is two databases: stop the old pod first
    assert.equal(deployment.spec?.strategy?.type, 'Recreate');
    const pod = podOf(deployment);
    const byPath = Object.fromEntries(pod.containers[0]!.volumeMounts!.map((m) => [m.mountPath, pod.volumes!.find((v) => v.name === m.name)]));
    assert.deepEqual(byPath['/var/lib/postgresql/data']?.persistentVolumeClaim, { claimName: 'pgdata' });
    assert.deepEqual(byPath['/scratch']?.emptyDir, {});
    assert.deepEqual(byPath['/cache']?.emptyDir, { medium: 'Memory', sizeLimit: '64Mi' });
    assert.deepEqual(byPath['/run']?.emptyDir, { medium: 'Memory', sizeLimit: '16Mi' });
    assert.deepEqual(byPath['/dev/shm']?.emptyDir, { medium: 'Memory', sizeLimit: '256Mi' });
  });

  test('a StatefulSet when x-stack or --statefulsets asks: the volume it alone uses becomes its claim template', () => {
    const yaml = `
services:
  db:
    image: postgres
    volumes: [pgdata:/data, shared:/shared]
    x-stack: {kube: {workload: statefulset}}
    expose: ["5432"]
  cache:
    image: redis
    volumes: [cachedata:/data]
  worker:
    image: worker
    volumes: [shared:/shared]
volumes: {pgdata: {}, cachedata: {}, shared: {}}
`;
    const asked = generate(yaml);
    const db = find(asked.objects, 'StatefulSet', 'db');
    assert.equal(db.spec?.serviceName, 'db');
    assert.deepEqual(db.spec?.volumeClaimTemplates?.map((c) => c.metadata?.name), ['pgdata']);
    assert.equal(db.spec?.volumeClaimTemplates?.[0]?.metadata?.labels?.['com.docker.compose.project'], 'demo');
    // the shared volume stays a claim both pods mount
    assert.ok(asked.refs.includes('PersistentVolumeClaim/shared'));
    assert.ok(!asked.refs.includes('PersistentVolumeClaim/pgdata'));
    assert.ok(asked.refs.includes('Deployment/cache'));
    assert.ok(asked.warnings.some((w) => w.path === 'volumes.shared' && w.message.includes('db, worker')));

    const flagged = generate(yaml, { options: { statefulSets: true } });
    assert.ok(flagged.refs.includes('StatefulSet/cache'));
    // the worker uses only a shared volume: it stays a Deployment
    assert.ok(flagged.refs.includes('Deployment/worker'));
  });
});

describe('options and mistakes', () => {
  test('--namespace sets every object\'s namespace; without it the applier chooses', () => {
    const yaml = 'services:\n  a: {image: a, expose: ["80"], environment: {X: "1"}}\n';
    for (const o of generate(yaml, { options: { namespace: 'shop' } }).objects) assert.equal(o.metadata.namespace, 'shop');
    for (const o of generate(yaml).objects) assert.equal(o.metadata.namespace, undefined);
  });

  test('an unknown x-stack workload and a secret whose variable is unset are errors that say where', () => {
    assert.throws(
      () => generate('services:\n  a:\n    image: a\n    x-stack: {kube: {workload: daemonset}}\n'),
      (e: unknown) => e instanceof StackError && e.message.includes('x-stack.kube.workload') && e.message.includes('daemonset') && e.location?.line === 4,
    );
    assert.throws(
      () => generate('services:\n  a:\n    image: a\n    secrets: [token]\nsecrets:\n  token:\n    environment: TOKEN\n'),
      (e: unknown) => e instanceof StackError && e.kind === 'not-found' && e.message.includes('TOKEN') && e.location?.line === 7,
    );
  });
});

describe('resources and security', () => {
  test('deploy.resources, mem_limit and cpus are limits and requests; user, read_only, capabilities and privileged the security context', () => {
    const { objects, warnings } = generate(`
services:
  app:
    image: app
    user: "1000:2000"
    read_only: true
    cap_drop: [ALL]
    cap_add: [CAP_NET_BIND_SERVICE]
    security_opt: ["no-new-privileges:true"]
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 512M}
        reservations: {cpus: "0.25", memory: 128M}
  legacy:
    image: legacy
    mem_limit: 1g
    cpus: 2
    privileged: true
    user: www-data
`);
    const app = podOf(find(objects, 'Deployment', 'app')).containers[0]!;
    assert.deepEqual(app.resources, { limits: { cpu: '500m', memory: '512Mi' }, requests: { cpu: '250m', memory: '128Mi' } });
    assert.deepEqual(app.securityContext, {
      runAsUser: 1000,
      runAsGroup: 2000,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
      allowPrivilegeEscalation: false,
    });
    const legacy = podOf(find(objects, 'Deployment', 'legacy')).containers[0]!;
    assert.deepEqual(legacy.resources, { limits: { cpu: '2', memory: '1Gi' } });
    assert.deepEqual(legacy.securityContext, { privileged: true });
    const w = warnings.find((x) => x.path === 'services.legacy.user');
    assert.ok(w?.lossy && w.message.includes('www-data'));
  });
});

describe('labels and names', () => {
  test("the stack file's labels are kept (as annotations where Kubernetes refuses them as labels); every object carries the project's", () => {
    const { objects } = generate(`
services:
  web:
    image: web
    labels:
      tier: frontend
      traefik.http.routers.web.rule: Host(\`example.com\`)
    annotations:
      com.example/owner: team-a
    deploy:
      labels: {release: stable}
`);
    const d = find(objects, 'Deployment', 'web');
    assert.equal(d.metadata.labels?.release, 'stable');
    assert.equal(d.metadata.labels?.tier, 'frontend');
    const meta = d.spec!.template.metadata!;
    assert.equal(meta.labels?.tier, 'frontend');
    assert.equal(meta.annotations?.['traefik.http.routers.web.rule'], 'Host(`example.com`)');
    assert.equal(meta.annotations?.['com.example/owner'], 'team-a');
    for (const o of objects) assert.equal(o.metadata.labels?.['com.docker.compose.project'], 'demo');
  });

  test('underscores and capitals are mapped, long names cut with a hash, with a lossy warning where a name no longer resolves', () => {
    const long = `service_${'x'.repeat(80)}`;
    const longer = `service_${'x'.repeat(80)}y`;
    const { objects, warnings, refs } = generate(`
services:
  My_API:
    image: api
    expose: ["80"]
  ${long}: {image: a, expose: ["80"]}
  ${longer}: {image: b, expose: ["80"]}
`);
    assert.ok(refs.includes('Service/my-api'));
    assert.equal(podOf(find(objects, 'Deployment', 'my-api')).containers[0]!.name, 'my-api');
    assert.ok(warnings.some((w) => w.lossy && w.path === 'services.My_API' && w.message.includes('"my-api"')));
    const services = objects.filter((o) => o.kind === 'Service' && o.metadata.name.startsWith('service-x'));
    assert.equal(services.length, 2);
    for (const s of services) assert.ok(s.metadata.name.length <= 63, s.metadata.name);
    assert.notEqual(services[0]!.metadata.name, services[1]!.metadata.name);
  });

  test('label values: kept when valid, else mapped and ended with a hash that keeps two apart', () => {
    assert.equal(labelValue('My_App.v2'), 'My_App.v2');
    const a = labelValue(`project-${'a'.repeat(70)}`);
    const b = labelValue(`project-${'a'.repeat(71)}`);
    for (const v of [a, b, labelValue('two words'), labelValue('__')]) assert.match(v, /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
    assert.notEqual(a, b);
    assert.notEqual(labelValue('two words'), labelValue('two-words'));
    assert.equal(kubeName('9lives'), 's-9lives');
    assert.throws(() => kubeName('___'), StackError);
  });

  test('two names that map to one are an error naming both', () => {
    assert.throws(
      () => generate('services:\n  my_db: {image: a}\n  my-db: {image: b}\n'),
      (e: unknown) => e instanceof StackError && e.kind === 'conflict' && e.message.includes('"my_db"') && e.message.includes('"my-db"'),
    );
  });
});

describe('profiles and selection', () => {
  const yaml = `
services:
  app: {image: app, expose: ["80"]}
  debug:
    image: debug
    profiles: [debug]
    depends_on: [app]
  db: {image: db}
`;
  test('a profiled service appears only with its profile, as under up', () => {
    assert.ok(!generate(yaml).refs.some((r) => r.endsWith('/debug')));
    assert.ok(generate(yaml, { profiles: ['debug'] }).refs.includes('Deployment/debug'));
  });

  test('services named on the command line come with their dependencies only', () => {
    const { refs } = generate(yaml, { services: ['debug'] });
    assert.deepEqual(refs.filter((r) => r.startsWith('Deployment/')).sort(), ['Deployment/app', 'Deployment/debug']);
  });
});

describe('no faithful equivalent', () => {
  const yaml = `
services:
  monitor:
    image: monitor
    network_mode: host
    pid: host
    devices: ["/dev/fuse:/dev/fuse"]
    ulimits: {nofile: 65536}
`;
  test('network_mode: host, pid: host, devices are lossy warnings naming the service, the key and where it is', () => {
    const { warnings } = generate(yaml);
    for (const key of ['network_mode', 'pid', 'devices', 'ulimits']) {
      const w = warnings.find((x) => x.path === `services.monitor.${key}`);
      assert.ok(w?.lossy, `${key}: ${JSON.stringify(warnings)}`);
      assert.ok(w.location && w.location.file.endsWith('compose.yaml') && w.location.line > 2, key);
    }
  });

  test('--strict makes them errors, all reported together', () => {
    const { warnings } = generate(yaml);
    assert.throws(() => throwIfLossy(warnings), (e: unknown) => e instanceof StackErrors && e.errors.length === 4 && e.errors.every((x) => x.kind === 'unsupported'));
    // advice alone does not fail a strict run
    const built = generate('services:\n  app:\n    build: .\n', {});
    assert.ok(built.warnings.length > 0 && built.warnings.every((w) => !w.lossy));
    assert.doesNotThrow(() => throwIfLossy(built.warnings));
  });
});

describe('images and command lines', () => {
  test('a built service runs <project>-<service> unless a reference replaces it; `$` reaches the process unexpanded', () => {
    const files = {
      'compose.yaml': `
services:
  app:
    build: .
    command: ["sh", "-c", "echo $$HOME $$(date)"]
    entrypoint: ["/init"]
`,
      Dockerfile: 'FROM busybox\n',
    };
    const local = generate(files);
    const c = podOf(find(local.objects, 'Deployment', 'app')).containers[0]!;
    assert.equal(c.image, 'demo-app');
    assert.equal(c.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(c.command, ['/init']);
    // compose's $$ is the shell's $; Kubernetes would expand $(date), so each $ is doubled
    assert.deepEqual(c.args, ['sh', '-c', 'echo $$HOME $$(date)']);
    assert.ok(local.warnings.some((w) => w.path === 'services.app.build' && w.message.includes('demo-app')));

    const pushed = generate(files, { options: { images: { app: 'registry.example/demo/app@sha256:'.padEnd(97, 'a') } } });
    const p = podOf(find(pushed.objects, 'Deployment', 'app')).containers[0]!;
    assert.match(p.image!, /^registry\.example\/demo\/app@sha256:a{64}$/);
    assert.equal(p.imagePullPolicy, undefined);
    assert.ok(!pushed.warnings.some((w) => w.path === 'services.app.build'));
  });
});

describe('networks', () => {
  test('several networks become NetworkPolicies on labelled pods; published ports stay open', () => {
    const { objects } = generate(`
services:
  proxy:
    image: nginx
    ports: ["80:80"]
    networks: [front]
  app:
    image: app
    expose: ["8080"]
    networks: [front, back]
  db:
    image: db
    networks: [back]
networks: {front: {}, back: {}}
`);
    const label = (n: string) => `com.docker.compose.network/${n}`;
    assert.equal(podOf(find(objects, 'Deployment', 'db')) && find(objects, 'Deployment', 'db').spec?.template.metadata?.labels?.[label('back')], 'true');
    assert.equal(find(objects, 'Deployment', 'db').spec?.template.metadata?.labels?.[label('front')], undefined);
    const back = find(objects, 'NetworkPolicy', 'network-back');
    assert.deepEqual(back.spec?.podSelector?.matchLabels, { 'com.docker.compose.project': 'demo', 'app.kubernetes.io/managed-by': 'stack', [label('back')]: 'true' });
    assert.deepEqual(back.spec?.ingress, [{ from: [{ podSelector: { matchLabels: back.spec?.podSelector?.matchLabels } }] }]);
    assert.deepEqual(find(objects, 'NetworkPolicy', 'proxy-published').spec?.ingress, [{ ports: [{ port: 80, protocol: 'TCP' }] }]);
  });

  test('a project on one network gets no policies', () => {
    const { refs } = generate('services:\n  a: {image: a, ports: ["80:80"]}\n  b: {image: b}\n');
    assert.ok(!refs.some((r) => r.startsWith('NetworkPolicy/')));
  });
});

describe('output', () => {
  test('the YAML reads back identically with a YAML 1.1 parser, as kubectl reads it', () => {
    const { objects } = generate(`
services:
  app:
    image: app
    environment:
      FLAG: "yes"
      SWITCH: "on"
      MODE: "0755"
      COUNT: "12"
      EMPTY: ""
      NULLISH: "null"
`);
    const docs = parseAllDocuments(manifestsYaml(objects), { version: '1.1' });
    const parsed = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as KubeObject);
    assert.deepEqual(parsed, objects);
    assert.deepEqual(find(parsed, 'ConfigMap', 'app-env').data, { FLAG: 'yes', SWITCH: 'on', MODE: '0755', COUNT: '12', EMPTY: '', NULLISH: 'null' });
  });
});

describe('rollout', () => {
  test("a Deployment has rolled out when the controller saw the spec and every replica is updated and available (kubectl's rules)", () => {
    const d = (status: object, generation = 2) => ({ kind: 'Deployment', metadata: { generation }, spec: { replicas: 2 }, status: { observedGeneration: 2, ...status } });
    assert.equal(rolloutState(d({ updatedReplicas: 2, replicas: 2, availableReplicas: 2 })).state, 'done');
    assert.equal(rolloutState(d({ updatedReplicas: 2, replicas: 2, availableReplicas: 2 }, 3)).state, 'waiting');
    assert.deepEqual(rolloutState(d({ updatedReplicas: 1, replicas: 2, availableReplicas: 1 })), { state: 'waiting', reason: '1 of 2 replicas updated' });
    assert.deepEqual(rolloutState(d({ updatedReplicas: 2, replicas: 3, availableReplicas: 2 })), { state: 'waiting', reason: '1 old replicas still terminating' });
    assert.equal(rolloutState(d({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }] })).state, 'failed');
  });

  test('StatefulSets, DaemonSets and Jobs', () => {
    const sts = (status: object) => ({ kind: 'StatefulSet', metadata: { generation: 1 }, spec: { replicas: 2 }, status: { observedGeneration: 1, ...status } });
    assert.equal(rolloutState(sts({ readyReplicas: 2, currentRevision: 'a', updateRevision: 'a' })).state, 'done');
    assert.equal(rolloutState(sts({ readyReplicas: 2, currentRevision: 'a', updateRevision: 'b', updatedReplicas: 1 })).state, 'waiting');
    assert.equal(rolloutState(sts({ readyReplicas: 1 })).state, 'waiting');
    const ds = (status: object) => ({ kind: 'DaemonSet', metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, ...status } });
    assert.equal(rolloutState(ds({ updatedNumberScheduled: 3, numberAvailable: 3 })).state, 'done');
    assert.equal(rolloutState(ds({ updatedNumberScheduled: 3, numberAvailable: 2 })).state, 'waiting');
    const job = (status: object) => ({ kind: 'Job', status });
    assert.equal(rolloutState(job({ conditions: [{ type: 'Complete', status: 'True' }] })).state, 'done');
    assert.deepEqual(rolloutState(job({ conditions: [{ type: 'Failed', status: 'True', message: 'BackoffLimitExceeded' }] })), { state: 'failed', reason: 'BackoffLimitExceeded' });
    assert.deepEqual(rolloutState(job({ succeeded: 0 })), { state: 'waiting', reason: '0 of 1 completed' });
  });
});
