/** The one place that runs helper programs (crun, runc, conmon ...), through execa. */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Options } from 'execa';
import { SysError } from './sys-error.js';

/**
 * execa and its dependencies take ~130 ms to import on our VMs, more than a whole cached
 * build; commands that spawn nothing (a cached build, `stack config`) must not pay for it.
 */
async function execa(cmd: string, args: readonly string[], opts: Options) {
  const m = await import('execa');
  return m.execa(cmd, args, opts);
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `cmd args`; a non-zero exit is a SysError carrying the program's stderr. */
export async function run(cmd: string, args: readonly string[], opts: Options = {}): Promise<RunResult> {
  const r = await execa(cmd, args, { reject: false, stdin: 'ignore', ...opts });
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  if (r.failed) {
    const detail = stderr.trim().split('\n').slice(-3).join(' / ') || (r.exitCode === undefined ? String(r.message) : `exit ${r.exitCode}`);
    throw new SysError(cmd, args, r.exitCode === undefined ? 'ENOEXEC' : `exit ${r.exitCode}`, detail);
  }
  return { stdout, stderr, exitCode: r.exitCode ?? 0 };
}

/** Runs `cmd args` and reports its exit code, whatever it is; only failing to start it throws. */
export async function runStatus(cmd: string, args: readonly string[], opts: Options = {}): Promise<RunResult> {
  const r = await execa(cmd, args, { reject: false, stdin: 'ignore', ...opts });
  if (r.exitCode === undefined) throw new SysError(cmd, args, 'ENOEXEC', String(r.message));
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode };
}

export interface DetachedChild {
  pid: number;
  /** the child's end-of-handshake fds: index 0 is the child's fd 3, 1 its fd 4, ... */
  pipes: Duplex[];
  /** what the child wrote to stderr before it detached */
  stderr: () => string;
  exited: Promise<number | null>;
  release(): void;
}

/**
 * Starts a program that outlives us (conmon), with `extraPipes` pipes on fds 3, 4, ... for
 * a handshake. It gets its own session, and nothing of ours keeps it alive or waits for it.
 */
export function spawnDetached(cmd: string, args: readonly string[], env: Record<string, string>, extraPipes: number, cwd: string): DetachedChild {
  const child = spawn(cmd, [...args], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe', ...Array<'pipe'>(extraPipes).fill('pipe')],
    detached: true,
    env,
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 64 * 1024) err += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  // extra 'pipe' fds are sockets, readable and writable
  const pipes = child.stdio.slice(3) as unknown as Duplex[];
  return {
    pid: child.pid ?? -1,
    pipes,
    stderr: () => err,
    exited,
    release() {
      for (const p of [child.stderr, ...child.stdio.slice(3)]) (p as { destroy?: () => void } | null)?.destroy?.();
      child.unref();
    },
  };
}

/**
 * Starts a server that outlives us (the network DNS server): its own session, no stdin or
 * stdout, stderr appended to `logFile`, cwd / so that it pins no directory. Returns its pid;
 * the caller learns of its readiness and its end from files and /proc, not from us.
 */
export function spawnDaemon(cmd: string, args: readonly string[], logFile: string): number {
  const log = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(cmd, [...args], { cwd: '/', stdio: ['ignore', 'ignore', log], detached: true });
    // a failure to start shows as the missing pid below; the event would otherwise throw
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new SysError(cmd, args, 'ENOEXEC', 'could not be started');
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/**
 * SIGKILL to `pid` and every process it started, found through /proc: killing only the
 * top one would leave its children running, reparented, holding its output pipes open.
 * The whole tree is listed before any of it dies, while the parent links still hold.
 */
export function killProcessTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // the fields after the command name, which is in parentheses and may contain anything
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  for (const p of tree) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
