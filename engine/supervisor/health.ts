/**
 * Healthchecks as docker runs them: the test is exec'd in the running container on a
 * schedule (start_interval while starting within start_period, else interval), killed
 * after `timeout` (a failure); `retries` failures in a row make the container unhealthy,
 * one success healthy, and failures within start_period do not count while it is still
 * starting. The state and the last five results go to `health.json` in the container's
 * run dir, tagged with the run they belong to, so readers never take the previous run's
 * verdict for this one's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';
import { writeFileAtomic } from '../runtime/atomic-file.js';
import { Containers, type HealthcheckConfig } from '../runtime/containers.js';
import { containerDirs, type EnginePaths } from '../runtime/paths.js';
import { readRunState } from '../runtime/run-state.js';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthResult {
  /** ISO times */
  start: string;
  end: string;
  /** the test's exit code; -1 when it timed out or could not run */
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  /** the last results, oldest first */
  log: HealthResult[];
  /** the run (RunState.startedAt) this state is about */
  startedAt?: string;
}

export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;
/** how long writing a result waits for a start or stop of the container to finish */
const WRITE_LOCK_WAIT_MS = 1000;

/**
 * The container's health for `ps`, `up --wait` and `service_healthy`: undefined when it
 * has no healthcheck; `starting` until a result of its current run is in.
 */
export function readHealth(paths: EnginePaths, id: string): HealthState | undefined {
  const rec = new Containers(paths).record(id);
  if (!rec.healthcheck) return undefined;
  const run = readRunState(paths, id);
  const saved = readHealthFile(paths, id);
  if (saved && saved.startedAt !== undefined && saved.startedAt === run.startedAt) return saved;
  return { status: 'starting', failingStreak: 0, log: saved?.log ?? [], ...(run.startedAt && { startedAt: run.startedAt }) };
}

/** The state after one more result (docker's handleProbeResult). */
export function applyResult(state: HealthState, result: HealthResult, check: HealthcheckConfig, runStartedMs: number): HealthState {
  const log = [...state.log, result].slice(-MAX_LOG_ENTRIES);
  if (result.exitCode === 0) return { ...state, status: 'healthy', failingStreak: 0, log };
  // a container still starting gets start_period to come up: failures then do not count
  if (state.status === 'starting' && Date.parse(result.start) - runStartedMs < check.startPeriod) return { ...state, log };
  const failingStreak = state.failingStreak + 1;
  return { ...state, status: failingStreak >= check.retries ? 'unhealthy' : state.status, failingStreak, log };
}

/** How long until the next test (docker's schedule): start_interval while starting within start_period. */
export function nextProbeDelay(check: HealthcheckConfig, status: HealthStatus, sinceStartMs: number): number {
  if (sinceStartMs >= check.startPeriod) return check.interval;
  return status === 'starting' ? check.startInterval : check.interval;
}

/** Runs one container's healthcheck for one run of it, from start() until stop(). */
export class HealthMonitor {
  private state: HealthState;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly containers: Containers,
    private readonly paths: EnginePaths,
    readonly id: string,
    private readonly check: HealthcheckConfig,
    /** the run being checked (RunState.startedAt) */
    readonly startedAt: string,
    private readonly log: (line: string) => void,
  ) {
    // as docker: a new run starts over, with the earlier results kept
    this.state = { status: 'starting', failingStreak: 0, log: readHealthFile(paths, id)?.log ?? [], startedAt };
  }

  start(): void {
    void this.save();
    this.schedule();
  }

  /** Stops the schedule; resolves once a test under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.probing;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = nextProbeDelay(this.check, this.state.status, Date.now() - Date.parse(this.startedAt));
    this.timer = setTimeout(() => {
      this.probing = this.probe().finally(() => {
        this.probing = undefined;
        this.schedule();
      });
    }, delay);
  }

  private async probe(): Promise<void> {
    const start = new Date();
    let result: HealthResult;
    try {
      const r = await this.containers.exec(this.id, { args: this.check.test }, { timeout: this.check.timeout });
      const output = limitOutput(r.stdout + r.stderr);
      result = r.timedOut
        ? { start: start.toISOString(), end: new Date().toISOString(), exitCode: -1, output: `Health check exceeded timeout (${duration(this.check.timeout)})${output ? `: ${output}` : ''}` }
        : { start: start.toISOString(), end: new Date().toISOString(), exitCode: r.exitCode, output };
    } catch (e) {
      result = { start: start.toISOString(), end: new Date().toISOString(), exitCode: -1, output: (e as Error).message };
    }
    if (this.stopped) return;
    this.state = applyResult(this.state, result, this.check, Date.parse(this.startedAt));
    await this.save();
  }

  /**
   * Writes the state under the container's lock, and only while this run goes on: a
   * result that comes in as the container stops or starts again is not about the run
   * readers will see.
   */
  private async save(): Promise<void> {
    try {
      await this.containers.withLock(this.id, WRITE_LOCK_WAIT_MS, () => {
        if (this.stopped || this.containers.exitStatus(this.id) || readRunState(this.paths, this.id).startedAt !== this.startedAt) return;
        writeFileAtomic(healthFile(this.paths, this.id), JSON.stringify(this.state), { durable: false });
      });
    } catch (e) {
      // removed, or busy being stopped or started: the supervisor will see to it
      if (e instanceof StackError && (e.kind === 'not-found' || e.kind === 'conflict')) return;
      this.log(`${this.id}: cannot record its health: ${(e as Error).message}`);
    }
  }
}

function healthFile(paths: EnginePaths, id: string): string {
  return path.join(containerDirs(paths, id).run, 'health.json');
}

function readHealthFile(paths: EnginePaths, id: string): HealthState | undefined {
  try {
    return JSON.parse(readFileSync(healthFile(paths, id), 'utf8')) as HealthState;
  } catch {
    return undefined;
  }
}

/** docker keeps the first 4096 bytes and marks the cut with "..." */
function limitOutput(text: string): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= MAX_OUTPUT_BYTES) return text;
  return `${bytes.subarray(0, MAX_OUTPUT_BYTES).toString('utf8')}...`;
}

/** a duration as Go prints it, as docker's message does: 500ms, 1.5s, 1m30s */
function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = `${(ms % 60_000) / 1000}s`;
  return h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
}
