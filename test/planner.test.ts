import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyService } from '../engine/model/types.js';
import { serviceConfigHash } from '../engine/plan/config-hash.js';
import { describePlan, plan, type ObservedContainer } from '../engine/plan/planner.js';

const c = (service: string, number: number, configHash: string, state: ObservedContainer['state'] = 'running', oneoff = false): ObservedContainer => ({
  id: `p-${service}-${number}`,
  service,
  number,
  oneoff,
  configHash,
  state,
});

const kinds = (p: ReturnType<typeof plan>, service: string) => p.services.get(service)!.map((a) => `${a.kind}:${a.number}`);

describe('planner', () => {
  test('creates what is missing, keeps what is running and unchanged, starts what is stopped', () => {
    const p = plan(
      [
        { name: 'web', replicas: 1, configHash: 'h1' },
        { name: 'db', replicas: 1, configHash: 'h2' },
        { name: 'cache', replicas: 1, configHash: 'h3' },
      ],
      [c('web', 1, 'h1'), c('db', 1, 'h2', 'exited')],
    );
    assert.deepEqual(kinds(p, 'web'), ['keep:1']);
    assert.deepEqual(kinds(p, 'db'), ['start:1']);
    assert.deepEqual(kinds(p, 'cache'), ['create:1']);
    assert.deepEqual(p.warnings, []);
  });

  test('a changed config recreates; --no-recreate keeps; --force-recreate recreates everything', () => {
    const desired = [{ name: 'web', replicas: 1, configHash: 'new' }, { name: 'db', replicas: 1, configHash: 'same' }];
    const observed = [c('web', 1, 'old'), c('db', 1, 'same')];
    assert.deepEqual(kinds(plan(desired, observed), 'web'), ['recreate:1']);
    assert.deepEqual(kinds(plan(desired, observed), 'db'), ['keep:1']);
    assert.deepEqual(kinds(plan(desired, observed, { noRecreate: true }), 'web'), ['keep:1']);
    const forced = plan(desired, observed, { forceRecreate: true });
    assert.deepEqual([...kinds(forced, 'web'), ...kinds(forced, 'db')], ['recreate:1', 'recreate:1']);
  });

  test('scaling up fills the lowest free numbers; scaling down removes the highest', () => {
    const up = plan([{ name: 'w', replicas: 4, configHash: 'h' }], [c('w', 1, 'h'), c('w', 3, 'h')]);
    assert.deepEqual(kinds(up, 'w'), ['keep:1', 'keep:3', 'create:2', 'create:4']);
    const down = plan([{ name: 'w', replicas: 1, configHash: 'h' }], [c('w', 1, 'h'), c('w', 2, 'h'), c('w', 3, 'h')]);
    assert.deepEqual(kinds(down, 'w'), ['keep:1', 'remove:3', 'remove:2']);
  });

  test('orphans are reported, removed only when asked; one-off and unselected containers are not orphans', () => {
    const observed = [c('web', 1, 'h'), c('old', 1, 'x'), c('web', 9, 'h', 'exited', true), c('db', 1, 'h')];
    const desired = [{ name: 'web', replicas: 1, configHash: 'h' }];
    const warned = plan(desired, observed, { known: ['db'] });
    assert.deepEqual(warned.orphans, []);
    assert.match(warned.warnings[0]!, /services not in the stack file \(old\).*--remove-orphans/);
    const removed = plan(desired, observed, { known: ['db'], removeOrphans: true });
    assert.deepEqual(removed.orphans.map((a) => ('id' in a ? a.id : '')), ['p-old-1']);
    assert.deepEqual(removed.warnings, []);
  });

  test('the dry-run description names every action', () => {
    const p = plan([{ name: 'web', replicas: 2, configHash: 'new' }], [c('web', 1, 'old'), c('gone', 1, 'x')], { removeOrphans: true });
    assert.deepEqual(describePlan(p, (s, n) => `p-${s}-${n}`), [
      'recreate p-web-1 (configuration changed)',
      'create   p-web-2',
      'remove   p-gone-1 (orphan)',
    ]);
  });
});

describe('config hash', () => {
  const svc = () => ({ ...emptyService('web'), image: 'busybox', command: ['sleep', '1'], environment: { A: '1', B: '2' } });

  test('changes with what makes the container and with the image', () => {
    const base = serviceConfigHash(svc(), 'sha256:a');
    assert.notEqual(serviceConfigHash({ ...svc(), command: ['sleep', '2'] }, 'sha256:a'), base);
    assert.notEqual(serviceConfigHash({ ...svc(), environment: { A: '1', B: '3' } }, 'sha256:a'), base);
    assert.notEqual(serviceConfigHash(svc(), 'sha256:b'), base);
  });

  test('does not change with key order, replicas, dependencies, profiles or build settings', () => {
    const base = serviceConfigHash(svc(), 'sha256:a');
    assert.equal(serviceConfigHash({ ...svc(), environment: { B: '2', A: '1' } }, 'sha256:a'), base);
    assert.equal(serviceConfigHash({ ...svc(), deploy: { replicas: 3 } }, 'sha256:a'), serviceConfigHash({ ...svc(), deploy: { replicas: 1 } }, 'sha256:a'));
    assert.equal(serviceConfigHash({ ...svc(), scale: 2, profiles: ['x'], depends_on: { db: { condition: 'service_started', required: true, restart: false } } }, 'sha256:a'), base);
    assert.equal(serviceConfigHash({ ...svc(), build: { context: '/x', args: {} } }, 'sha256:a'), base);
  });
});
