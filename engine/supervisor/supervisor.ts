/**
 * The supervisor of one project: what needs a clock or a watch, and nothing else. It finds
 * the project's containers by their labels, watches their exit files (inotify, and a slow
 * poll for what a watch misses), starts exited ones again as their restart policy says,
 * and runs the healthchecks of running ones. Everything it decides from is on disk (exit
 * files, run-state.json, the records), so a supervisor killed and started again picks up
 * where the last one was: a container that exited meanwhile gets its policy applied then.
 * Only the backoff between restarts lives in memory, and starts over with a new supervisor.
 */
import { watch, type FSWatcher } from 'node:fs';
import { StackError } from '../errors.js';
import { Containers, type ContainerRecord } from '../runtime/containers.js';
import { containerDirs, type EnginePaths } from '../runtime/paths.js';
import { readRunState } from '../runtime/run-state.js';
import { HealthMonitor } from './health.js';
import { decideRestart, parseRestartPolicy } from './restart-policy.js';

export const PROJECT_LABEL = 'com.docker.compose.project';

export interface SupervisorOptions {
  paths: EnginePaths;
  project: string;
  /** real problems only */
  log: (line: string) => void;
  /** after each scan that found containers, with the hrtime taken before it listed them */
  onScan?: (startedAt: bigint, containers: string[]) => void;
  /** how often every container is looked at without an event, ms */
  pollMs?: number;
  /** how often the project's containers are listed again, ms */
  rescanMs?: number;
}

interface Watched {
  watcher?: FSWatcher;
  /** a restart waiting for its backoff delay, or under way */
  restarting: boolean;
  /** the delay before this supervisor's last restart of it */
  previousDelay: number;
  /** the run (its startedAt) that could not be started again: docker gives up on such a container too */
  failedRun?: { startedAt: string | undefined };
  health?: HealthMonitor;
  checking: boolean;
  recheck: boolean;
}

/** how long a policy restart waits for a user's command on the same container */
const RESTART_LOCK_WAIT_MS = 1000;

/** The ids of the project's containers, from their records' labels. */
export function projectContainers(containers: Containers, project: string): string[] {
  const out: string[] = [];
  for (const id of containers.list()) {
    let rec: ContainerRecord;
    try {
      rec = containers.record(id);
    } catch {
      // removed while we listed
      continue;
    }
    if (rec.labels[PROJECT_LABEL] === project) out.push(id);
  }
  return out;
}

export class Supervisor {
  private readonly containers: Containers;
  private readonly watched = new Map<string, Watched>();
  private readonly timers: NodeJS.Timeout[] = [];
  private scanning = false;
  private scanAgain = false;
  private finished = false;
  private finish: () => void = () => undefined;

  constructor(private readonly o: SupervisorOptions) {
    this.containers = new Containers(o.paths);
  }

  /** Supervises until the project has no container left. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    this.timers.push(
      setInterval(() => this.checkAll(), this.o.pollMs ?? 1000),
      setInterval(() => this.rescan(), this.o.rescanMs ?? 5000),
    );
    this.rescan();
    return done;
  }

  /** Lists the project's containers again (SIGHUP: a command added or removed some). */
  rescan(): void {
    if (this.finished) return;
    if (this.scanning) {
      this.scanAgain = true;
      return;
    }
    this.scanning = true;
    try {
      do {
        this.scanAgain = false;
        this.scan();
      } while (this.scanAgain && !this.finished);
    } catch (e) {
      // no state is published for this scan: a command waiting for one reports the log
      this.o.log(`cannot list the project's containers: ${(e as Error).message}`);
    } finally {
      this.scanning = false;
    }
  }

  /** Stops watching and checking; waits for healthchecks under way. */
  async close(): Promise<void> {
    this.finished = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.watched.keys()].map((id) => this.forget(id)));
    this.finish();
  }

  private scan(): void {
    const startedAt = process.hrtime.bigint();
    const ids = projectContainers(this.containers, this.o.project);
    for (const id of this.watched.keys()) if (!ids.includes(id)) void this.forget(id);
    if (ids.length === 0) {
      void this.close();
      return;
    }
    for (const id of ids) {
      if (!this.watched.has(id)) this.watched.set(id, this.watchExit(id));
      void this.check(id);
    }
    this.o.onScan?.(startedAt, ids);
  }

  private watchExit(id: string): Watched {
    const w: Watched = { restarting: false, previousDelay: 0, checking: false, recheck: false };
    try {
      // the exit file comes and goes with a run, the pid file with a start; the health
      // checks' own exec and health files are no news
      w.watcher = watch(containerDirs(this.o.paths, id).run, (_, file) => {
        if (file === null || file === 'exit' || file === 'pidfile') void this.check(id);
      });
      // the dir goes with the container; the poll and the rescan cover what the watch cannot
      w.watcher.on('error', () => w.watcher?.close());
    } catch {
      // no run dir (yet): the poll looks at it
    }
    return w;
  }

  private async forget(id: string): Promise<void> {
    const w = this.watched.get(id);
    if (!w) return;
    this.watched.delete(id);
    w.watcher?.close();
    await w.health?.stop();
  }

  private checkAll(): void {
    for (const id of this.watched.keys()) void this.check(id);
  }

  /** One look at a container at a time; an event during a look asks for another. */
  private async check(id: string): Promise<void> {
    const w = this.watched.get(id);
    if (!w || this.finished) return;
    if (w.checking) {
      w.recheck = true;
      return;
    }
    w.checking = true;
    try {
      do {
        w.recheck = false;
        await this.look(id, w);
      } while (w.recheck && this.watched.get(id) === w);
    } catch (e) {
      this.o.log(`${id}: ${(e as Error).message}`);
    } finally {
      w.checking = false;
    }
  }

  private async look(id: string, w: Watched): Promise<void> {
    let rec: ContainerRecord;
    try {
      rec = this.containers.record(id);
    } catch {
      // removed: the rescan drops it, and ends us with the last one
      this.rescan();
      return;
    }
    const exit = this.containers.exitStatus(id);
    const run = readRunState(this.o.paths, id);
    if (exit) {
      if (w.health) await w.health.stop();
      w.health = undefined;
      const gaveUp = w.failedRun !== undefined && w.failedRun.startedAt === run.startedAt;
      if (!w.restarting && rec.restart && !gaveUp) this.applyPolicy(id, w, rec.restart, exit.code);
      return;
    }
    if (!rec.healthcheck || run.startedAt === undefined || !this.running(id)) return;
    if (w.health?.startedAt === run.startedAt) return;
    await w.health?.stop();
    w.health = new HealthMonitor(this.containers, this.o.paths, id, rec.healthcheck, run.startedAt, this.o.log);
    w.health.start();
  }

  private applyPolicy(id: string, w: Watched, policy: string, exitCode: number): void {
    const run = readRunState(this.o.paths, id);
    const exitedAt = this.containers.exitTime(id) ?? Date.now();
    const decision = decideRestart(parseRestartPolicy(policy), {
      exitCode,
      restartCount: run.restartCount,
      stoppedByUser: run.stoppedByUser,
      ranMs: run.startedAt === undefined ? 0 : Math.max(0, exitedAt - Date.parse(run.startedAt)),
      // the user's start resets the count, and with it docker's backoff
      previousDelay: run.restartCount === 0 ? 0 : w.previousDelay,
    });
    if (!decision.restart) return;
    w.restarting = true;
    const timer = setTimeout(() => {
      this.timers.splice(this.timers.indexOf(timer), 1);
      void this.restartNow(id, w, decision.delay);
    }, decision.delay);
    this.timers.push(timer);
  }

  private async restartNow(id: string, w: Watched, delay: number): Promise<void> {
    const run = readRunState(this.o.paths, id).startedAt;
    try {
      if (this.finished || this.watched.get(id) !== w) return;
      if (await this.containers.restartForPolicy(id, RESTART_LOCK_WAIT_MS)) w.previousDelay = delay;
    } catch (e) {
      // a user's command holds the container (the next look decides again), or it is gone
      if (!(e instanceof StackError && (e.kind === 'conflict' || e.kind === 'not-found'))) {
        this.o.log(`${id}: cannot start it again: ${(e as Error).message}`);
        w.failedRun = { startedAt: run };
      }
    } finally {
      w.restarting = false;
    }
    void this.check(id);
  }

  /** Started, not exited, its init alive: cheap enough for every poll, unlike asking the runtime. */
  private running(id: string): boolean {
    const pid = this.containers.pid(id);
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
