/**
 * Restart policies and healthcheck settings as docker and compose decide them: parsing,
 * compose's `deploy.restart_policy`, docker's backoff, on-failure's limit, a user's stop;
 * the healthcheck merged from the service and the image; health states from results and
 * the probe schedule.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Service } from '../engine/model/types.js';
import type { HealthcheckConfig } from '../engine/runtime/containers.js';
import { applyResult, nextProbeDelay, type HealthResult, type HealthState } from '../engine/supervisor/health.js';
import { resolveHealthcheck } from '../engine/supervisor/healthcheck-config.js';
import { decideRestart, formatRestartPolicy, parseRestartPolicy, servicePolicy, type ExitFacts, type RestartPolicy } from '../engine/supervisor/restart-policy.js';

const service = (extra: Partial<Service>): Service => ({ name: 'web', depends_on: {}, ports: [], ...extra }) as Service;
const facts = (extra: Partial<ExitFacts>): ExitFacts => ({ exitCode: 1, restartCount: 0, stoppedByUser: false, ranMs: 50, previousDelay: 0, ...extra });

describe('restart policies', () => {
  test('docker\'s policy syntax', () => {
    assert.deepEqual(parseRestartPolicy('no'), { name: 'no' });
    assert.deepEqual(parseRestartPolicy('always'), { name: 'always' });
    assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped' });
    assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', maxRetries: 0 });
    assert.deepEqual(parseRestartPolicy('on-failure:5'), { name: 'on-failure', maxRetries: 5 });
    assert.throws(() => parseRestartPolicy('sometimes'), /unknown policy "sometimes"/);
    assert.throws(() => parseRestartPolicy('always:3'), /on-failure only/);
    assert.throws(() => parseRestartPolicy('on-failure:x'), /whole number/);
    for (const p of ['no', 'always', 'unless-stopped', 'on-failure', 'on-failure:2']) assert.equal(formatRestartPolicy(parseRestartPolicy(p)), p);
  });

  test('compose: deploy.restart_policy replaces restart; its conditions map to docker\'s policies', () => {
    assert.deepEqual(servicePolicy(service({})), { name: 'no' });
    assert.deepEqual(servicePolicy(service({ restart: 'on-failure:3' })), { name: 'on-failure', maxRetries: 3 });
    assert.deepEqual(servicePolicy(service({ restart: 'always', deploy: { restart_policy: { condition: 'none' } } })), { name: 'no' });
    assert.deepEqual(servicePolicy(service({ deploy: { restart_policy: { condition: 'any' } } })), { name: 'always' });
    assert.deepEqual(servicePolicy(service({ deploy: { restart_policy: { condition: 'on-failure', max_attempts: 4 } } })), { name: 'on-failure', maxRetries: 4 });
    assert.deepEqual(servicePolicy(service({ deploy: { restart_policy: {} } })), { name: 'no' });
    assert.throws(() => servicePolicy(service({ restart: 'never' })), (e: Error & { path?: string }) => e.path === 'services.web.restart' && /unknown policy "never"/.test(e.message));
    assert.throws(() => servicePolicy(service({ deploy: { restart_policy: { condition: 'sometimes' } } })), /unknown condition "sometimes"/);
  });

  test('no never restarts; always and unless-stopped restart after any exit', () => {
    const always: RestartPolicy = { name: 'always' };
    assert.deepEqual(decideRestart({ name: 'no' }, facts({})), { restart: false });
    assert.deepEqual(decideRestart(always, facts({ exitCode: 0 })), { restart: true, delay: 100 });
    assert.deepEqual(decideRestart({ name: 'unless-stopped' }, facts({ exitCode: 0 })), { restart: true, delay: 100 });
  });

  test('a user\'s stop holds every policy off', () => {
    for (const p of ['always', 'unless-stopped', 'on-failure']) {
      assert.deepEqual(decideRestart(parseRestartPolicy(p), facts({ exitCode: 143, stoppedByUser: true })), { restart: false }, p);
    }
  });

  test('on-failure:N restarts after failures only, N times at most', () => {
    const p = parseRestartPolicy('on-failure:2');
    assert.deepEqual(decideRestart(p, facts({ exitCode: 0 })), { restart: false });
    assert.equal(decideRestart(p, facts({ restartCount: 0 })).restart, true);
    assert.equal(decideRestart(p, facts({ restartCount: 1 })).restart, true);
    assert.deepEqual(decideRestart(p, facts({ restartCount: 2 })), { restart: false });
    // no limit
    assert.equal(decideRestart(parseRestartPolicy('on-failure'), facts({ restartCount: 1000, exitCode: 137 })).restart, true);
  });

  test('docker\'s backoff: 100 ms doubling up to a minute, back to 100 ms after a 10 s run', () => {
    const always = parseRestartPolicy('always');
    const delays: number[] = [];
    let previousDelay = 0;
    for (let i = 0; i < 12; i++) {
      const d = decideRestart(always, facts({ restartCount: i, previousDelay }));
      assert.ok(d.restart);
      delays.push(d.delay);
      previousDelay = d.delay;
    }
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
    assert.deepEqual(decideRestart(always, facts({ previousDelay: 60_000, ranMs: 9_999 })), { restart: true, delay: 60_000 });
    assert.deepEqual(decideRestart(always, facts({ previousDelay: 60_000, ranMs: 10_000 })), { restart: true, delay: 100 });
  });
});

describe('healthcheck settings', () => {
  const warnings: string[] = [];
  const warn = (w: string) => warnings.push(w);

  test('the image\'s HEALTHCHECK, in nanoseconds, with docker\'s defaults for what it leaves out', () => {
    const image = { Healthcheck: { Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 5e9, Retries: 2 } };
    assert.deepEqual(resolveHealthcheck(service({}), image, warn), {
      test: ['/bin/sh', '-c', 'wget -q localhost'], interval: 5000, timeout: 30_000, startPeriod: 0, startInterval: 5000, retries: 2,
    });
    assert.equal(resolveHealthcheck(service({}), {}, warn), undefined);
    assert.equal(resolveHealthcheck(service({}), { Healthcheck: { Test: ['NONE'] } }, warn), undefined);
  });

  test('the service\'s fields over the image\'s, one by one; disable and NONE turn it off', () => {
    const image = { Healthcheck: { Test: ['CMD', 'check'], Interval: 5e9, Timeout: 2e9 }, Shell: ['/bin/bash', '-c'] };
    assert.deepEqual(resolveHealthcheck(service({ healthcheck: { interval: 1000 } }), image, warn), {
      test: ['check'], interval: 1000, timeout: 2000, startPeriod: 0, startInterval: 5000, retries: 3,
    });
    const own = resolveHealthcheck(service({ healthcheck: { test: ['CMD-SHELL', 'true'], start_period: 3000, start_interval: 500, retries: 5, timeout: 100 } }), image, warn);
    assert.deepEqual(own, { test: ['/bin/bash', '-c', 'true'], interval: 5000, timeout: 100, startPeriod: 3000, startInterval: 500, retries: 5 }, 'CMD-SHELL runs in the image\'s SHELL');
    assert.equal(resolveHealthcheck(service({ healthcheck: { disable: true } }), image, warn), undefined);
    assert.equal(resolveHealthcheck(service({ healthcheck: { test: ['NONE'], disable: true } }), image, warn), undefined);
    assert.deepEqual(warnings, []);
  });

  test('a test docker would not run is left out with a warning', () => {
    assert.equal(resolveHealthcheck(service({ healthcheck: { test: ['curl', 'localhost'] } }), {}, warn), undefined);
    assert.equal(resolveHealthcheck(service({ healthcheck: { test: ['CMD'] } }), {}, warn), undefined);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /service "web": healthcheck test \["curl","localhost"\] is not run/);
  });
});

describe('health states', () => {
  const check: HealthcheckConfig = { test: ['true'], interval: 1000, timeout: 500, startPeriod: 2000, startInterval: 100, retries: 2 };
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const result = (atMs: number, exitCode: number): HealthResult => ({ start: new Date(t0 + atMs).toISOString(), end: new Date(t0 + atMs + 5).toISOString(), exitCode, output: '' });
  const starting: HealthState = { status: 'starting', failingStreak: 0, log: [] };

  test('failures within the start period do not count while starting; after it, retries of them make it unhealthy', () => {
    let s = applyResult(starting, result(100, 1), check, t0);
    assert.deepEqual([s.status, s.failingStreak], ['starting', 0]);
    s = applyResult(s, result(2500, 1), check, t0);
    assert.deepEqual([s.status, s.failingStreak], ['starting', 1]);
    s = applyResult(s, result(3500, 1), check, t0);
    assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 2]);
    s = applyResult(s, result(4500, 0), check, t0);
    assert.deepEqual([s.status, s.failingStreak], ['healthy', 0]);
    assert.equal(s.log.length, 4);
  });

  test('once healthy, failures count within the start period too; the log keeps the last five', () => {
    let s = applyResult(starting, result(100, 0), check, t0);
    s = applyResult(s, result(200, 1), check, t0);
    assert.deepEqual([s.status, s.failingStreak], ['healthy', 1]);
    s = applyResult(s, result(300, 1), check, t0);
    assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 2]);
    for (let i = 0; i < 6; i++) s = applyResult(s, result(400 + i, i), check, t0);
    assert.deepEqual(s.log.map((r) => r.exitCode), [1, 2, 3, 4, 5]);
  });

  test('probes come at start_interval while starting within the start period, else at interval', () => {
    assert.equal(nextProbeDelay(check, 'starting', 0), 100);
    assert.equal(nextProbeDelay(check, 'healthy', 500), 1000);
    assert.equal(nextProbeDelay(check, 'starting', 2000), 1000);
    assert.equal(nextProbeDelay({ ...check, startPeriod: 0 }, 'starting', 0), 1000);
  });
});
