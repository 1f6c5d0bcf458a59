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
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.name,
    '-r', o.runtime.binary,
    '-b', o.bundle,
    '-p', `${o.persistDir}/pidfile`,
    '--conmon-pidfile', `${o.persistDir}/conmon.pid`,
    '--persist-dir', o.persistDir,
    '--exit-dir', o.persistDir,
    '-l', `k8s-file:${o.logPath}`,
    '--socket-dir-path', o.socketDir,
    '--log-level', 'error',
    // conmon otherwise calls sync(2) when the container exits: a whole-system flush that
    // keeps it alive for seconds on a busy disk; the log is written already
    '--no-sync-log',
    ...o.runtime.globalArgs().flatMap((a) => ['--runtime-arg', a]),
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
    const answer = readLine(sync);
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

function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        cleanup();
        resolve(buf.slice(0, nl));
      }
    };
    const onEnd = () => {
      cleanup();
      if (buf.trim()) resolve(buf.trim());
      else reject(new Error('conmon closed the sync pipe without an answer'));
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', reject);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', reject);
  });
}
