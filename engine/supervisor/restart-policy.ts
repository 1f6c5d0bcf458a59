/**
 * Restart policies, decided as docker's restart manager does. Pure: the supervisor brings
 * the facts (exit code, restart count, a user stop, how long the run lasted, the last
 * delay) and gets back whether to start the container again, and after how long.
 */
import { StackError } from '../errors.js';
import type { Service } from '../model/types.js';

export type RestartPolicy =
  | { name: 'no' }
  | { name: 'always' }
  | { name: 'unless-stopped' }
  /** maxRetries 0: no limit */
  | { name: 'on-failure'; maxRetries: number };

export interface ExitFacts {
  exitCode: number;
  /** restarts by the policy since the user last started the container */
  restartCount: number;
  stoppedByUser: boolean;
  /** how long the run that just ended lasted, ms */
  ranMs: number;
  /** the delay before the previous restart, ms; 0 when there was none since the user's start */
  previousDelay: number;
}

export type RestartDecision = { restart: false } | { restart: true; delay: number };

/** docker's backoff: 100 ms, doubled at each restart up to a minute */
export const FIRST_DELAY_MS = 100;
export const MAX_DELAY_MS = 60_000;
/** a run this long resets the backoff */
export const STABLE_RUN_MS = 10_000;

export function decideRestart(policy: RestartPolicy, f: ExitFacts): RestartDecision {
  // docker cancels a container's restart manager when the user stops it, whatever the policy
  if (policy.name === 'no' || f.stoppedByUser) return { restart: false };
  if (policy.name === 'on-failure' && (f.exitCode === 0 || (policy.maxRetries > 0 && f.restartCount >= policy.maxRetries))) {
    return { restart: false };
  }
  const previous = f.ranMs >= STABLE_RUN_MS ? 0 : f.previousDelay;
  return { restart: true, delay: previous === 0 ? FIRST_DELAY_MS : Math.min(previous * 2, MAX_DELAY_MS) };
}

/** Reads `no`, `always`, `unless-stopped`, `on-failure` and `on-failure:N`, as docker accepts them. */
export function parseRestartPolicy(text: string): RestartPolicy {
  const [name = '', count, ...rest] = text.split(':');
  const bad = (why: string) =>
    new StackError(`invalid restart policy "${text}": ${why}`, { kind: 'invalid', hint: 'use no, always, on-failure, on-failure:<max retries> or unless-stopped' });
  if (rest.length > 0) throw bad('too many colons');
  if (name === 'on-failure') {
    if (count === undefined) return { name, maxRetries: 0 };
    if (!/^\d+$/.test(count)) throw bad('the maximum retry count must be a whole number');
    return { name, maxRetries: Number(count) };
  }
  if (name !== 'no' && name !== 'always' && name !== 'unless-stopped') throw bad(`unknown policy "${name}"`);
  if (count !== undefined) throw bad(`a maximum retry count goes with on-failure only`);
  return { name };
}

/**
 * The service's policy as compose hands it to docker: `deploy.restart_policy` (none, any,
 * on-failure with max_attempts) replaces `restart` when both are set; none set is `no`.
 */
export function servicePolicy(service: Service): RestartPolicy {
  const deploy = service.deploy?.restart_policy;
  if (deploy) {
    const at = `services.${service.name}.deploy.restart_policy`;
    const condition = deploy.condition ?? 'none';
    if (condition === 'none' || condition === 'no') return { name: 'no' };
    if (condition === 'any' || condition === 'always') return { name: 'always' };
    if (condition === 'unless-stopped') return { name: 'unless-stopped' };
    if (condition === 'on-failure') return { name: 'on-failure', maxRetries: deploy.max_attempts ?? 0 };
    throw new StackError(`${at}: unknown condition "${condition}"`, { kind: 'invalid', path: at, hint: 'use none, on-failure or any' });
  }
  if (service.restart === undefined) return { name: 'no' };
  try {
    return parseRestartPolicy(service.restart);
  } catch (e) {
    throw new StackError(`services.${service.name}.restart: ${(e as StackError).message}`, { kind: 'invalid', path: `services.${service.name}.restart`, hint: (e as StackError).hint });
  }
}

/** The policy as a record keeps it: what parseRestartPolicy reads back. */
export function formatRestartPolicy(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maxRetries > 0 ? `on-failure:${p.maxRetries}` : p.name;
}
