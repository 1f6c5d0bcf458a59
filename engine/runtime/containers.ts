/**
 * Container lifecycle over the OCI runtime and conmon: create, start (again), attach, kill,
 * stop, restart, wait, exec, logs, remove. Everything a later `stack` process needs is on
 * disk (container.json, the bundle, conmon's exit and oom files, the runtime's own state
 * under `--root`, run-state.json), so any process can pick a container up; none has to stay
 * alive for it to run. Start, stop and remove take the container's lock file: a project's
 * supervisor restarting a container never races a user's command on it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { StackError } from '../errors.js';
import { withFileLock } from '../sys/flock.js';
import { mountOverlay, unmount } from '../sys/mounts.js';
import { killProcessTree, runStatus } from '../sys/process.js';
import { SysError } from '../sys/sys-error.js';
import { writeFileAtomic } from './atomic-file.js';
import { startMonitor, type StdinMode } from './conmon.js';
import { attachToMonitor, type AttachStreams } from './conmon-attach.js';
import { OciRuntime, type RuntimeName } from './oci-runtime.js';
import type { OciMount, OciProcess, OciSpec } from './oci-spec.js';
import { parseLogRecords, type LogLine } from './log-follow.js';
import { containerDirs, runtimeRoot, socketDir, type EnginePaths } from './paths.js';
import { readRunState, writeRunState, type RunState } from './run-state.js';

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
  /** compose's restart policy, applied by the project's supervisor: no, always, on-failure[:N], unless-stopped */
  restart?: string;
  healthcheck?: HealthcheckConfig;
}

/** A container's healthcheck, resolved from the service and the image: what docker runs. */
export interface HealthcheckConfig {
  /** the command run in the container (`CMD-SHELL x` already made `/bin/sh -c x`) */
  test: string[];
  /** ms */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  /** consecutive failures that make the container unhealthy */
  retries: number;
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
  restart?: string;
  healthcheck?: HealthcheckConfig;
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

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** the process ran out of its time and was killed, with what it started */
  timedOut?: true;
}

const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** how long a start or remove waits for another one on the same container, beyond its stop grace period */
const LOCK_WAIT_MS = 60_000;
/** conmon's files of one run of the container, cleared before the next run */
const RUN_FILES = ['exit', 'oom', 'pidfile', 'conmon.pid'];

let execSeq = 0;

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
      ...(req.restart && { restart: req.restart }),
      ...(req.healthcheck && { healthcheck: req.healthcheck }),
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

  /**
   * Starts a created container, or one that exited (docker start): its runtime container
   * and monitor are made again on the same bundle and rootfs, so its writes and its log
   * carry on. A running container is left alone. As in docker, a start by the user resets
   * the restart count and lifts a stop.
   */
  async start(id: string): Promise<void> {
    await this.locked(id, async () => {
      await this.startUnlocked(id);
    });
  }

  /** stop, then start (docker restart). */
  async restart(id: string, opts: { gracePeriod?: number } = {}): Promise<void> {
    await this.locked(id, async () => {
      await this.stopUnlocked(id, opts.gracePeriod);
      await this.startUnlocked(id);
    });
  }

  /**
   * Starts an exited container again for its restart policy, counting the restart; unless
   * the user stopped it, or it was started, removed or is being acted on meanwhile (the lock
   * is busy: a StackError of kind 'conflict'). Whether it started the container.
   */
  async restartForPolicy(id: string, lockWaitMs: number): Promise<boolean> {
    return this.locked(id, async () => {
      if (!existsSync(path.join(containerDirs(this.paths, id).state, 'container.json'))) return false;
      const run = readRunState(this.paths, id);
      if (run.stoppedByUser || (await this.status(id)) !== 'exited') return false;
      await this.startAgain(id, this.record(id));
      writeRunState(this.paths, id, { startedAt: new Date().toISOString(), restartCount: run.restartCount + 1, stoppedByUser: false });
      return true;
    }, lockWaitMs);
  }

  /** When it last started, its restart count, whether the user stopped it. */
  runState(id: string): RunState {
    this.record(id);
    return readRunState(this.paths, id);
  }

  /**
   * Runs `fn` while no start, stop or remove of the container runs, the container still
   * there; the lock is busy for longer than `waitMs`: a StackError of kind 'conflict'.
   */
  async withLock<T>(id: string, waitMs: number, fn: () => Promise<T> | T): Promise<T> {
    return this.locked(id, async () => {
      this.record(id);
      return fn();
    }, waitMs);
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

  /**
   * Sends `signal` to the container's init. As in docker, the stop signal and SIGKILL count
   * as the user stopping it: no restart policy starts it again until it is started; other
   * signals are messages to the process.
   */
  async kill(id: string, signal: string | number = 'SIGKILL'): Promise<void> {
    const rec = this.record(id);
    const n = signalNumber(signal);
    if (n !== undefined && (n === constants.signals.SIGKILL || n === signalNumber(rec.stopSignal))) this.markStopped(id);
    await this.runtimeOf(rec).kill(id, String(signal));
  }

  /**
   * The container's stop signal, then SIGKILL once the grace period is over. The container
   * counts as stopped by the user (docker stop): its restart policy leaves it alone, also
   * when it had exited already and was waiting for a restart.
   */
  async stop(id: string, opts: { gracePeriod?: number } = {}): Promise<ExitStatus | undefined> {
    return this.locked(id, () => this.stopUnlocked(id, opts.gracePeriod));
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
    if (this.startedAndAlive(id)) return 'running';
    const st = await this.runtimeOf(rec).state(id);
    if (!st) return 'unknown';
    if (st.status === 'created') return 'created';
    if (st.status === 'running' || st.status === 'paused') return 'running';
    return 'exited';
  }

  /**
   * Running, as far as files tell without asking the runtime (a process each time, which
   * `ps` and `down` would pay per container): no exit file, the init named by the pid file
   * alive, and a start recorded after that pid file was written (so the init is not a
   * created one still waiting for its start).
   */
  private startedAndAlive(id: string): boolean {
    const pid = this.pid(id);
    if (pid === undefined || !alive(pid)) return false;
    const startedAt = readRunState(this.paths, id).startedAt;
    if (startedAt === undefined) return false;
    try {
      return statSync(path.join(containerDirs(this.paths, id).run, 'pidfile')).mtimeMs <= Date.parse(startedAt);
    } catch {
      return false;
    }
  }

  /** The host pid of the container's init, while it runs. */
  pid(id: string): number | undefined {
    try {
      return Number(readFileSync(path.join(containerDirs(this.paths, id).run, 'pidfile'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs a process in the running container and collects its output. After `timeout` ms
   * the process and everything it started are killed (a healthcheck that hangs).
   */
  async exec(id: string, proc: Partial<OciProcess> & { args: string[] }, opts: { timeout?: number } = {}): Promise<ExecResult> {
    const rec = this.record(id);
    const spec = JSON.parse(readFileSync(path.join(containerDirs(this.paths, id).bundle, 'config.json'), 'utf8')) as OciSpec;
    const full: OciProcess = { ...spec.process, terminal: false, ...proc, env: proc.env ?? spec.process.env };
    const base = path.join(containerDirs(this.paths, id).run, `exec-${process.pid}-${++execSeq}`);
    writeFileSync(`${base}.json`, JSON.stringify(full));
    const rt = this.runtimeOf(rec);
    let timedOut = false;
    // the runtime waits for the process, so killing that (by the pid the runtime wrote) ends the exec
    const timer = opts.timeout === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      const pid = Number(readFileOr(`${base}.pid`, '').trim());
      if (pid > 0) killProcessTree(pid);
    }, opts.timeout);
    try {
      const r = await runStatus(rt.binary, [...rt.globalArgs(), 'exec', '--pid-file', `${base}.pid`, '--process', `${base}.json`, id]);
      return timedOut ? { ...r, timedOut: true } : r;
    } finally {
      clearTimeout(timer);
      rmSync(`${base}.json`, { force: true });
      rmSync(`${base}.pid`, { force: true });
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
    await this.locked(id, () => this.removeUnlocked(id, opts.force === true));
  }

  private async removeUnlocked(id: string, force: boolean): Promise<void> {
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
      if (state && (state.status === 'running' || state.status === 'paused' || state.status === 'created') && !force) {
        throw new StackError(`container ${rec.name} is running`, { kind: 'conflict', hint: 'stop it first, or remove it with force' });
      }
      if (exited || state) await step('runtime delete', () => rt.delete(id, true).catch(ignoreUnknown));
      await step('monitor', () => this.reapMonitor(id));
      if (rec.rootfs.kind === 'overlay') await step('unmount rootfs', () => unmount(dirs.rootfs));
    } else {
      await step('unmount rootfs', () => unmount(dirs.rootfs));
    }
    // conmon's link to the bundle's attach socket outlives conmon
    await step('remove socket link', () => rmSync(path.join(socketDir(this.paths), id), { force: true }));
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

  /** When the container last exited (conmon's exit file), ms since the epoch. */
  exitTime(id: string): number | undefined {
    try {
      return statSync(path.join(containerDirs(this.paths, id).run, 'exit')).mtimeMs;
    } catch {
      return undefined;
    }
  }

  private async startUnlocked(id: string): Promise<void> {
    const rec = this.record(id);
    const run = readRunState(this.paths, id);
    // never started and not exited: created, as `up` leaves most containers; no need to ask the runtime
    const status = run.startedAt === undefined && !this.exitStatus(id) ? 'created' : await this.status(id);
    if (status === 'running') return;
    if (status === 'created') await this.runtimeOf(rec).start(id);
    else await this.startAgain(id, rec);
    writeRunState(this.paths, id, { startedAt: new Date().toISOString(), restartCount: 0, stoppedByUser: false });
  }

  /**
   * A new runtime container and monitor for one that exited, on the same bundle and the
   * still mounted rootfs; conmon appends to the same log.
   */
  private async startAgain(id: string, rec: ContainerRecord): Promise<void> {
    const dirs = containerDirs(this.paths, id);
    const rt = this.runtimeOf(rec);
    await rt.delete(id, true).catch(ignoreUnknown);
    await this.reapMonitor(id);
    // conmon's exit dir file is named after the container
    for (const f of [...RUN_FILES, id]) rmSync(path.join(dirs.run, f), { force: true });
    const spec = JSON.parse(readFileSync(path.join(dirs.bundle, 'config.json'), 'utf8')) as OciSpec;
    await startMonitor({
      id,
      name: rec.name,
      bundle: dirs.bundle,
      runtime: rt,
      persistDir: dirs.run,
      logPath: dirs.log,
      socketDir: socketDir(this.paths),
      terminal: spec.process.terminal === true,
      stdin: rec.stdin,
    });
    await rt.start(id);
  }

  private async stopUnlocked(id: string, gracePeriod: number | undefined): Promise<ExitStatus | undefined> {
    const rec = this.record(id);
    this.markStopped(id);
    if ((await this.status(id)) !== 'running') return this.exitStatus(id);
    const rt = this.runtimeOf(rec);
    await rt.kill(id, rec.stopSignal).catch(ignoreGone);
    const exited = await this.wait(id, gracePeriod ?? rec.stopGracePeriod);
    if (exited) return exited;
    await rt.kill(id, 'SIGKILL').catch(ignoreGone);
    return this.wait(id);
  }

  private markStopped(id: string): void {
    const run = readRunState(this.paths, id);
    if (!run.stoppedByUser) writeRunState(this.paths, id, { ...run, stoppedByUser: true });
  }

  /**
   * Runs `fn` holding the container's lock file (in its state dir, which goes with the
   * container). With no state dir there is no container to race on: `fn` runs as it is.
   */
  private async locked<T>(id: string, fn: () => Promise<T>, waitMs?: number): Promise<T> {
    const state = containerDirs(this.paths, id).state;
    if (!existsSync(state)) return fn();
    let wait = waitMs;
    if (wait === undefined) {
      try {
        wait = this.record(id).stopGracePeriod + LOCK_WAIT_MS;
      } catch {
        wait = LOCK_WAIT_MS;
      }
    }
    try {
      return await withFileLock(path.join(state, 'lock'), wait, fn);
    } catch (e) {
      // removed while we waited to open the lock
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(state)) throw new StackError(`no such container: ${id}`, { kind: 'not-found' });
      throw e;
    }
  }

  private runtimeOf(rec: ContainerRecord): OciRuntime {
    return new OciRuntime(rec.runtime.name, rec.runtime.binary, runtimeRoot(this.paths, rec.runtime.name));
  }

  /** conmon exits by itself once the container is gone; make sure it has, so no process is left. */
  private async reapMonitor(id: string): Promise<void> {
    const pid = this.monitorPid(id);
    if (!pid) return;
    // conmon exits moments after the container: poll often at first, then every 20 ms, 2 s in all
    const deadline = Date.now() + 2000;
    for (let delay = 1; alive(pid) && Date.now() < deadline; delay = Math.min(delay * 2, 20)) await sleep(delay);
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

function signalNumber(signal: string | number): number | undefined {
  if (typeof signal === 'number' || /^\d+$/.test(signal)) return Number(signal);
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  return (constants.signals as Record<string, number>)[name];
}

function readFileOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
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
