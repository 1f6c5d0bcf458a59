/**
 * A healthcheck as probes. Readiness carries `service_healthy`: a pod leaves its Service's
 * endpoints while unhealthy, and a dependent's init container waits for it to be there.
 * Liveness restarts a container that stays unhealthy, as swarm does with compose's
 * healthchecks. `start_period` becomes a startup probe: failures in it do not count, the
 * first success ends it, as docker's start period; it probes every `start_interval`.
 * Durations are docker's defaults when unset, in whole seconds (Kubernetes' unit, at least 1).
 */
import type { Healthcheck } from '../model/types.js';
import { HEALTH_DEFAULTS } from '../supervisor/healthcheck-config.js';
import type { Probe } from './objects.js';

export interface Probes {
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
}

/** The probes of a healthcheck; `warn` hears why there are none when one was meant. */
export function healthcheckProbes(h: Healthcheck | undefined, warn: (path: string, message: string) => void): Probes {
  if (!h || h.disable) return {};
  if (!h.test || h.test.length === 0) {
    warn('healthcheck', "the image's HEALTHCHECK is not known when generating: no probes (give the healthcheck a `test`)");
    return {};
  }
  const [kind, ...args] = h.test;
  if ((kind !== 'CMD' && kind !== 'CMD-SHELL') || args.length === 0) {
    warn('healthcheck.test', `${JSON.stringify(h.test)} is not run (it must start with CMD or CMD-SHELL and name a command): no probes`);
    return {};
  }
  const command = kind === 'CMD-SHELL' ? ['/bin/sh', '-c', args.join(' ')] : args;
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  const interval = h.interval || HEALTH_DEFAULTS.interval;
  const retries = h.retries !== undefined && h.retries > 0 ? h.retries : HEALTH_DEFAULTS.retries;
  const timeoutSeconds = seconds(h.timeout || HEALTH_DEFAULTS.timeout);
  const check: Probe = { exec: { command }, periodSeconds: seconds(interval), timeoutSeconds, failureThreshold: retries };
  const probes: Probes = { readinessProbe: { ...check, successThreshold: 1 }, livenessProbe: check };
  const startPeriod = h.start_period ?? 0;
  if (startPeriod > 0) {
    const startInterval = h.start_interval || HEALTH_DEFAULTS.startInterval;
    // the start period's probes, then `retries` more failures before the container counts as unhealthy
    probes.startupProbe = { exec: { command }, periodSeconds: seconds(startInterval), timeoutSeconds, failureThreshold: Math.ceil(startPeriod / startInterval) + retries };
  }
  return probes;
}
