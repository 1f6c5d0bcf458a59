/**
 * A process run in a running container with our own stdin, stdout and stderr (`stack exec`):
 * the runtime's exec is handed our descriptors, so the output streams as it is written and
 * input reaches the process, where Containers.exec collects the output for healthchecks.
 * The runtime puts the process in a session of its own; signals sent to us are passed on
 * to it, and the runtime runs in a process group of its own so that a Ctrl-C in the
 * terminal reaches the process once, through us.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { StackError } from '../errors.js';
import { runOnOurStdio } from '../sys/process.js';
import { attachToMonitor } from './conmon-attach.js';
import { ExecMonitor } from './conmon.js';
import type { Containers } from './containers.js';
import { OciRuntime } from './oci-runtime.js';
import type { OciProcess, OciSpec } from './oci-spec.js';
import { containerDirs, runtimeRoot, socketDir, type EnginePaths } from './paths.js';
import { resolveUser } from './spec/user.js';

export interface ExecRequest {
  args: string[];
  /** added to (and overriding) the container's environment */
  env?: Record<string, string>;
  /** absolute; the container's working directory by default */
  cwd?: string;
  /** `user[:group]`, names looked up in the container's /etc/passwd and /etc/group */
  user?: string;
  /** start the process and return at once, its output discarded */
  detach?: boolean;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

let seq = 0;

/** Runs the process in the (running) container; its exit code, or 0 once a detached one started. */
export async function execStreaming(containers: Containers, paths: EnginePaths, id: string, req: ExecRequest): Promise<number> {
  const rec = containers.record(id);
  if ((await containers.status(id)) !== 'running') throw new StackError(`container ${rec.name} is not running`, { kind: 'conflict' });
  const dirs = containerDirs(paths, id);
  const spec = JSON.parse(readFileSync(path.join(dirs.bundle, 'config.json'), 'utf8')) as OciSpec;
  const proc = execProcess(spec, req, rec.rootfs.kind === 'directory' ? rec.rootfs.path : dirs.rootfs, rec.name);
  const base = path.join(dirs.run, `exec-${process.pid}-${++seq}`);
  writeFileSync(`${base}.json`, JSON.stringify(proc));
  const rt = new OciRuntime(rec.runtime.name, rec.runtime.binary, runtimeRoot(paths, rec.runtime.name));
  const forward = (signal: NodeJS.Signals) => {
    let pid: number;
    try {
      pid = Number(readFileSync(`${base}.pid`, 'utf8').trim());
    } catch {
      return; // not started yet, or gone
    }
    try {
      if (pid > 0) process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  };
  if (!req.detach) for (const s of FORWARDED) process.on(s, forward);
  try {
    const args = [...rt.globalArgs(), 'exec', '--process', `${base}.json`, '--pid-file', `${base}.pid`, ...(req.detach ? ['--detach'] : []), id];
    return await runOnOurStdio(rt.binary, args, req.detach ? 'ignore' : 'inherit');
  } finally {
    for (const s of FORWARDED) process.removeListener(s, forward);
    rmSync(`${base}.json`, { force: true });
    rmSync(`${base}.pid`, { force: true });
  }
}

export interface TerminalIo {
  stdin: NodeJS.ReadableStream;
  stdout: Writable;
  /** the terminal's size at the start; later changes go through the session's ctl fifo */
  size?: { rows: number; columns: number };
  /** the session's dir once conmon serves it (its `ctl` fifo takes `1 <rows> <cols>` resizes) */
  onAttached?: (sessionDir: string) => void;
}

/**
 * Runs the process with a pseudo-terminal (`stack exec` with a terminal), monitored by a
 * conmon of its own: keys go to the pty as typed (Ctrl-C included, which the pty turns
 * into a signal), and its output comes back on the attach socket. Returns its exit code.
 */
export async function execInTerminal(containers: Containers, paths: EnginePaths, id: string, req: ExecRequest, io: TerminalIo): Promise<number> {
  const rec = containers.record(id);
  if ((await containers.status(id)) !== 'running') throw new StackError(`container ${rec.name} is not running`, { kind: 'conflict' });
  const dirs = containerDirs(paths, id);
  const spec = JSON.parse(readFileSync(path.join(dirs.bundle, 'config.json'), 'utf8')) as OciSpec;
  const proc: OciProcess = {
    ...execProcess(spec, req, rec.rootfs.kind === 'directory' ? rec.rootfs.path : dirs.rootfs, rec.name),
    terminal: true,
    ...(io.size && { consoleSize: { height: io.size.rows, width: io.size.columns } }),
  };
  const session = `${id.slice(0, 12)}-x${process.pid}-${++seq}`;
  const sessionDir = path.join(dirs.run, session);
  mkdirSync(sessionDir, { recursive: true, mode: 0o700 });
  mkdirSync(socketDir(paths), { recursive: true, mode: 0o700 });
  const processSpec = path.join(sessionDir, 'process.json');
  writeFileSync(processSpec, JSON.stringify(proc));
  const rt = new OciRuntime(rec.runtime.name, rec.runtime.binary, runtimeRoot(paths, rec.runtime.name));
  let monitor: ExecMonitor | undefined;
  try {
    monitor = await ExecMonitor.start({ id, session, sessionDir, processSpec, runtime: rt, socketDir: socketDir(paths) });
    // a terminal has one output stream: conmon sends it all as stdout
    const attach = attachToMonitor(sessionDir, { stdin: io.stdin, stdout: io.stdout, stderr: io.stdout });
    io.onAttached?.(sessionDir);
    await monitor.begin();
    await attach.closed;
    return await monitor.exitCode();
  } finally {
    monitor?.release();
    rmSync(sessionDir, { recursive: true, force: true });
    rmSync(path.join(socketDir(paths), session), { force: true });
  }
}

/** The exec'd process: the container's own (capabilities, rlimits, ...) with the request's changes. */
export function execProcess(spec: OciSpec, req: ExecRequest, rootfs: string, container: string): OciProcess {
  const env = new Map(spec.process.env.map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e]));
  let user = spec.process.user;
  if (req.user !== undefined) {
    const u = resolveUser(rootfs, { user: req.user, service: container });
    user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length > 0 && { additionalGids: u.additionalGids }) };
    // docker sets HOME for the user it runs the process as
    env.set('HOME', `HOME=${u.home}`);
  }
  for (const [k, v] of Object.entries(req.env ?? {})) env.set(k, `${k}=${v}`);
  if (req.cwd !== undefined && !req.cwd.startsWith('/')) {
    throw new StackError(`the working directory must be an absolute path, not ${JSON.stringify(req.cwd)}`, { hint: 'for example -w /app' });
  }
  return { ...spec.process, terminal: false, args: req.args, env: [...env.values()], cwd: req.cwd ?? spec.process.cwd, user };
}
