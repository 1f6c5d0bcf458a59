/**
 * One sample of what a running container uses (`stack stats`): CPU time, memory, pids and
 * block I/O from its cgroup, network bytes from its network namespace (/proc/<pid>/net/dev
 * of its init). CPU use is a rate: the caller takes two samples and divides.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { totalmem } from 'node:os';
import { blockIo, type BlockIo } from '../cgroups/block-io.js';
import type { CgroupManager } from '../cgroups/cgroup-manager.js';
import type { Containers } from './containers.js';

export interface ContainerUsage {
  /** total CPU time, ns */
  cpuNs: number;
  /** ms (performance.now()) when the sample was taken */
  at: number;
  /** bytes, without the page cache the kernel can reclaim (what docker shows) */
  memory: number;
  /** the cgroup's limit, or the host's memory when it has none */
  memoryLimit: number;
  pids: number;
  /** bytes received and sent on the container's interfaces; undefined for the host's network */
  net: { rx: number; tx: number } | undefined;
  block: BlockIo | undefined;
}

/** A sample; undefined when the container is not running (any more). */
export function sampleUsage(cgroups: CgroupManager, containers: Containers, project: string, id: string): ContainerUsage | undefined {
  const pid = containers.pid(id);
  if (pid === undefined || containers.exitStatus(id) !== undefined) return undefined;
  let stats;
  try {
    stats = cgroups.stats(project, id);
  } catch {
    return undefined; // its cgroup went with it
  }
  const mem = stats.memory;
  const inactive = mem?.inactiveFile ?? 0;
  return {
    cpuNs: stats.cpu?.usageNs ?? 0,
    at: performance.now(),
    memory: mem ? (mem.usage > inactive ? mem.usage - inactive : mem.usage) : 0,
    memoryLimit: Math.min(mem?.limit ?? Infinity, totalmem()),
    pids: stats.pids?.current ?? 0,
    net: netUsage(pid),
    block: blockIo(cgroups.directories(project, id)),
  };
}

function netUsage(pid: number): { rx: number; tx: number } | undefined {
  try {
    // network_mode: host shares our namespace: its traffic is the host's, not the container's
    if (readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net')) return undefined;
    return parseNetDev(readFileSync(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** /proc/net/dev: two header lines, then `iface: rx_bytes ... (8 receive fields) tx_bytes ...`; loopback left out. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  const out = { rx: 0, tx: 0 };
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out.rx += f[0] ?? 0;
    out.tx += f[8] ?? 0;
  }
  return out;
}
