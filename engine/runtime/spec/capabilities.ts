/**
 * Linux capabilities of the container's process, by docker's rules (TweakCapabilities):
 * start from docker's default set, drop `cap_drop`, add `cap_add`; `cap_add: [ALL]` is every
 * capability minus `cap_drop`, `cap_drop: [ALL]` is exactly `cap_add`; `privileged` is every
 * capability the running kernel knows. Names are accepted in any case, with or without `CAP_`.
 */

import { StackError } from '../../errors.js';
import type { OciProcess } from '../oci-spec.js';
import { didYouMean } from '../../validate/suggest.js';

/** Index = capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (Linux 5.9). */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** docker's default set, in docker's order (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const KNOWN = new Set(CAPABILITY_NAMES);

export interface CapabilityInput {
  capAdd?: readonly string[] | undefined;
  capDrop?: readonly string[] | undefined;
  privileged?: boolean | undefined;
  /** /proc/sys/kernel/cap_last_cap of the running kernel */
  lastCap: number;
  /** service name, for errors */
  service: string;
}

export interface ResolvedCapabilities {
  /** `CAP_*` names */
  caps: string[];
  warnings: string[];
}

/** `sys_admin`, `CAP_SYS_ADMIN`, `Sys_Admin` -> `CAP_SYS_ADMIN`; `all` -> `ALL`. */
export function normalizeCapability(name: string, service: string, key = 'cap_add'): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (KNOWN.has(full)) return full;
  // Suggest in the user's own spelling: `SYS_ADMN` -> `SYS_ADMIN`, `CAP_SYS_ADMN` -> `CAP_SYS_ADMIN`.
  const candidates = upper.startsWith('CAP_') ? CAPABILITY_NAMES : CAPABILITY_NAMES.map((c) => c.slice(4));
  throw new StackError(`service ${service}: ${key}: unknown capability "${name}"`, {
    path: `services.${service}.${key}`,
    hint: didYouMean(upper, candidates) ?? 'see capabilities(7) for the names',
  });
}

export function resolveCapabilities(input: CapabilityInput): ResolvedCapabilities {
  const available = CAPABILITY_NAMES.slice(0, input.lastCap + 1);
  if (input.privileged) return { caps: [...available], warnings: [] };
  const add = (input.capAdd ?? []).map((c) => normalizeCapability(c, input.service, 'cap_add'));
  const drop = (input.capDrop ?? []).map((c) => normalizeCapability(c, input.service, 'cap_drop'));
  let caps: string[];
  if (add.includes('ALL')) caps = available.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) caps = add;
  else caps = [...DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c)), ...add];
  const warnings: string[] = [];
  const kept: string[] = [];
  for (const c of new Set(caps)) {
    // A name this engine knows but the kernel does not (an older kernel) cannot be granted.
    if (CAPABILITY_NAMES.indexOf(c) > input.lastCap) {
      warnings.push(`service ${input.service}: ${c} is not supported by the running kernel; ignored`);
    } else kept.push(c);
  }
  return { caps: kept, warnings };
}

/**
 * The five sets for `process.capabilities`. Like docker (since 20.10.14): inheritable and
 * ambient stay empty, and a non-root process gets the caps only in its bounding set, as
 * execve would give a non-root program without file capabilities; a setcap'ed binary (ping)
 * can still use what the bounding set allows.
 */
export function capabilitySets(caps: readonly string[], uid: number): NonNullable<OciProcess['capabilities']> {
  const held = uid === 0 ? [...caps] : [];
  return { bounding: [...caps], effective: held, inheritable: [], permitted: [...held], ambient: [] };
}
