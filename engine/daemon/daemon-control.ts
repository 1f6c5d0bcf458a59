/**
 * The commands' side of a background process of ours (the DNS server, a project's
 * supervisor): after changing what it reads, ensureDaemon() returns once a daemon has loaded
 * the change, starting one if none runs; a daemon with nothing left to do exits by itself at
 * its next load. Callers take turns on a lock file, so two of them never start two daemons;
 * the daemon is told through SIGHUP and answers through its state file (see daemon-state.ts
 * for why that is race-free).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from '../errors.js';
import { withFileLock } from '../sys/flock.js';
import { daemonEntry, isDaemonEntry, type DaemonName } from '../program-files.js';
import { spawnDaemon } from '../sys/process.js';
import { readPid, readState, type DaemonState } from './daemon-state.js';

export interface DaemonSpec {
  /** which daemon: its entry script is found by program-files.ts */
  name: DaemonName;
  /** its arguments, which tell this daemon from others of its kind (absolute paths) */
  args: string[];
  pidFile: string;
  /** the callers' lock; several daemons may share one */
  lockFile: string;
  /** the daemon's stderr */
  logFile: string;
  /** for messages: "the DNS server for networks" */
  title: string;
  /** whether the daemon has nothing to do: it exits at its next load then */
  idle(): boolean;
  /** how long one load may take */
  loadTimeoutMs: number;
}

/**
 * Makes a daemon load what is there now: starts it when none runs, else has it reload;
 * when it is idle, stops it instead. Returns the state of a load that began after this call,
 * undefined when idle.
 */
export async function ensureDaemon<S extends DaemonState>(d: DaemonSpec): Promise<S | undefined> {
  // every change the caller made is done by now
  const since = process.hrtime.bigint();
  return locked(d, async () => {
    for (;;) {
      if (d.idle()) {
        await stop(d, since);
        return undefined;
      }
      const live = daemonPid(d);
      const current = readState<S>(d.pidFile);
      // another caller's reload may have started after our change already
      if (live !== undefined && loadedSince(current, live, since)) return current;
      if (live !== undefined) hangUp(live);
      const logStart = fileSize(d.logFile);
      const pid = live ?? spawnDaemon(process.execPath, [daemonEntry(d.name), ...d.args], d.logFile);
      const state = await waitForLoad<S>(d, pid, since);
      if (state) return state;
      // A running daemon that exits instead had found nothing to do before our change:
      // start a new one. A new one that exits without loading failed.
      if (live === undefined && !d.idle()) {
        throw new StackError(`${d.title} exited at start${logSince(d.logFile, logStart)}`, { kind: 'system', hint: `see ${d.logFile}` });
      }
    }
  });
}

/** Stops the daemon if it is idle; else leaves it alone. */
export async function stopDaemonIfIdle(d: DaemonSpec): Promise<void> {
  const since = process.hrtime.bigint();
  await locked(d, async () => {
    if (d.idle()) await stop(d, since);
  });
}

/** The pid of the daemon, if it runs. */
export function daemonPid(d: DaemonSpec): number | undefined {
  const pid = readPid(d.pidFile);
  return pid !== undefined && isDaemon(pid, d) ? pid : undefined;
}

/**
 * SIGHUP rather than SIGTERM: the daemon reloads, and exits only if it finds nothing to do
 * itself; work someone adds meanwhile is not lost.
 */
async function stop(d: DaemonSpec, since: bigint): Promise<void> {
  const pid = daemonPid(d);
  if (pid === undefined) return;
  hangUp(pid);
  await waitForLoad(d, pid, since);
}

/** SIGHUP to a daemon we just found alive; if it died meanwhile, waitForLoad sees it gone. */
function hangUp(pid: number): void {
  try {
    process.kill(pid, 'SIGHUP');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function locked<T>(d: DaemonSpec, fn: () => Promise<T>): Promise<T> {
  for (const f of [d.pidFile, d.lockFile, d.logFile]) mkdirSync(path.dirname(f), { recursive: true });
  // the lock holder waits for at most two loads
  return withFileLock(d.lockFile, 3 * d.loadTimeoutMs, fn);
}

/** The state of a load of `pid` that began after `since`; undefined once `pid` is gone. */
async function waitForLoad<S extends DaemonState>(d: DaemonSpec, pid: number, since: bigint): Promise<S | undefined> {
  const deadline = Date.now() + d.loadTimeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const state = readState<S>(d.pidFile);
    if (loadedSince(state, pid, since)) return state;
    if (!isDaemon(pid, d)) return undefined;
    if (Date.now() > deadline) {
      throw new StackError(`${d.title} (pid ${pid}) did not load within ${d.loadTimeoutMs / 1000} s`, { kind: 'system', hint: `see ${d.logFile}` });
    }
    await sleep(delay);
  }
}

function loadedSince<S extends DaemonState>(state: S | undefined, pid: number, since: bigint): state is S {
  return state !== undefined && state.pid === pid && BigInt(state.loadedAt) >= since;
}

/**
 * Whether `pid` is this daemon, alive: a pid file can outlive its process (a crash, a
 * reboot) and name another process by now, which must not get our SIGHUP. A zombie (a
 * daemon we started, not reaped yet) is dead. Its entry script may be either layout's
 * (bundled or not) and from another build of stack: it is the same daemon.
 */
function isDaemon(pid: number, d: DaemonSpec): boolean {
  let argv: string[];
  let stat: string;
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // cmdline ends with a NUL: the last element is empty
  const [main, ...args] = argv.slice(-d.args.length - 2, -1);
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return isDaemonEntry(main ?? '', d.name) && args.length === d.args.length && args.every((a, i) => a === d.args[i]) && state !== 'Z' && state !== 'X';
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
