/**
 * The one place that runs helper programs (crun, runc, conmon ...). Plain child_process:
 * these calls sit on every container's start and exit path, and a process-running library
 * (execa took ~110 ms to import) would cost more than the calls themselves.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { SysError } from './sys-error.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `cmd args`; a non-zero exit is a SysError carrying the program's stderr. */
export async function run(cmd: string, args: readonly string[]): Promise<RunResult> {
  const r = await runStatus(cmd, args);
  if (r.exitCode !== 0) {
    const detail = r.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${r.exitCode}`;
    throw new SysError(cmd, args, `exit ${r.exitCode}`, detail);
  }
  return r;
}

/**
 * Runs `cmd args` (no stdin) and reports its exit code, whatever it is; output loses one
 * final newline. Only failing to start it, or its death by a signal, throws.
 */
export function runStatus(cmd: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => reject(new SysError(cmd, args, e.code ?? 'ENOEXEC', e.message)));
    child.on('close', (code, signal) => {
      const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString().replace(/\r?\n$/, '');
      const stdout = text(out);
      const stderr = text(err);
      if (code === null) reject(new SysError(cmd, args, 'ENOEXEC', `killed by ${signal ?? 'a signal'}${stderr ? `: ${stderr.trim()}` : ''}`));
      else resolve({ stdout, stderr, exitCode: code });
    });
  });
}

/**
 * `cmd args` as a stream of its stdout (a decompressor, say): the stream fails with a
 * SysError carrying the program's stderr when it exits non-zero, and destroying it early
 * kills the program.
 */
export function outputOf(cmd: string, args: readonly string[]): Readable {
  const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 4096) err += d.toString();
  });
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  child.on('error', (e: NodeJS.ErrnoException) => out.destroy(new SysError(cmd, args, e.code ?? 'ENOEXEC', e.message)));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) out.destroy(new SysError(cmd, args, code === null ? `killed by ${signal ?? 'a signal'}` : `exit ${code}`, err.trim()));
  });
  out.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return out;
}

/**
 * Runs `cmd args` on our own stdin, stdout and stderr ('inherit') or on none ('ignore'), in
 * a process group of its own, so that a Ctrl-C in the terminal reaches us and not it. Its
 * exit code, 128 + the signal's number when a signal ended it; only failing to start throws.
 */
export function runOnOurStdio(cmd: string, args: readonly string[], stdio: 'inherit' | 'ignore'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { stdio, detached: true });
    child.on('error', (e: NodeJS.ErrnoException) => reject(new SysError(cmd, args, e.code ?? 'ENOEXEC', e.message)));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
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
