/**
 * The network manager's side of the DNS server process: after changing the config
 * directory, ensureDnsServer() returns once a server has loaded the change (starting one
 * if none runs, stopping it when no network is left). The start, reload and stop protocol
 * is every daemon's (engine/daemon/daemon-control.ts); what is the DNS server's own is its
 * arguments, its idea of idle (no network config) and the errors its loads report.
 */
import path from 'node:path';
import { daemonPid, ensureDaemon, stopDaemonIfIdle, type DaemonSpec } from '../../daemon/daemon-control.js';
import { StackError } from '../../errors.js';
import { dnsConfigNetworks } from './dns-records.js';
import type { DnsServerState } from './dns-server-state.js';

export interface DnsServerPaths {
  configDir: string;
  pidFile: string;
  /** the server's stderr */
  logFile: string;
}

/** a load binds a few sockets and reads a few small files: this is generous */
const LOAD_TIMEOUT_MS = 5000;

/**
 * Makes the server serve what the config directory says now: starts it when none runs,
 * else has it reload; when the directory names no network, stops it instead. Throws when
 * the server reports a network it cannot serve (an address it cannot bind, a broken file).
 */
export async function ensureDnsServer(paths: DnsServerPaths): Promise<void> {
  const d = daemon(paths);
  const state = await ensureDaemon<DnsServerState>(d);
  if (state && state.errors.length > 0) {
    throw new StackError(`the DNS server for networks cannot serve every network:\n  ${state.errors.join('\n  ')}`, { kind: 'system', hint: `see ${d.logFile}` });
  }
}

/** Stops the server if the config directory names no network any more; else leaves it alone. */
export async function stopDnsServerIfIdle(paths: DnsServerPaths): Promise<void> {
  await stopDaemonIfIdle(daemon(paths));
}

/** The pid of the server of these paths, if one runs. */
export function dnsServerPid(paths: DnsServerPaths): number | undefined {
  return daemonPid(daemon(paths));
}

function daemon(paths: DnsServerPaths): DaemonSpec {
  const configDir = path.resolve(paths.configDir);
  const pidFile = path.resolve(paths.pidFile);
  return {
    name: 'dns-server',
    args: [configDir, pidFile],
    pidFile,
    lockFile: `${pidFile}.lock`,
    logFile: path.resolve(paths.logFile),
    title: 'the DNS server for networks',
    idle: () => dnsConfigNetworks(configDir).length === 0,
    loadTimeoutMs: LOAD_TIMEOUT_MS,
  };
}
