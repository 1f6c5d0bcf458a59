/**
 * What `up` does after the containers started, when it does not return at once: stay
 * attached to their output (compose's default), or wait until they are running and
 * healthy (`--wait`).
 */
import type { DependencyGraph } from '../../engine/graph/graph.js';
import type { Project } from '../../engine/model/types.js';
import { LABELS } from '../../engine/reconcile/project-containers.js';
import type { Reconciler } from '../../engine/reconcile/reconciler.js';
import { followLog } from '../../engine/runtime/log-follow.js';
import { containerDirs } from '../../engine/runtime/paths.js';
import type { CommandContext } from '../command.js';
import { colorWanted, containerLabel, LogFormatter } from '../render/log-prefix.js';

const POLL_MS = 100;

export interface AttachOptions {
  abortOnExit: boolean;
  exitCodeFrom?: string;
  stopTimeoutMs?: number;
  /** `up --watch`: containers exit and start again (restart, rebuild); only Ctrl-C ends it */
  untilInterrupted?: boolean;
}

export async function attachToProject(reconciler: Reconciler, project: Project, graph: DependencyGraph, ids: readonly string[], opts: AttachOptions, ctx: CommandContext): Promise<number> {
  const records = ids.map((id) => reconciler.containers.record(id));
  const names = new Map(records.map((rec) => [rec.id, containerLabel(rec)]));
  const format = new LogFormatter(records, { color: colorWanted(ctx.env) });
  const stopFollowing = new AbortController();
  const follows = ids.map((id) =>
    followLog(containerDirs(reconciler.paths, id).log, (l) => ctx.stdout(format.line(id, l)), { signal: stopFollowing.signal, pollMs: POLL_MS }),
  );
  let interrupts = 0;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= reconciler.stop(project.name, graph, [], opts.stopTimeoutMs !== undefined ? { stopTimeoutMs: opts.stopTimeoutMs } : {}).catch((e: Error) => {
      ctx.stderr(`error: ${e.message}\n`);
    }));
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      ctx.stderr('Gracefully stopping... (press Ctrl+C again to force)\n');
      void stopAll();
    } else {
      for (const id of ids) void reconciler.containers.kill(id, 'SIGKILL').catch(() => undefined);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const exited = new Map<string, number>();
    let first: number | undefined;
    for (;;) {
      for (const id of ids) {
        const status = reconciler.containers.exitStatus(id);
        // started again (a watch restart or re-creation): it counts as running
        if (!status && opts.untilInterrupted) exited.delete(id);
        if (exited.has(id) || !status) continue;
        exited.set(id, status.code);
        first ??= status.code;
        ctx.stderr(`${names.get(id)} exited with code ${status.code}\n`);
        if (opts.abortOnExit && !stopping) {
          ctx.stderr('Aborting on container exit...\n');
          void stopAll();
        }
      }
      if (exited.size === ids.length && (!opts.untilInterrupted || interrupts > 0)) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    await stopping;
    if (interrupts > 0) return 130;
    if (opts.exitCodeFrom !== undefined) {
      const id = ids.find((i) => reconciler.containers.record(i).labels[LABELS.service] === opts.exitCodeFrom);
      return id !== undefined ? exited.get(id) ?? 0 : 0;
    }
    return opts.abortOnExit ? first ?? 0 : 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
    stopFollowing.abort();
    await Promise.all(follows);
  }
}

/** `up --wait`: every container running, and healthy where it has a healthcheck. */
export async function waitForProject(reconciler: Reconciler, ids: readonly string[], timeoutMs: number | undefined, ctx: CommandContext): Promise<number> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  const health = reconciler.health;
  for (;;) {
    let pending = 0;
    for (const id of ids) {
      const exit = reconciler.containers.exitStatus(id);
      if (exit) {
        ctx.stderr(`error: container ${id} exited with code ${exit.code}\n`);
        return 1;
      }
      const h = health.status(id);
      if (h === 'unhealthy') {
        ctx.stderr(`error: container ${id} is unhealthy\n`);
        return 1;
      }
      if (h === 'starting' || (await reconciler.containers.status(id)) !== 'running') pending++;
    }
    if (pending === 0) return 0;
    if (Date.now() > deadline) {
      ctx.stderr(`error: ${pending} container(s) not running and healthy after ${(timeoutMs! / 1000).toFixed(0)}s\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
