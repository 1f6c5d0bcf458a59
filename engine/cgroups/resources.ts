/**
 * A service's resource attributes -> the limits a container gets, with docker's semantics
 * (what `docker compose up` would make of the same file), then -> OCI `linux.resources`,
 * which crun/runc write into the container's cgroup. Pure: no host access.
 *
 * Docker's rules kept here:
 *   - `cpus: 0.5` is a CFS quota of 50000 µs per 100000 µs period (NanoCPUs), and cannot be
 *     combined with `cpu_quota`/`cpu_period`;
 *   - `deploy.resources.limits.{cpus,memory,pids}` and `reservations.memory` apply when the
 *     top-level key is absent; both set to different values is an error (compose-go's rule);
 *   - `memswap_limit` is memory + swap together; -1 is unlimited swap; unset with a memory
 *     limit means swap may equal the memory limit (total twice the limit), docker's default;
 *   - 0 means "not set" for memory, reservation, memswap, cpus and shares; pids <= 0 is
 *     unlimited; `mem_swappiness: -1` is the host default.
 */
import { StackError } from '../errors.js';
import type { LinuxResources } from '../runtime/oci-spec.js';
import type { Service } from '../model/types.js';

/** A container's limits, independent of cgroup version and runtime. */
export interface ResourceLimits {
  /** bytes */
  memory?: number;
  /** bytes; the soft limit the kernel reclaims down to under pressure */
  memoryReservation?: number;
  /** memory + swap, bytes; -1 unlimited swap */
  memorySwap?: number;
  /** 0-100 */
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** CPU time allowed per period, µs */
  cpuQuota?: number;
  /** µs */
  cpuPeriod?: number;
  /** relative weight (v1 cpu.shares; runtimes convert it to cpu.weight on v2) */
  cpuShares?: number;
  /** CPUs allowed, e.g. `0-2,4` */
  cpusetCpus?: string;
  /** max number of tasks; absent = unlimited */
  pidsLimit?: number;
}

export interface LimitOptions {
  /**
   * Whether the host accounts swap (v1 memory.memsw.*, v2 memory.swap.max). Without it docker
   * discards swap limits rather than failing the container; so do we. Default true.
   */
  swapAccounting?: boolean;
}

/** docker's CFS period for `cpus` (NanoCPUs), 100 ms */
export const CPU_PERIOD_US = 100_000;
/** docker refuses memory limits below 6 MiB: the container would not get far enough to start */
const MIN_MEMORY = 6 * 1024 * 1024;

export function limitsFromService(service: Service, opts: LimitOptions = {}): ResourceLimits {
  const at = (key: string) => `services.${service.name}.${key}`;
  const invalid = (key: string, message: string, hint?: string) =>
    new StackError(`services.${service.name}: ${message}`, { kind: 'invalid', path: at(key), hint });
  const deployLimits = service.deploy?.resources?.limits;
  const reservations = service.deploy?.resources?.reservations;

  /** The top-level key, else the deploy one; both and different is compose-go's error. */
  const either = (key: string, top: number | undefined, deployKey: string, deploy: number | undefined) => {
    const t = top === 0 ? undefined : top;
    const d = deploy === 0 ? undefined : deploy;
    if (t !== undefined && d !== undefined && t !== d) {
      throw invalid(key, `can't set distinct values on '${key}' and '${deployKey}'`, 'set one of them, or the same value in both');
    }
    return t ?? d;
  };

  const out: ResourceLimits = {};

  const memory = either('mem_limit', service.mem_limit, 'deploy.resources.limits.memory', deployLimits?.memory);
  if (memory !== undefined) {
    if (memory < MIN_MEMORY) throw invalid('mem_limit', `memory limit ${memory} bytes is below the minimum of 6 MiB`);
    out.memory = memory;
  }

  const reservation = either('mem_reservation', service.mem_reservation, 'deploy.resources.reservations.memory', reservations?.memory);
  if (reservation !== undefined) {
    if (memory !== undefined && reservation > memory) {
      throw invalid('mem_reservation', 'mem_reservation must not be larger than the memory limit');
    }
    out.memoryReservation = reservation;
  }

  const swap = service.memswap_limit === 0 ? undefined : service.memswap_limit;
  if (swap !== undefined && swap !== -1) {
    if (memory === undefined) {
      throw invalid('memswap_limit', 'memswap_limit needs a memory limit (mem_limit or deploy.resources.limits.memory)',
        'memswap_limit is memory and swap together; set the memory limit as well');
    }
    if (swap < memory) {
      throw invalid('memswap_limit', `memswap_limit (${swap}) must be at least the memory limit (${memory})`,
        'memswap_limit is memory and swap together, not the swap alone');
    }
  }
  if (opts.swapAccounting !== false) {
    if (swap !== undefined) out.memorySwap = swap;
    else if (memory !== undefined) out.memorySwap = memory * 2;
  }

  const swappiness = service.mem_swappiness;
  if (swappiness !== undefined && swappiness !== -1) {
    if (!Number.isInteger(swappiness) || swappiness < 0 || swappiness > 100) {
      throw invalid('mem_swappiness', `mem_swappiness must be between 0 and 100, got ${swappiness}`);
    }
    out.memorySwappiness = swappiness;
  }

  if (service.oom_kill_disable === true) out.oomKillDisable = true;

  const cpus = either('cpus', service.cpus, 'deploy.resources.limits.cpus', deployLimits?.cpus);
  if (cpus !== undefined) {
    if ((service.cpu_quota ?? 0) > 0 || (service.cpu_period ?? 0) > 0) {
      throw invalid('cpus', 'cpus cannot be combined with cpu_quota or cpu_period', 'cpus: N is shorthand for cpu_quota: N*100000 with cpu_period: 100000');
    }
    if (!(cpus >= 0.01)) throw invalid('cpus', `cpus must be at least 0.01, got ${cpus}`);
    out.cpuPeriod = CPU_PERIOD_US;
    out.cpuQuota = Math.round(cpus * CPU_PERIOD_US);
  } else {
    // the kernel's own bounds for a CFS period and quota: 1 ms .. 1 s, and at least 1 ms
    if (service.cpu_period !== undefined && service.cpu_period !== 0) {
      if (service.cpu_period < 1000 || service.cpu_period > 1_000_000) {
        throw invalid('cpu_period', `cpu_period must be between 1000 and 1000000 µs, got ${service.cpu_period}`);
      }
      out.cpuPeriod = service.cpu_period;
    }
    if (service.cpu_quota !== undefined && service.cpu_quota > 0) {
      if (service.cpu_quota < 1000) throw invalid('cpu_quota', `cpu_quota must be at least 1000 µs, got ${service.cpu_quota}`);
      out.cpuQuota = service.cpu_quota;
    }
  }

  if (service.cpu_shares !== undefined && service.cpu_shares > 0) out.cpuShares = service.cpu_shares;

  if (service.cpuset !== undefined && service.cpuset !== '') {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(service.cpuset)) {
      throw invalid('cpuset', `cpuset must be a list of CPUs like "0-2,4", got ${JSON.stringify(service.cpuset)}`);
    }
    out.cpusetCpus = service.cpuset;
  }

  // pids_limit 0 means "not set", so `either` falls through to deploy; negative is unlimited
  const pids = either('pids_limit', service.pids_limit, 'deploy.resources.limits.pids', deployLimits?.pids);
  if (pids !== undefined && pids > 0) out.pidsLimit = pids;

  return out;
}

/** Limits -> OCI `linux.resources`; sections without a value are left out. */
export function toLinuxResources(limits: ResourceLimits): LinuxResources {
  const r: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (limits.memory !== undefined) memory.limit = limits.memory;
  if (limits.memoryReservation !== undefined) memory.reservation = limits.memoryReservation;
  if (limits.memorySwap !== undefined) memory.swap = limits.memorySwap;
  if (limits.memorySwappiness !== undefined) memory.swappiness = limits.memorySwappiness;
  if (limits.oomKillDisable !== undefined) memory.disableOOMKiller = limits.oomKillDisable;
  if (Object.keys(memory).length > 0) r.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (limits.cpuShares !== undefined) cpu.shares = limits.cpuShares;
  if (limits.cpuQuota !== undefined) cpu.quota = limits.cpuQuota;
  if (limits.cpuPeriod !== undefined) cpu.period = limits.cpuPeriod;
  if (limits.cpusetCpus !== undefined) cpu.cpus = limits.cpusetCpus;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;

  if (limits.pidsLimit !== undefined) r.pids = { limit: limits.pidsLimit };
  return r;
}
