/**
 * The few facts about the running host that shape a spec: the kernel's version (seccomp rules
 * carry a minimum kernel), the architecture (seccomp rules and arch lists), the highest
 * capability the kernel knows (what `privileged` grants) and the hard resource limits the OCI
 * runtime will inherit from the engine (a limit above them fails at exec). Each is read once
 * per process; buildSpec takes overrides so tests pin them and stay deterministic.
 */

import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface HostFacts {
  /** `os.release()`, e.g. `6.1.0-18-amd64` */
  kernelRelease: string;
  /** Go's name for the architecture (`amd64`, `arm64`, ...), which seccomp profiles use */
  arch: string;
  /** /proc/sys/kernel/cap_last_cap */
  lastCap: number;
  /** RLIMIT_* -> hard limit from /proc/self/limits; Infinity for `unlimited` */
  hardLimits: Record<string, number>;
}

let cached: HostFacts | undefined;

export function hostFacts(): HostFacts {
  cached ??= {
    kernelRelease: os.release(),
    arch: goArch(process.arch, os.endianness()),
    lastCap: readLastCap(),
    hardLimits: readHardLimits(),
  };
  return cached;
}

/** Node's `process.arch` to Go's GOARCH, the names docker's seccomp profiles are written in. */
export function goArch(nodeArch: string, endianness: 'BE' | 'LE' = 'LE'): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return endianness === 'LE' ? 'ppc64le' : 'ppc64';
    case 'mipsel':
      return 'mipsle';
    default:
      // arm, arm64, s390x, riscv64, loong64, mips are spelled the same.
      return nodeArch;
  }
}

function readLastCap(): number {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim(), 10);
    if (Number.isInteger(n) && n >= 0) return n;
  } catch {
    // no /proc: fall through to the value of the kernels this engine supports
  }
  return 40;
}

function readHardLimits(): Record<string, number> {
  try {
    return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return {};
  }
}

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** /proc/<pid>/limits -> RLIMIT_* -> hard limit (Infinity for `unlimited`). */
export function parseProcLimits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    // The name column is padded to 26 characters, then soft, hard and units columns.
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const type = LIMIT_NAMES[m[1]!];
    if (!type) continue;
    const hard = m[3] === 'unlimited' ? Infinity : Number(m[3]);
    if (!Number.isNaN(hard)) out[type] = hard;
  }
  return out;
}

/** `6.1.0-18-amd64` -> [6, 1, 0]; the numeric dotted prefix. */
export function kernelVersion(release: string): number[] {
  const m = /^(\d+(?:\.\d+)*)/.exec(release);
  return m ? m[1]!.split('.').map(Number) : [];
}

/** Whether the kernel `release` is at least `min` (`4.8`, `5.10.2`). */
export function kernelAtLeast(release: string, min: string): boolean {
  const have = kernelVersion(release);
  const want = kernelVersion(min);
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0;
    if (h !== want[i]) return h > want[i]!;
  }
  return true;
}
