import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DependencyGraph } from '../engine/graph/graph.js';
import { StackError } from '../engine/errors.js';
import type { Project, Service } from '../engine/model/types.js';

function svc(name: string, extra: Partial<Service> = {}): Service {
  return { name, image: 'x', profiles: [], environment: {}, labels: {}, depends_on: {}, ports: [], volumes: [], extra: {}, extensions: {}, ...extra };
}
function project(...services: Service[]): Project {
  return {
    name: 'p', working_dir: '/', config_files: [], networks: {}, volumes: {}, secrets: {}, configs: {}, extensions: {}, disabled_services: [], environment: {},
    services: Object.fromEntries(services.map((s) => [s.name, s])),
  };
}
const dep = (condition: 'service_started' | 'service_healthy' = 'service_started') => ({ condition, required: true, restart: false });

describe('dependency graph', () => {
  const p = project(
    svc('web', { depends_on: { api: dep() }, links: ['cache:redis'] }),
    svc('api', { depends_on: { db: dep('service_healthy') } }),
    svc('db'),
    svc('cache'),
    svc('vpn'),
    svc('app', { network_mode: 'service:vpn', volumes_from: ['data:ro', 'container:other'] }),
    svc('data'),
  );
  const g = DependencyGraph.fromProject(p);

  test('edges come from depends_on, links, network_mode and volumes_from', () => {
    assert.deepEqual(g.dependencies('web').map((e) => [e.to, e.kind]), [['api', 'depends_on'], ['cache', 'links']]);
    assert.deepEqual(g.dependencies('app').map((e) => [e.to, e.kind]), [['vpn', 'network_mode'], ['data', 'volumes_from']]);
    assert.equal(g.dependencies('api')[0]!.condition, 'service_healthy');
    assert.deepEqual(g.dependents('db').map((e) => e.from), ['api']);
  });

  test('levels put every dependency in an earlier level', () => {
    assert.deepEqual(g.levels(), [['cache', 'data', 'db', 'vpn'], ['api', 'app'], ['web']]);
    assert.deepEqual(g.stopLevels(), [['web'], ['api', 'app'], ['cache', 'data', 'db', 'vpn']]);
  });

  test('selection pulls in dependencies transitively', () => {
    assert.deepEqual([...g.select(['web'])].sort(), ['api', 'cache', 'db', 'web']);
    assert.deepEqual([...g.select(['app', 'db'])].sort(), ['app', 'data', 'db', 'vpn']);
    assert.throws(() => g.select(['wbe']), (e: unknown) => e instanceof StackError && /no such service: wbe/.test(e.message) && /did you mean "web"/.test(e.hint ?? ''));
  });

  test('a cycle is an error naming the whole cycle', () => {
    const cyclic = project(svc('web', { depends_on: { api: dep() } }), svc('api', { depends_on: { worker: dep() } }), svc('worker', { links: ['web'] }), svc('db'));
    assert.throws(() => DependencyGraph.fromProject(cyclic), (e: unknown) => e instanceof StackError && e.message === 'dependency cycle: api -> worker -> web -> api');
    const self = project(svc('a', { depends_on: { a: dep() } }));
    assert.throws(() => DependencyGraph.fromProject(self), /dependency cycle: a -> a/);
  });
});
