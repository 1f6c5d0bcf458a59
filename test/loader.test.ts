import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadProject, StackError, StackErrors, type LoadOptions } from '../engine/index.js';
import { tmpProject } from './support/tmp-project.js';

const load = (cwd: string, opts: Partial<LoadOptions> = {}) => loadProject({ cwd, env: {}, ...opts });

function userErrors(fn: () => unknown): StackError[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof StackErrors) return [...e.errors];
    if (e instanceof StackError) return [e];
    throw e;
  }
  assert.fail('expected a user error');
}

describe('file discovery and project name', () => {
  test('default file names in order, with the override companion merged', () => {
    const dir = tmpProject({
      'compose.yaml': 'services:\n  web:\n    image: a\n',
      'docker-compose.yml': 'services:\n  other:\n    image: b\n',
      'compose.override.yaml': 'services:\n  web:\n    environment: [X=1]\n',
    });
    const { project, warnings } = load(dir);
    assert.deepEqual(Object.keys(project.services), ['web']);
    assert.deepEqual(project.services.web!.environment, { X: '1' });
    assert.deepEqual(project.config_files, [path.join(dir, 'compose.yaml'), path.join(dir, 'compose.override.yaml')]);
    assert.match(warnings.join('\n'), /several stack files.*using compose\.yaml/);
  });

  test('stack.yaml comes first; a parent directory is searched', () => {
    const dir = tmpProject({ 'stack.yaml': 'services:\n  s:\n    image: a\n', 'compose.yaml': 'services:\n  c:\n    image: b\n', 'sub/deeper/.keep': '' });
    const { project } = load(path.join(dir, 'sub/deeper'));
    assert.deepEqual(Object.keys(project.services), ['s']);
    assert.equal(project.working_dir, dir);
  });

  test('no stack file is a clear error', () => {
    const dir = tmpProject({ 'README': 'nothing here' });
    const [e] = userErrors(() => load(dir));
    assert.match(e!.message, /no stack file found/);
    assert.match(e!.hint ?? '', /compose\.yaml/);
  });

  test('project name: -p, then the environment, then name:, then the directory', () => {
    const dir = tmpProject({ 'compose.yaml': 'name: From_File\nservices:\n  s:\n    image: a\n' }, 'My.Dir');
    assert.equal(load(dir).project.name, 'from_file');
    assert.equal(load(dir, { env: { COMPOSE_PROJECT_NAME: 'envname' } }).project.name, 'envname');
    assert.equal(load(dir, { env: { STACK_PROJECT_NAME: 'stackname', COMPOSE_PROJECT_NAME: 'envname' } }).project.name, 'stackname');
    assert.equal(load(dir, { projectName: 'flag', env: { COMPOSE_PROJECT_NAME: 'envname' } }).project.name, 'flag');
    const unnamed = tmpProject({ 'compose.yaml': 'services:\n  s:\n    image: a\n' }, '_My.Dir-2');
    assert.equal(load(unnamed).project.name, 'mydir-2');
    assert.match(userErrors(() => load(dir, { projectName: 'Bad Name' }))[0]!.message, /invalid project name "Bad Name"/);
  });

  test('the project name is available to interpolation and names networks and volumes', () => {
    const dir = tmpProject({ 'compose.yaml': 'name: shop\nservices:\n  s:\n    image: a\n    labels: ["p=${COMPOSE_PROJECT_NAME}"]\n    volumes: [data:/d]\nvolumes:\n  data:\n  ext:\n    external: true\n' });
    const { project } = load(dir);
    assert.equal(project.services.s!.labels.p, 'shop');
    assert.equal(project.networks.default!.name, 'shop_default');
    assert.equal(project.volumes.data!.name, 'shop_data');
    assert.equal(project.volumes.ext!.name, 'ext');
  });
});

describe('environment for interpolation', () => {
  const files = {
    'compose.yaml': 'services:\n  s:\n    image: "img:${TAG}"\n    environment:\n      A: ${A:-none}\n      FROM_ENV:\n',
    '.env': 'TAG=fromdotenv\nA=dotenv-a\n',
    'other.env': 'TAG=fromother\n',
  };

  test('.env supplies values; the process environment wins', () => {
    const dir = tmpProject(files);
    assert.equal(load(dir).project.services.s!.image, 'img:fromdotenv');
    const { project } = load(dir, { env: { TAG: 'fromprocess', FROM_ENV: 'yes' } });
    assert.equal(project.services.s!.image, 'img:fromprocess');
    assert.equal(project.services.s!.environment.A, 'dotenv-a');
    assert.equal(project.services.s!.environment.FROM_ENV, 'yes');
  });

  test('--env-file replaces .env', () => {
    const dir = tmpProject(files);
    const { project } = load(dir, { envFiles: ['other.env'] });
    assert.equal(project.services.s!.image, 'img:fromother');
    assert.equal(project.services.s!.environment.A, 'none');
    assert.equal(project.services.s!.environment.FROM_ENV, null);
    assert.match(userErrors(() => load(dir, { envFiles: ['missing.env'] }))[0]!.message, /env file .*missing\.env not found/);
  });

  test('unset variables warn and become empty; --no-interpolate keeps the text', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  s:\n    image: "img${NOPE}"\n' });
    const r = load(dir);
    assert.equal(r.project.services.s!.image, 'img');
    assert.deepEqual(r.warnings, ['the "NOPE" variable is not set; using an empty string']);
    assert.equal(load(dir, { interpolate: false }).project.services.s!.image, 'img${NOPE}');
  });

  test('env_file per service: files in order, environment on top, optional files may be missing', () => {
    const dir = tmpProject({
      'compose.yaml': 'services:\n  s:\n    image: a\n    env_file:\n      - a.env\n      - path: b.env\n      - path: missing.env\n        required: false\n    environment:\n      C: from-compose\n',
      'a.env': 'A=1\nB=from-a\nC=from-a\n',
      'b.env': 'B=from-b\n',
    });
    assert.deepEqual(load(dir).project.services.s!.environment, { A: '1', B: 'from-b', C: 'from-compose' });
  });

  test('a required env_file that is missing points at its entry', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  s:\n    image: a\n    env_file: [nope.env]\n' });
    const [e] = userErrors(() => load(dir));
    assert.match(e!.message, /env file .*nope\.env not found/);
    assert.deepEqual(e!.location, { file: 'compose.yaml', line: 4, col: 16 });
  });

  test('interpolated values are cast where the schema wants booleans and numbers', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  s:\n    image: a\n    read_only: ${RO}\n    deploy:\n      replicas: ${N}\n    cpus: ${C}\n' });
    const s = load(dir, { env: { RO: 'true', N: '3', C: '1.5' } }).project.services.s!;
    assert.equal(s.read_only, true);
    assert.equal(s.deploy?.replicas, 3);
    assert.equal(s.cpus, 1.5);
    const [e] = userErrors(() => load(dir, { env: { RO: 'maybe', N: '3', C: '1' } }));
    assert.match(e!.message, /services\.s\.read_only: must be a boolean/);
    assert.deepEqual(e!.location, { file: 'compose.yaml', line: 4, col: 16 });
  });
});

describe('multiple files, extends and profiles', () => {
  test('relative paths in -f files resolve against the project directory', () => {
    const dir = tmpProject({
      'compose.yaml': 'services:\n  s:\n    build: ./app\n    volumes: [./data:/data]\n',
      'overrides/dev.yaml': 'services:\n  s:\n    volumes: [./src:/src]\n',
    });
    const s = load(dir, { files: ['compose.yaml', 'overrides/dev.yaml'] }).project.services.s!;
    assert.equal(s.build?.context, path.join(dir, 'app'));
    assert.deepEqual(s.volumes.map((v) => v.source), [path.join(dir, 'data'), path.join(dir, 'src')]);
  });

  test('extends from another file resolves that file\'s paths against its own directory', () => {
    const dir = tmpProject({
      'compose.yaml': 'services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: base\n    environment: [LOCAL=1]\n',
      'common/base.yaml': 'services:\n  base:\n    build: ./ctx\n    env_file: base.env\n    volumes: ["./conf:/etc/app:ro"]\n    environment: [BASE=1]\n',
      'common/base.env': 'FROM_BASE_FILE=1\n',
    });
    const web = load(dir).project.services.web!;
    assert.equal(web.build?.context, path.join(dir, 'common/ctx'));
    assert.equal(web.volumes[0]!.source, path.join(dir, 'common/conf'));
    assert.deepEqual(web.environment, { FROM_BASE_FILE: '1', BASE: '1', LOCAL: '1' });
  });

  test('extends chains within a file; a cycle is an error', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  a:\n    image: a\n    ports: ["80:80"]\n  b:\n    extends: a\n    ports: ["81:81"]\n  c:\n    extends: {service: b}\n    image: c\n' });
    const { services } = load(dir).project;
    assert.equal(services.c!.image, 'c');
    assert.deepEqual(services.c!.ports.map((p) => p.target), [80, 81]);
    const cyc = tmpProject({ 'compose.yaml': 'services:\n  a:\n    image: x\n    extends: b\n  b:\n    extends: a\n' });
    const errs = userErrors(() => load(cyc));
    assert.match(errs[0]!.message, /extends cycle: (a -> b -> a|b -> a -> b)/);
  });

  test('profiles: inactive services are left out; --profile and named services enable them', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  web:\n    image: a\n  debug:\n    image: b\n    profiles: [debug]\n  tool:\n    image: c\n    profiles: [tools, ops]\n' });
    assert.deepEqual(Object.keys(load(dir).project.services), ['web']);
    assert.deepEqual(Object.keys(load(dir, { profiles: ['ops'] }).project.services), ['web', 'tool']);
    assert.deepEqual(Object.keys(load(dir, { env: { COMPOSE_PROFILES: 'debug,tools' } }).project.services), ['web', 'debug', 'tool']);
    assert.deepEqual(Object.keys(load(dir, { services: ['debug'] }).project.services), ['web', 'debug']);
    assert.deepEqual(load(dir).project.disabled_services, ['debug', 'tool']);
  });

  test('depending on a service of an inactive profile says which profile enables it', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  web:\n    image: a\n    depends_on: [db]\n  db:\n    image: b\n    profiles: [data]\n' });
    const [e] = userErrors(() => load(dir));
    assert.match(e!.message, /service "web" depends on "db", which is not enabled by the active profiles/);
    assert.match(e!.hint ?? '', /--profile data/);
    assert.deepEqual(e!.location, { file: 'compose.yaml', line: 4, col: 18 });
    const optional = tmpProject({ 'compose.yaml': 'services:\n  web:\n    image: a\n    depends_on:\n      db: {condition: service_started, required: false}\n  db:\n    image: b\n    profiles: [data]\n' });
    assert.deepEqual(load(optional).project.services.web!.depends_on, {});
  });

  test('errors from several files are reported together, each in its own file', () => {
    const dir = tmpProject({
      'compose.yaml': 'services:\n  web:\n    image: a\n    restart: 3\n',
      'override.yaml': 'services:\n  web:\n    portz: ["80:80"]\n',
    });
    const errs = userErrors(() => load(dir, { files: ['compose.yaml', 'override.yaml'] }));
    assert.deepEqual(errs.map((e) => `${e.location?.file}:${e.location?.line}:${e.location?.col}`), ['compose.yaml:4:14', 'override.yaml:3:5']);
    assert.match(errs[1]!.hint ?? '', /did you mean "ports"/);
  });

  test('!reset in an override removes a value; !override replaces it', () => {
    const dir = tmpProject({
      'compose.yaml': 'services:\n  web:\n    image: a\n    ports: ["80:80"]\n    environment: {A: "1", B: "2"}\n',
      'compose.override.yaml': 'services:\n  web:\n    ports: !reset []\n    environment: !override {C: "3"}\n',
    });
    const web = load(dir).project.services.web!;
    assert.deepEqual(web.ports, []);
    assert.deepEqual(web.environment, { C: '3' });
  });
});

describe('normalization', () => {
  test('short syntax expands to the long form', () => {
    const dir = tmpProject({
      'compose.yaml': [
        'services:',
        '  web:',
        '    image: a',
        '    command: sh -c "echo hi && sleep 1"',
        '    ports: ["127.0.0.1:8080:80", "9000-9001:9000-9001/udp", 3000, "[::1]:53:53/udp"]',
        '    volumes: ["./data:/data:ro,z", "cache:/cache:nocopy", "/anon"]',
        '    depends_on: [db]',
        '    networks: [front]',
        '    healthcheck: {test: "curl -f http://localhost", interval: 1m30s}',
        '    mem_limit: 512m',
        '    ulimits: {nofile: 1024}',
        '    extra_hosts: ["host.docker.internal:host-gateway"]',
        '  db:',
        '    image: b',
        'volumes: {cache: }',
        'networks: {front: }',
      ].join('\n'),
    });
    const web = load(dir).project.services.web!;
    assert.deepEqual(web.command, ['sh', '-c', 'echo hi && sleep 1']);
    assert.deepEqual(web.ports, [
      { mode: 'ingress', host_ip: '127.0.0.1', target: 80, published: '8080', protocol: 'tcp' },
      { mode: 'ingress', target: 9000, published: '9000', protocol: 'udp' },
      { mode: 'ingress', target: 9001, published: '9001', protocol: 'udp' },
      { mode: 'ingress', target: 3000, protocol: 'tcp' },
      { mode: 'ingress', host_ip: '::1', target: 53, published: '53', protocol: 'udp' },
    ]);
    assert.deepEqual(web.volumes, [
      { type: 'bind', source: path.join(dir, 'data'), target: '/data', read_only: true, bind: { selinux: 'z', create_host_path: true } },
      { type: 'volume', source: 'cache', target: '/cache', volume: { nocopy: true } },
      { type: 'volume', target: '/anon' },
    ]);
    assert.deepEqual(web.depends_on, { db: { condition: 'service_started', required: true, restart: false } });
    assert.deepEqual(web.networks, { front: null });
    assert.deepEqual(web.healthcheck, { test: ['CMD-SHELL', 'curl -f http://localhost'], interval: 90_000 });
    assert.equal(web.mem_limit, 536870912);
    assert.deepEqual(web.ulimits, { nofile: { soft: 1024, hard: 1024 } });
    assert.deepEqual(web.extra_hosts, ['host.docker.internal=host-gateway']);
  });

  test('bad port and volume strings are positioned errors', () => {
    const dir = tmpProject({ 'compose.yaml': 'services:\n  web:\n    image: a\n    ports:\n      - "80:80/xyz"\n      - "1-3:1-2"\n    volumes:\n      - "./a:relative"\n' });
    const errs = userErrors(() => load(dir));
    assert.deepEqual(errs.map((e) => e.location?.line), [5, 6, 8]);
    assert.match(errs[0]!.message, /unknown protocol "xyz"/);
    assert.match(errs[1]!.message, /different lengths/);
    assert.match(errs[2]!.message, /must be absolute/);
  });
});

describe('include', () => {
  test('an included project brings its services, with its own directory and .env', () => {
    const dir = tmpProject({
      'compose.yaml': 'include:\n  - db/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n',
      'db/compose.yaml': 'services:\n  db:\n    image: "postgres:${PG:-15}"\n    volumes: [./init:/docker-entrypoint-initdb.d, data:/var/lib/postgresql/data]\nvolumes:\n  data:\n',
      'db/.env': 'PG=16\n',
    });
    const { project, graph } = load(dir);
    assert.deepEqual(Object.keys(project.services).sort(), ['db', 'web']);
    assert.equal(project.services.db!.image, 'postgres:16');
    assert.equal(project.services.db!.volumes[0]!.source, path.join(dir, 'db/init'));
    assert.equal(project.volumes.data!.name, 'proj_data');
    assert.deepEqual(graph.levels(), [['db'], ['web']]);
  });

  test('the including environment wins over the included .env; env_file replaces it', () => {
    const dir = tmpProject({
      'compose.yaml': 'include:\n  - path: lib/compose.yaml\n    env_file: lib.env\nservices: {}\n',
      'lib/compose.yaml': 'services:\n  s:\n    image: "img:${V}-${W:-w}"\n',
      'lib/.env': 'V=from-dotenv\n',
      'lib.env': 'V=from-envfile\nW=ww\n',
    });
    assert.equal(load(dir).project.services.s!.image, 'img:from-envfile-ww');
    assert.equal(load(dir, { env: { V: 'process' } }).project.services.s!.image, 'img:process-ww');
  });

  test('a conflicting definition and a cycle are errors at the include', () => {
    const conflict = tmpProject({
      'compose.yaml': 'include: [other.yaml]\nservices:\n  s:\n    image: mine\n',
      'other.yaml': 'services:\n  s:\n    image: theirs\n',
    });
    const [e] = userErrors(() => load(conflict));
    assert.match(e!.message, /services\.s is defined both here and in the included other\.yaml/);
    assert.deepEqual(e!.location, { file: 'compose.yaml', line: 3, col: 3 });
    const cycle = tmpProject({ 'compose.yaml': 'include: [a.yaml]\nservices: {}\n', 'a.yaml': 'include: [compose.yaml]\nservices: {}\n' });
    assert.match(userErrors(() => load(cycle))[0]!.message, /include cycle: compose\.yaml -> a\.yaml -> compose\.yaml/);
    const missing = tmpProject({ 'compose.yaml': 'include:\n  - nope.yaml\nservices: {}\n' });
    const [m] = userErrors(() => load(missing));
    assert.match(m!.message, /included file .*nope\.yaml not found/);
    assert.deepEqual(m!.location, { file: 'compose.yaml', line: 2, col: 5 });
  });
});
