/**
 * Container lifecycle over the OCI runtime and conmon: create, start, attach, kill, stop,
 * wait, exec, logs, remove. Everything a later `stack` process needs is on disk (container.json,
 * the bundle, conmon's exit and oom files, the runtime's own state under `--root`), so any
 * process can pick a container up; none has to stay alive for it to run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { StackError } from '../errors.js';
import { mountOverlay, unmount } from '../sys/mounts.js';
import { runStatus } from '../sys/process.js';
import { SysError } from '../sys/sys-error.js';
import { writeFileAtomic } from './atomic-file.js';
import { startMonitor, type StdinMode } from './conmon.js';
import { attachToMonitor, type AttachStreams } from './conmon-attach.js';
import { OciRuntime, type RuntimeName } from './oci-runtime.js';
import type { OciMount, OciProcess, OciSpec } from './oci-spec.js';
import { parseLogRecords, type LogLine } from './log-follow.js';
import { containerDirs, runtimeRoot, socketDir, type EnginePaths } from './paths.js';

export type RootfsSource = { kind: 'overlay'; lower: string[] } | { kind: 'directory'; path: string };

export interface CreateRequest {
  /** [a-zA-Z0-9][a-zA-Z0-9_.-]* */
  id: string;
  name: string;
  /** the spec, or a function making it once the rootfs is mounted (the user is resolved from its /etc/passwd) */
  spec: OciSpec | ((rootfs: string) => OciSpec);
  rootfs: RootfsSource;
  runtime: { name: RuntimeName; binary: string };
  labels?: Record<string, string>;
  stopSignal?: string;
  /** ms */
  stopGracePeriod?: number;
  /** the container's volume and bind mounts, kept for `volumes_from` */
  volumeMounts?: OciMount[];
  /** a stdin that attached clients write to (compose's `stdin_open` is 'open'); none by default */
  stdin?: StdinMode;
}

export interface ContainerRecord {
  id: string;
  name: string;
  runtime: { name: RuntimeName; binary: string };
  rootfs: RootfsSource;
  labels: Record<string, string>;
  stopSignal: string;
  stopGracePeriod: number;
  volumeMounts: OciMount[];
  stdin?: StdinMode;
  created: string;
}

export type ContainerStatus = 'created' | 'running' | 'exited' | 'unknown';

export interface ExitStatus {
  /** exit code; 128 + signal number when killed by a signal */
  code: number;
  oomKilled: boolean;
}

export type { AttachStreams };

export interface AttachHandle {
  /** disconnects; the container goes on running */
  detach(): void;
  /** the exit status once the container exits; undefined after detach, or if conmon died without one */
  done: Promise<ExitStatus | undefined>;
}

export type { LogLine } from './log-follow.js';

const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export class Containers {
  constructor(private readonly paths: EnginePaths) {}

  /**
   * Prepares the rootfs and bundle and has conmon create the container (not started).
   * Any failure removes what was made.
   */
  async create(req: CreateRequest): Promise<ContainerRecord> {
    if (!ID.test(req.id)) throw new StackError(`invalid container id ${JSON.stringify(req.id)}`, { kind: 'invalid' });
    const dirs = containerDirs(this.paths, req.id);
    // the state dir may already hold files prepared for this container (its /etc files)
    if (existsSync(path.join(dirs.state, 'container.json'))) {
      throw new StackError(`container ${req.name} (${req.id}) already exists`, { kind: 'conflict', hint: 'remove it first' });
    }
    const record: ContainerRecord = {
      id: req.id,
      name: req.name,
      runtime: req.runtime,
      rootfs: req.rootfs,
      labels: req.labels ?? {},
      stopSignal: req.stopSignal ?? 'SIGTERM',
      stopGracePeriod: req.stopGracePeriod ?? 10_000,
      volumeMounts: req.volumeMounts ?? [],
      ...(req.stdin && { stdin: req.stdin }),
      created: new Date().toISOString(),
    };
    try {
      for (const d of [dirs.state, dirs.bundle, dirs.run, socketDir(this.paths)]) mkdirSync(d, { recursive: true, mode: 0o700 });
      writeFileAtomic(path.join(dirs.state, 'container.json'), JSON.stringify(record, null, 2));
      let rootPath: string;
      if (req.rootfs.kind === 'overlay') {
        for (const d of [dirs.rootfs, dirs.upper, dirs.work]) mkdirSync(d, { recursive: true });
        mountOverlay({ lower: req.rootfs.lower, upper: dirs.upper, work: dirs.work, target: dirs.rootfs });
        rootPath = dirs.rootfs;
      } else {
        rootPath = req.rootfs.path;
      }
      const base = typeof req.spec === 'function' ? req.spec(rootPath) : req.spec;
      const spec: OciSpec = { ...base, root: { ...base.root, path: rootPath } };
      // the bundle is rebuilt from container.json if ever needed: no fsync on the hot path
      writeFileAtomic(path.join(dirs.bundle, 'config.json'), JSON.stringify(spec), { durable: false });
      await startMonitor({
        id: req.id,
        name: req.name,
        bundle: dirs.bundle,
        runtime: this.runtimeOf(record),
        persistDir: dirs.run,
        logPath: dirs.log,
        socketDir: socketDir(this.paths),
        terminal: spec.process.terminal === true,
        stdin: req.stdin,
      });
      return record;
    } catch (e) {
      await this.remove(req.id, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  async start(id: string): Promise<void> {
    await this.runtimeOf(this.record(id)).start(id);
  }

  /**
   * Attaches to a created or running container through conmon: its output from now on goes
   * to `stdout` and `stderr`, and `stdin`, if given, to the container's stdin (which it must
   * have: `stdin` at create, or a terminal).
   */
  async attach(id: string, streams: AttachStreams): Promise<AttachHandle> {
    const rec = this.record(id);
    const dirs = containerDirs(this.paths, id);
    const notRunning = () =>
      new StackError(`container ${rec.name} is not running`, { kind: 'conflict', hint: 'its earlier output is in its logs; start it again to attach' });
    const status = await this.status(id);
    if (status !== 'created' && status !== 'running') throw notRunning();
    if (streams.stdin && !rec.stdin) {
      const spec = JSON.parse(readFileSync(path.join(dirs.bundle, 'config.json'), 'utf8')) as OciSpec;
      if (spec.process.terminal !== true) {
        throw new StackError(`container ${rec.name} has no stdin to attach to`, { kind: 'invalid', hint: 'create it with stdin_open: true' });
      }
    }
    let session;
    try {
      session = attachToMonitor(dirs.bundle, streams);
    } catch (e) {
      // conmon is gone: the container exited since the status was read
      if (e instanceof SysError && (e.code === 'ECONNREFUSED' || e.code === 'ENOENT')) throw notRunning();
      throw e;
    }
    const done = session.closed.then((how) => (how === 'detached' ? undefined : this.exitAfterMonitor(id)));
    return { detach: session.detach, done };
  }

  async kill(id: string, signal: string | number = 'SIGKILL'): Promise<void> {
    await this.runtimeOf(this.record(id)).kill(id, String(signal));
  }

  /** The container's stop signal, then SIGKILL once the grace period is over. */
  async stop(id: string, opts: { gracePeriod?: number } = {}): Promise<ExitStatus | undefined> {
    const rec = this.record(id);
    if ((await this.status(id)) !== 'running') return this.exitStatus(id);
    const grace = opts.gracePeriod ?? rec.stopGracePeriod;
    await this.kill(id, rec.stopSignal).catch(ignoreGone);
    const exited = await this.wait(id, grace);
    if (exited) return exited;
    await this.kill(id, 'SIGKILL').catch(ignoreGone);
    return this.wait(id);
  }

  /** Waits for the container to exit (conmon's exit file); undefined on timeout. */
  async wait(id: string, timeoutMs?: number): Promise<ExitStatus | undefined> {
    const dirs = containerDirs(this.paths, id);
    this.record(id);
    const done = () => this.exitStatus(id);
    const first = done();
    if (first) return first;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (v: ExitStatus | undefined) => {
        if (settled) return;
        settled = true;
        watcher.close();
        clearTimeout(timer);
        clearInterval(poll);
        resolve(v);
      };
      const check = () => {
        const s = done();
        if (s) finish(s);
      };
      const watcher = watch(dirs.run, check);
      // a watch can miss an event on some filesystems, which a slow poll covers
      const poll = setInterval(check, 100);
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(done()), timeoutMs);
      // the exit file may have appeared before the watch was set up
      check();
    });
  }

  exitStatus(id: string): ExitStatus | undefined {
    const dirs = containerDirs(this.paths, id);
    let text: string;
    try {
      text = readFileSync(path.join(dirs.run, 'exit'), 'utf8').trim();
    } catch {
      return undefined;
    }
    if (text === '') return undefined;
    return { code: Number(text), oomKilled: existsSync(path.join(dirs.run, 'oom')) };
  }

  async status(id: string): Promise<ContainerStatus> {
    const rec = this.record(id);
    if (this.exitStatus(id)) return 'exited';
    const st = await this.runtimeOf(rec).state(id);
    if (!st) return 'unknown';
    if (st.status === 'created') return 'created';
    if (st.status === 'running' || st.status === 'paused') return 'running';
    return 'exited';
  }

  /** The host pid of the container's init, while it runs. */
  pid(id: string): number | undefined {
    try {
      return Number(readFileSync(path.join(containerDirs(this.paths, id).run, 'pidfile'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** Runs a process in the running container and collects its output. */
  async exec(id: string, proc: Partial<OciProcess> & { args: string[] }): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const rec = this.record(id);
    const spec = JSON.parse(readFileSync(path.join(containerDirs(this.paths, id).bundle, 'config.json'), 'utf8')) as OciSpec;
    const full: OciProcess = { ...spec.process, terminal: false, ...proc, env: proc.env ?? spec.process.env };
    const file = path.join(containerDirs(this.paths, id).run, `exec-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(full));
    const rt = this.runtimeOf(rec);
    try {
      return await runStatus(rt.binary, [...rt.globalArgs(), 'exec', '--process', file, id]);
    } finally {
      rmSync(file, { force: true });
    }
  }

  /**
   * Moves the overlay upper dir of an exited container to `dest` (the builder turns a RUN
   * step's changes into a layer). The rootfs is unmounted first, so nothing changes the dir
   * while it moves; the container is left to be removed as usual.
   */
  async takeUpper(id: string, dest: string): Promise<void> {
    const rec = this.record(id);
    if (rec.rootfs.kind !== 'overlay') throw new StackError(`container ${rec.name} has no overlay rootfs`, { kind: 'invalid' });
    if ((await this.status(id)) === 'running') throw new StackError(`container ${rec.name} is running`, { kind: 'conflict' });
    const dirs = containerDirs(this.paths, id);
    unmount(dirs.rootfs);
    renameSync(dirs.upper, dest);
  }

  /** The container's log, partial lines joined. */
  logs(id: string): LogLine[] {
    const file = containerDirs(this.paths, id).log;
    return existsSync(file) ? parseLogRecords(readFileSync(file, 'utf8')) : [];
  }

  /**
   * Removes the container: with `force`, kills it first. Keeps going after a failed step
   * and reports every failure together, so as much as possible is cleaned up.
   */
  async remove(id: string, opts: { force?: boolean } = {}): Promise<void> {
    const dirs = containerDirs(this.paths, id);
    let rec: ContainerRecord | undefined;
    try {
      rec = this.record(id);
    } catch {
      rec = undefined;
    }
    const failures: string[] = [];
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        failures.push(`${what}: ${(e as Error).message}`);
      }
    };
    if (rec) {
      const rt = this.runtimeOf(rec);
      // an exit file means the container is stopped: no need to ask the runtime first
      const exited = this.exitStatus(id) !== undefined;
      const state = exited ? undefined : await rt.state(id);
      if (state && (state.status === 'running' || state.status === 'paused' || state.status === 'created') && !opts.force) {
        throw new StackError(`container ${rec.name} is running`, { kind: 'conflict', hint: 'stop it first, or remove it with force' });
      }
      if (exited || state) await step('runtime delete', () => rt.delete(id, true).catch(ignoreUnknown));
      await step('monitor', () => this.reapMonitor(id));
      if (rec.rootfs.kind === 'overlay') await step('unmount rootfs', () => unmount(dirs.rootfs));
    } else {
      await step('unmount rootfs', () => unmount(dirs.rootfs));
    }
    await step('remove state', () => rmSync(dirs.state, { recursive: true, force: true }));
    await step('remove run dir', () => rmSync(dirs.run, { recursive: true, force: true }));
    if (failures.length > 0) {
      throw new StackError(`could not fully remove container ${rec?.name ?? id}: ${failures.join('; ')}`, { kind: 'system' });
    }
  }

  /** Container ids with state on disk. */
  list(): string[] {
    const dir = path.join(this.paths.stateDir, 'containers');
    return existsSync(dir) ? readdirSync(dir).filter((d) => existsSync(path.join(dir, d, 'container.json'))) : [];
  }

  record(id: string): ContainerRecord {
    const file = path.join(containerDirs(this.paths, id).state, 'container.json');
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as ContainerRecord;
    } catch {
      throw new StackError(`no such container: ${id}`, { kind: 'not-found' });
    }
  }

  private runtimeOf(rec: ContainerRecord): OciRuntime {
    return new OciRuntime(rec.runtime.name, rec.runtime.binary, runtimeRoot(this.paths, rec.runtime.name));
  }

  /** conmon exits by itself once the container is gone; make sure it has, so no process is left. */
  private async reapMonitor(id: string): Promise<void> {
    const pid = this.monitorPid(id);
    if (!pid) return;
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
    if (alive(pid)) process.kill(pid, constants.signals.SIGKILL);
  }

  private monitorPid(id: string): number | undefined {
    try {
      return Number(readFileSync(path.join(containerDirs(this.paths, id).run, 'conmon.pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** conmon closes its attach connections just before it writes the exit file */
  private async exitAfterMonitor(id: string): Promise<ExitStatus | undefined> {
    for (;;) {
      const pid = this.monitorPid(id);
      const running = pid !== undefined && alive(pid);
      const status = this.exitStatus(id);
      if (status || !running) return status;
      await sleep(10);
    }
  }
}

/**
 * Whether `pid` still runs. A zombie does not: conmon double-forks, so once it exits it
 * waits for the host's pid 1 to reap it, and some inits (in VMs, in containers) take
 * their time about that.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the state follows the command name, which is in parentheses and may contain spaces
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function ignoreUnknown(e: unknown): void {
  // the runtime already forgot it (deleted by an earlier, interrupted remove)
  if (!(e instanceof Error) || !/does not exist|not found|no such file/i.test(e.message)) throw e;
}

function ignoreGone(e: unknown): void {
  // the container may exit between the status check and the signal
  if (!(e instanceof Error) || !/not running|container not found|does not exist|process already finished/i.test(e.message)) throw e;
}
