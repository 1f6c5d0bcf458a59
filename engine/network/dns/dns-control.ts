/**
 * The network manager's side of the DNS server process: after changing the config
 * directory, ensureDnsServer() returns once a server has loaded the change (starting one
 * if none runs, stopping it when no network is left). Callers take turns on a lock file, so
 * two of them never start two servers; the server itself is told through SIGHUP and answers
 * through its state file (see dns-state.ts for why that is race-free).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { StackError } from '../../errors.js';
import { withFileLock } from '../../sys/flock.js';
import { spawnDaemon } from '../../sys/process.js';
import { dnsConfigNetworks } from './dns-records.js';
import { readPid, readState } from './dns-state.js';
import type { DnsServerState } from './dns-state.js';

export interface DnsServerPaths {
  configDir: string;
  pidFile: string;
  /** the server's stderr */
  logFile: string;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** a load binds a few sockets and reads a few small files: this is generous */
const LOAD_TIMEOUT_MS = 5000;
/** the lock holder waits for at most two loads */
const LOCK_TIMEOUT_MS = 3 * LOAD_TIMEOUT_MS;

/**
 * Makes the server serve what the config directory says now: starts it when none runs,
 * else has it reload; when the directory names no network, stops it instead. Throws when
 * the server reports a network it cannot serve (an address it cannot bind, a broken file).
 */
export async function ensureDnsServer(paths: DnsServerPaths): Promise<void> {
  const p = resolved(paths);
  // every change the caller made to the directory is done by now
  const since = process.hrtime.bigint();
  await locked(p, async () => {
    for (;;) {
      if (dnsConfigNetworks(p.configDir).length === 0) return stop(p, since);
      const live = dnsServerPid(p);
      const current = readState(p.pidFile);
      // another caller's reload may have read the directory after our change already
      if (live !== undefined && loadedSince(current, live, since)) return reportErrors(current, p);
      if (live !== undefined) hangUp(live);
      const logStart = fileSize(p.logFile);
      const pid = live ?? spawnDaemon(process.execPath, [MAIN, p.configDir, p.pidFile], p.logFile);
      const state = await waitForLoad(p, pid, since);
      if (state) return reportErrors(state, p);
      // A running server that exits instead had found the directory empty before our change:
      // start a new one. A new one that exits without loading failed.
      if (live === undefined && dnsConfigNetworks(p.configDir).length > 0) {
        throw new StackError(`the DNS server for networks exited at start${logSince(p.logFile, logStart)}`, { kind: 'system', hint: `see ${p.logFile}` });
      }
    }
  });
}

/** Stops the server if the config directory names no network any more; else leaves it alone. */
export async function stopDnsServerIfIdle(paths: DnsServerPaths): Promise<void> {
  const p = resolved(paths);
  const since = process.hrtime.bigint();
  await locked(p, async () => {
    if (dnsConfigNetworks(p.configDir).length === 0) await stop(p, since);
  });
}

/** The pid of the server of these paths, if one runs. */
export function dnsServerPid(paths: DnsServerPaths): number | undefined {
  const p = resolved(paths);
  const pid = readPid(p.pidFile);
  return pid !== undefined && isServer(pid, p) ? pid : undefined;
}

/**
 * SIGHUP rather than SIGTERM: the server reloads, and exits only if it finds the
 * directory empty itself; a network someone adds meanwhile is not lost.
 */
async function stop(p: DnsServerPaths, since: bigint): Promise<void> {
  const pid = dnsServerPid(p);
  if (pid === undefined) return;
  hangUp(pid);
  await waitForLoad(p, pid, since);
}

/** SIGHUP to a server we just found alive; if it died meanwhile, waitForLoad sees it gone. */
function hangUp(pid: number): void {
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function locked(p: DnsServerPaths, fn: () => Promise<void>): Promise<void> {
  mkdirSync(path.dirname(p.pidFile), { recursive: true });
  mkdirSync(path.dirname(p.logFile), { recursive: true });
  return withFileLock(`${p.pidFile}.lock`, LOCK_TIMEOUT_MS, fn);
}

/** The state of a load of `pid` that read the directory after `since`; undefined once `pid` is gone. */
async function waitForLoad(p: DnsServerPaths, pid: number, since: bigint): Promise<DnsServerState | undefined> {
  const deadline = Date.now() + LOAD_TIMEOUT_MS;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const state = readState(p.pidFile);
    if (loadedSince(state, pid, since)) return state;
    if (!isServer(pid, p)) return undefined;
    if (Date.now() > deadline) {
      throw new StackError(`the DNS server for networks (pid ${pid}) did not load its configuration within ${LOAD_TIMEOUT_MS / 1000} s`, { kind: 'system', hint: `see ${p.logFile}` });
    }
    await sleep(delay);
  }
}

function loadedSince(state: DnsServerState | undefined, pid: number, since: bigint): state is DnsServerState {
  return state !== undefined && state.pid === pid && BigInt(state.loadedAt) >= since;
}

function reportErrors(state: DnsServerState, p: DnsServerPaths): void {
  if (state.errors.length === 0) return;
  throw new StackError(`the DNS server for networks cannot serve every network:\n  ${state.errors.join('\n  ')}`, { kind: 'system', hint: `see ${p.logFile}` });
}

/**
 * Whether `pid` is our server, alive: a pid file can outlive its process (a crash, a
 * reboot) and name another process by now, which must not get our SIGHUP. A zombie (a
 * server we started, not reaped yet) is dead.
 */
function isServer(pid: number, p: DnsServerPaths): boolean {
  let argv: string[];
  let stat: string;
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // cmdline ends with a NUL: the last element is empty
  const [main, configDir, pidFile] = argv.slice(-4, -1);
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return path.basename(main ?? '') === 'main.js' && configDir === p.configDir && pidFile === p.pidFile && state !== 'Z' && state !== 'X';
}

function resolved(p: DnsServerPaths): DnsServerPaths {
  return { configDir: path.resolve(p.configDir), pidFile: path.resolve(p.pidFile), logFile: path.resolve(p.logFile) };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last lines `file` got after it was `offset` bytes long, for an error message. */
function logSince(file: string, offset: number): string {
  let text: string;
  try {
    text = readFileSync(file).subarray(offset).toString('utf8').trim();
  } catch {
    return '';
  }
  return text === '' ? '' : `: ${text.split('\n').slice(-3).join(' / ')}`;
}
