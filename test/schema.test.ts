import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CASTS } from '../engine/load/interpolate.js';
import { parseStackYaml } from '../engine/load/yaml-source.js';
import { loadSchema, validateSchema } from '../engine/validate/schema.js';

type Schema = Record<string, any>;

/** Every path (with * for names and indexes) and the JSON types the schema allows there. */
function typesByPath(schema: Schema): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const resolve = (s: Schema): Schema => (s.$ref ? resolve(schema.definitions[s.$ref.replace('#/definitions/', '')]) : s);
  const visit = (raw: Schema, path: string[], depth: number) => {
    if (depth > 40 || typeof raw !== 'object') return;
    const s = resolve(raw);
    for (const alt of [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])]) visit(alt, path, depth + 1);
    if (s.type) {
      const key = path.join('.');
      const set = out.get(key) ?? new Set<string>();
      for (const t of [s.type].flat()) set.add(t);
      out.set(key, set);
    }
    for (const [k, v] of Object.entries(s.properties ?? {})) visit(v as Schema, [...path, k], depth + 1);
    for (const [p, v] of Object.entries(s.patternProperties ?? {})) if (p !== '^x-') visit(v as Schema, [...path, '*'], depth + 1);
    if (typeof s.additionalProperties === 'object') visit(s.additionalProperties, [...path, '*'], depth + 1);
    if (s.items && typeof s.items === 'object') visit(s.items, [...path, '*'], depth + 1);
  };
  visit(schema, [], 0);
  return out;
}

describe('schema', () => {
  test('every field typed boolean or number without a string form has a cast for interpolated values', () => {
    const missing: string[] = [];
    for (const [p, types] of typesByPath(loadSchema())) {
      const scalar = ['boolean', 'integer', 'number'].some((t) => types.has(t));
      if (!scalar || types.has('string') || types.has('object') || types.has('array')) continue;
      if (CASTS.lookup(p.split('.')) === undefined) missing.push(`${p} (${[...types].join('|')})`);
    }
    assert.deepEqual(missing, [], 'add these paths to CASTS in engine/load/interpolate.ts');
  });

  const check = (yaml: string) => validateSchema(parseStackYaml(yaml, 'c.yaml')[0]!.data).map((e) => `${e.location?.line}:${e.location?.col} ${e.message}${e.hint ? ` | ${e.hint}` : ''}`);

  test('a realistic file validates', () => {
    assert.deepEqual(
      check(`
services:
  web:
    image: nginx
    build: {context: ., args: [A=1], target: prod}
    ports: ["80:80", {target: 443, published: "8443", protocol: tcp}]
    volumes: ["./a:/a:ro", {type: bind, source: ./b, target: /b, bind: {create_host_path: true}}]
    environment: {A: 1, B: true, C: null}
    depends_on: {db: {condition: service_healthy, restart: true}}
    healthcheck: {test: ["CMD", "true"], interval: 1m30s, retries: 3, start_period: 10s}
    deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: 512M}}}
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    x-custom: {anything: [1, 2]}
  db:
    image: postgres
networks:
  front:
    ipam: {config: [{subnet: 172.28.0.0/16}]}
volumes:
  data:
    external: true
x-anchors: &a {k: v}
`),
      [],
    );
  });

  test('errors are the one cause that matters, at the offending node', () => {
    assert.deepEqual(check('services:\n  web:\n    image: a\n    ports:\n      - {target: 80, publishd: 8080}\n'), [
      '5:22 services.web.ports[0]: unknown key "publishd" | did you mean "published"?',
    ]);
    assert.deepEqual(check('services:\n  web:\n    image: a\n    command: 42\n'), ['4:14 services.web.command: must be empty, a string or a list']);
    assert.deepEqual(check('services:\n  web:\n    image: a\n    depends_on:\n      db: {condition: service_ready}\n'), [
      '5:23 services.web.depends_on.db.condition: "service_ready" is not one of service_started, service_healthy, service_completed_successfully',
    ]);
    assert.deepEqual(check('services:\n  web app:\n    image: a\n'), ['2:3 services: "web app" is not a valid name | names may contain letters, digits, ".", "_" and "-" only']);
    assert.deepEqual(check('services:\n  web:\n    image: a\n    healthcheck:\n      interval: 10\n'), [
      '5:17 services.web.healthcheck.interval: must be a duration written as text, like "30s" or "1m30s"',
    ]);
    assert.deepEqual(check('servics:\n  web: {}\n'), ['1:1 top level: unknown key "servics" | did you mean "services"?']);
  });

  test('independent errors are all reported', () => {
    const errors = check('services:\n  a:\n    image: 1\n    tty: "yes"\n  b:\n    imag: x\n');
    assert.equal(errors.length, 3, errors.join('\n'));
  });
});
