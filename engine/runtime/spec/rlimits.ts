/**
 * Resource limits (`ulimits`) as `process.rlimits`. Like podman, open files default to
 * 1048576 (soft and hard) so servers that size tables by RLIMIT_NOFILE behave as under
 * docker's containerd. Every limit is capped at the hard limit the engine itself runs with:
 * the OCI runtime inherits it, and raising a hard limit past it can fail at exec (always for
 * NOFILE above fs.nr_open, and wherever the runtime lacks CAP_SYS_RESOURCE), which would
 * surface as an opaque runtime error instead of a warning that names the service.
 */

import { StackError } from '../../errors.js';
import type { Ulimit } from '../../model/types.js';
import type { OciProcess } from '../oci-spec.js';
import { didYouMean } from '../../validate/suggest.js';

export const DEFAULT_NOFILE = 1_048_576;

/**
 * What a request for "unlimited" (-1) becomes when the host's hard limit is unlimited too.
 * RLIM_INFINITY is 2^64-1, which a JavaScript number cannot carry into config.json; 2^53-1
 * is beyond any limit the kernel enforces, so it means the same in practice.
 */
export const UNLIMITED = Number.MAX_SAFE_INTEGER;

const NAMES = [
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio',
  'rttime', 'sigpending', 'stack',
];

type Rlimit = NonNullable<OciProcess['rlimits']>[number];

export interface RlimitResult {
  rlimits: Rlimit[];
  warnings: string[];
}

/**
 * `hardLimits` are the host's (RLIMIT_* -> hard, Infinity = unlimited); a type missing there
 * is not capped.
 */
export function buildRlimits(ulimits: Record<string, Ulimit> | undefined, hardLimits: Record<string, number>, service: string): RlimitResult {
  const wanted = new Map<string, Ulimit>();
  wanted.set('RLIMIT_NOFILE', { soft: DEFAULT_NOFILE, hard: DEFAULT_NOFILE });
  const explicit = new Set<string>();
  for (const [name, limit] of Object.entries(ulimits ?? {})) {
    const key = name.toLowerCase();
    const path = `services.${service}.ulimits.${name}`;
    if (!NAMES.includes(key)) {
      throw new StackError(`service ${service}: ulimits: unknown limit "${name}"`, { path, hint: didYouMean(key, NAMES) ?? `known: ${NAMES.join(', ')}` });
    }
    const soft = toLimit(limit.soft);
    const hard = toLimit(limit.hard);
    if (soft === undefined || hard === undefined) {
      throw new StackError(`service ${service}: ulimits.${name}: limits must be whole numbers >= 0, or -1 for unlimited`, { path });
    }
    if (soft > hard) {
      throw new StackError(`service ${service}: ulimits.${name}: soft limit ${limit.soft} is above the hard limit ${limit.hard}`, { path });
    }
    const type = `RLIMIT_${key.toUpperCase()}`;
    wanted.set(type, { soft, hard });
    explicit.add(type);
  }
  const rlimits: Rlimit[] = [];
  const warnings: string[] = [];
  for (const [type, { soft, hard }] of wanted) {
    const cap = hardLimits[type] ?? Infinity;
    if (hard > cap && explicit.has(type)) {
      warnings.push(
        `service ${service}: ulimits.${type.slice(7).toLowerCase()}: ${show(hard)} is above the host's hard limit ${cap}; using ${cap}`,
      );
    }
    const h = finite(Math.min(hard, cap));
    rlimits.push({ type, soft: Math.min(finite(soft), h), hard: h });
  }
  return { rlimits, warnings };
}

/** A model value to a limit: -1 is docker's "unlimited" (Infinity here); other negatives are errors. */
function toLimit(n: number): number | undefined {
  if (!Number.isInteger(n)) return undefined;
  if (n === -1) return Infinity;
  return n >= 0 ? n : undefined;
}

function finite(n: number): number {
  return n === Infinity ? UNLIMITED : n;
}

function show(n: number): string {
  return n === Infinity ? 'unlimited' : String(n);
}
