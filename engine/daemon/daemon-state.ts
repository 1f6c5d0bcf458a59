/**
 * What a background process of ours (the DNS server, a project's supervisor) publishes for
 * the commands that start it: its pid file, and next to it a state file rewritten after
 * every load. A caller that changed what the daemon reads knows the daemon has seen the
 * change once a state's `loadedAt` is not before the moment it finished writing: loadedAt
 * is taken before the daemon reads anything, on CLOCK_MONOTONIC, which every process of
 * the host shares.
 */
import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../runtime/atomic-file.js';

export interface DaemonState {
  pid: number;
  /** process.hrtime.bigint() before the load read anything, in decimal */
  loadedAt: string;
}

export function stateFile(pidFile: string): string {
  return `${pidFile}.state`;
}

export function publishPid(pidFile: string, pid: number): void {
  writeFileAtomic(pidFile, `${pid}\n`, { durable: false, mode: 0o644 });
}

export function publishState(pidFile: string, state: DaemonState): void {
  writeFileAtomic(stateFile(pidFile), `${JSON.stringify(state)}\n`, { durable: false, mode: 0o644 });
}

export function readPid(pidFile: string): number | undefined {
  const pid = Number.parseInt(readOrEmpty(pidFile), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function readState<S extends DaemonState>(pidFile: string): S | undefined {
  try {
    const s = JSON.parse(readOrEmpty(stateFile(pidFile))) as S;
    return typeof s.pid === 'number' && typeof s.loadedAt === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the pid and state files if they are `pid`'s: a successor may have written its own. */
export function withdraw(pidFile: string, pid: number): void {
  if (readState(pidFile)?.pid === pid) rmSync(stateFile(pidFile), { force: true });
  if (readPid(pidFile) === pid) rmSync(pidFile, { force: true });
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
