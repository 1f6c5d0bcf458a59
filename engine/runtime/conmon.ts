/**
 * conmon, podman's container monitor, one per container: it runs `<runtime> create`, holds
 * the container's stdio, writes its log (k8s-file: `<time> <stream> <P|F> <text>`), records
 * the exit status (and an `oom` marker) in its persist directory, and outlives every
 * `stack` process. The handshake is conmon's: we write to the start pipe (fd 4) to let it
 * go on, and it answers on the sync pipe (fd 3) with `{"data": <pid>}`, or a negative
 * value and a message when the runtime failed.
 */
import { existsSync } from 'node:fs';
import { StackError } from '../errors.js';
import { spawnDetached } from '../sys/process.js';
import type { OciRuntime } from './oci-runtime.js';

export interface MonitorOptions {
  id: string;
  name: string;
  bundle: string;
  runtime: OciRuntime;
  /** per-container directory: pid files, exit and oom markers */
  persistDir: string;
  logPath: string;
  /** where conmon puts attach sockets (it fails to start without one) */
  socketDir: string;
  terminal?: boolean;
  stdin?: StdinMode;
  conmon?: string;
}

/**
 * A stdin pipe for attached clients: 'open' stays open when a client ends its input or
 * detaches (docker's OpenStdin), 'once' is closed then (StdinOnce). A terminal needs
 * neither: its input is the pty, always open.
 */
export type StdinMode = 'open' | 'once';

export interface MonitorHandle {
  /** the container's init process, as seen from the host */
  pid: number;
}

const CONMON = '/usr/bin/conmon';

export async function startMonitor(o: MonitorOptions): Promise<MonitorHandle> {
  const conmon = o.conmon ?? CONMON;
  if (!existsSync(conmon)) {
    throw new StackError('conmon is not installed', { kind: 'not-found', hint: 'install it: apt-get install conmon' });
  }
  const args = [
    ...commonArgs({ ...o, session: o.id, log: `k8s-file:${o.logPath}` }),
    '-n', o.name,
    '--conmon-pidfile', `${o.persistDir}/conmon.pid`,
    ...(o.terminal ? ['-t'] : []),
    // with a terminal, conmon's stdin is the pty, and `-i` would have it close the pty when a client goes
    ...(o.stdin && !o.terminal ? ['-i', ...(o.stdin === 'open' ? ['--leave-stdin-open'] : [])] : []),
  ];
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' };
  // conmon writes some files relative to its working directory (an `oom` marker, in some
  // versions): keep them in the container's own directory, not wherever `stack` ran
  const child = spawnDetached(conmon, args, env, 2, o.persistDir);
  const sync = child.pipes[0]!;
  const start = child.pipes[1]!;
  try {
    const answer = new LineReader(sync).next();
    start.end('0');
    const line = await Promise.race([
      answer,
      child.exited.then(async (code) => (code === 0 ? answer : Promise.reject(new Error(`conmon exited with ${code}: ${child.stderr().trim()}`)))),
    ]);
    const msg = JSON.parse(line) as { data: number; message?: string };
    if (msg.data < 0) {
      throw new StackError(`the runtime could not create container ${o.name}: ${msg.message ?? 'unknown error'}`, { kind: 'system' });
    }
    return { pid: msg.data };
  } catch (e) {
    if (e instanceof StackError) throw e;
    throw new StackError(`cannot start the monitor for ${o.name}: ${(e as Error).message}`, { kind: 'system', cause: e });
  } finally {
    child.release();
  }
}

function commonArgs(o: { id: string; session: string; bundle: string; runtime: OciRuntime; persistDir: string; socketDir: string; log: string }): string[] {
  return [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.session,
    '-r', o.runtime.binary,
    '-b', o.bundle,
    '-p', `${o.persistDir}/pidfile`,
    '--persist-dir', o.persistDir,
    '--exit-dir', o.persistDir,
    '-l', o.log,
    '--socket-dir-path', o.socketDir,
    '--log-level', 'error',
    // conmon otherwise calls sync(2) when the container exits: a whole-system flush that
    // keeps it alive for seconds on a busy disk; the log is written already
    '--no-sync-log',
    ...o.runtime.globalArgs().flatMap((a) => ['--runtime-arg', a]),
  ];
}

export interface ExecMonitorOptions {
  /** the container's id */
  id: string;
  /** the exec session's own id and directory: conmon's bundle (attach socket, ctl fifo), pid and exit files */
  session: string;
  sessionDir: string;
  /** the process to run (runtime-spec process JSON) */
  processSpec: string;
  runtime: OciRuntime;
  socketDir: string;
  conmon?: string;
}

/**
 * An exec session with a terminal, through conmon as podman runs one: conmon asks the
 * runtime for the pty (its console socket), serves it on an attach socket in the session
 * dir, and reports the process's pid and then its exit code on the sync pipe. The exec
 * waits on the start pipe until we are attached, so no output is lost.
 */
export class ExecMonitor {
  private readonly sync: LineReader;

  private constructor(
    private readonly child: ReturnType<typeof spawnDetached>,
    private readonly name: string,
  ) {
    this.sync = new LineReader(child.pipes[0]!);
  }

  /** Starts conmon and waits until its attach socket is ready (`sessionDir/attach`). */
  static async start(o: ExecMonitorOptions): Promise<ExecMonitor> {
    const conmon = o.conmon ?? CONMON;
    const args = [
      ...commonArgs({ ...o, bundle: o.sessionDir, persistDir: o.sessionDir, log: 'none' }),
      '--exec',
      '--exec-process-spec', o.processSpec,
      '--exec-attach',
      '-t',
    ];
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' };
    const child = spawnDetached(conmon, args, env, 3, o.sessionDir);
    // a conmon that dies resets its pipes: that shows as a missing answer, with its stderr
    for (const p of child.pipes) p.on('error', () => undefined);
    const monitor = new ExecMonitor(child, o.id);
    try {
      // the first start message lets conmon set up; it answers on the attach pipe once its socket listens
      child.pipes[1]!.write('0');
      const ready = await monitor.answer(new LineReader(child.pipes[2]!).next(), 'attach');
      if (ready < 0) throw new StackError(`conmon could not set up the exec session in ${o.id}`, { kind: 'system' });
      return monitor;
    } catch (e) {
      monitor.release();
      throw e;
    }
  }

  /** Lets the exec'd process start (call once attached); resolves to its pid. */
  async begin(): Promise<number> {
    this.child.pipes[1]!.end('0');
    const pid = await this.answer(this.sync.next(), 'sync');
    if (pid < 0) throw new StackError(`cannot exec in container ${this.name}: ${this.lastMessage || 'the runtime failed'}`, { kind: 'system' });
    return pid;
  }

  /** The process's exit code, once it has exited. */
  async exitCode(): Promise<number> {
    const code = await this.answer(this.sync.next(), 'sync');
    this.release();
    return code;
  }

  release(): void {
    this.child.release();
  }

  private lastMessage = '';

  private async answer(line: Promise<string>, pipe: string): Promise<number> {
    const text = await Promise.race([
      line,
      this.child.exited.then((code) => line.catch(() => Promise.reject(new Error(`conmon exited with ${code}: ${this.child.stderr().trim()}`)))),
    ]).catch((e: unknown) => {
      const said = this.child.stderr().trim();
      throw new StackError(`the exec monitor failed on its ${pipe} pipe: ${(e as Error).message}${said ? `: ${said}` : ''}`, { kind: 'system', cause: e });
    });
    const msg = JSON.parse(text) as { data: number; message?: string };
    this.lastMessage = msg.message ?? '';
    return msg.data;
  }
}

/** Newline-ended messages from a pipe, one `next()` each, in order. */
class LineReader {
  private buf = '';
  private ended = false;
  private error: unknown;
  private waiters: (() => void)[] = [];

  constructor(stream: NodeJS.ReadableStream) {
    const wake = () => {
      for (const w of this.waiters.splice(0)) w();
    };
    stream.on('data', (d: Buffer) => {
      this.buf += d.toString();
      wake();
    });
    stream.on('end', () => {
      this.ended = true;
      wake();
    });
    stream.on('error', (e) => {
      this.error = e;
      wake();
    });
  }

  async next(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return line;
      }
      if (this.error !== undefined) throw this.error;
      if (this.ended) {
        const rest = this.buf.trim();
        this.buf = '';
        if (rest) return rest;
        throw new Error('the pipe closed without an answer');
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}
