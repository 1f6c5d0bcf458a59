import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeValues } from '../engine/load/merge.js';
import { locate } from '../engine/load/source-map.js';
import { parseStackYaml } from '../engine/load/yaml-source.js';

function load(text: string, file = 'a.yaml') {
  return parseStackYaml(text, file)[0]!.data;
}
function merge(...texts: string[]) {
  return texts.reduce<unknown>((acc, t, i) => mergeValues(acc, load(t, `f${i}.yaml`), []), {}) as Record<string, any>;
}

describe('merging stack files', () => {
  test('mappings merge key by key; scalars are replaced', () => {
    const m = merge('services:\n  web:\n    image: a\n    restart: always\n', 'services:\n  web:\n    image: b\n  db:\n    image: pg\n');
    assert.deepEqual(m.services, { web: { image: 'b', restart: 'always' }, db: { image: 'pg' } });
  });

  test('command, entrypoint and healthcheck.test are replaced, not appended', () => {
    const m = merge(
      'services:\n  w:\n    command: [a, b]\n    entrypoint: [x]\n    healthcheck: {test: [CMD, a], retries: 3}\n',
      'services:\n  w:\n    command: [c]\n    entrypoint: [y, z]\n    healthcheck: {test: [CMD, b]}\n',
    );
    assert.deepEqual(m.services.w.command, ['c']);
    assert.deepEqual(m.services.w.entrypoint, ['y', 'z']);
    assert.deepEqual(m.services.w.healthcheck, { test: ['CMD', 'b'], retries: 3 });
  });

  test('environment and labels merge as mappings across list and map forms', () => {
    const m = merge(
      'services:\n  w:\n    environment: [A=1, B=2, C]\n    labels: {x: "1"}\n',
      'services:\n  w:\n    environment: {B: "3", D: "4"}\n    labels: [y=2]\n',
    );
    assert.deepEqual(m.services.w.environment, { A: '1', B: '3', C: null, D: '4' });
    assert.deepEqual(m.services.w.labels, { x: '1', y: '2' });
  });

  test('ports are appended and deduplicated; volumes merge by container path', () => {
    const m = merge(
      'services:\n  w:\n    ports: ["80:80", "443:443"]\n    volumes: ["./a:/data", "logs:/var/log"]\n',
      'services:\n  w:\n    ports: ["443:443", "8080:8080"]\n    volumes: ["./b:/data:ro", {type: tmpfs, target: /tmp}]\n',
    );
    assert.deepEqual(m.services.w.ports, ['80:80', '443:443', '8080:8080']);
    assert.deepEqual(m.services.w.volumes, ['./b:/data:ro', 'logs:/var/log', { type: 'tmpfs', target: '/tmp' }]);
  });

  test('depends_on and networks merge across list and map forms', () => {
    const m = merge(
      'services:\n  w:\n    depends_on: [db]\n    networks: [front]\n',
      'services:\n  w:\n    depends_on: {cache: {condition: service_healthy}}\n    networks: {back: {aliases: [api]}}\n',
    );
    assert.deepEqual(m.services.w.depends_on, { db: { condition: 'service_started', required: true }, cache: { condition: 'service_healthy' } });
    assert.deepEqual(m.services.w.networks, { front: null, back: { aliases: ['api'] } });
  });

  test('build as a string merges with build as a mapping', () => {
    const m = merge('services:\n  w:\n    build: ./app\n', 'services:\n  w:\n    build:\n      args: [V=1]\n');
    assert.deepEqual(m.services.w.build, { context: './app', args: { V: '1' } });
  });

  test('sets such as cap_add and dns are unioned', () => {
    const m = merge('services:\n  w:\n    cap_add: [NET_ADMIN]\n    dns: [1.1.1.1]\n', 'services:\n  w:\n    cap_add: [NET_ADMIN, SYS_TIME]\n    dns: [8.8.8.8]\n');
    assert.deepEqual(m.services.w.cap_add, ['NET_ADMIN', 'SYS_TIME']);
    assert.deepEqual(m.services.w.dns, ['1.1.1.1', '8.8.8.8']);
  });

  test('logging options are replaced when the driver changes', () => {
    const same = merge('services:\n  w:\n    logging: {driver: json-file, options: {max-size: 1m}}\n', 'services:\n  w:\n    logging: {options: {max-file: "3"}}\n');
    assert.deepEqual(same.services.w.logging, { driver: 'json-file', options: { 'max-size': '1m', 'max-file': '3' } });
    const other = merge('services:\n  w:\n    logging: {driver: json-file, options: {max-size: 1m}}\n', 'services:\n  w:\n    logging: {driver: syslog}\n');
    assert.deepEqual(other.services.w.logging, { driver: 'syslog' });
  });

  test('!reset removes a value and !override replaces it', () => {
    const m = merge(
      'services:\n  w:\n    ports: ["80:80"]\n    environment: {A: "1", B: "2"}\n    image: x\n',
      'services:\n  w:\n    ports: !reset []\n    environment: !override {C: "3"}\n',
    );
    assert.equal(m.services.w.ports, undefined);
    assert.deepEqual(m.services.w.environment, { C: '3' });
    assert.equal(m.services.w.image, 'x');
  });

  test('merged values keep the position of the file that wrote them', () => {
    const m = merge('services:\n  w:\n    image: a\n    restart: always\n', '\n\nservices:\n  w:\n    image: b\n');
    assert.deepEqual(locate(m, ['services', 'w', 'image']), { file: 'f1.yaml', line: 5, col: 12 });
    assert.deepEqual(locate(m, ['services', 'w', 'restart']), { file: 'f0.yaml', line: 4, col: 14 });
    assert.deepEqual(locate(m, ['services', 'w', 'restart'], { key: true }), { file: 'f0.yaml', line: 4, col: 5 });
  });

  test('anchors, aliases and << merge keys resolve like YAML 1.1 merge', () => {
    const d = load('x-base: &base\n  image: a\n  restart: always\nservices:\n  w:\n    <<: *base\n    image: b\n') as Record<string, any>;
    assert.deepEqual(d.services.w, { image: 'b', restart: 'always' });
  });
});
