/**
 * `stack up [SERVICE...]`: builds what is missing, creates/recreates/starts along the
 * dependency graph, then either returns (-d), waits for running/healthy (--wait), or stays
 * attached: every container's output prefixed with its name until they all exit or Ctrl-C
 * stops them, as `docker compose up` does.
 */
import { loadProject } from '../../engine/index.js';
import { StackError } from '../../engine/errors.js';
import type { DependencyGraph } from '../../engine/graph/graph.js';
import type { Project } from '../../engine/model/types.js';
import { Reconciler, type UpOptions } from '../../engine/reconcile/reconciler.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { pullOption } from '../options.js';
import { progressFor } from '../render/up-progress.js';
import { attachToProject, waitForProject } from './attached.js';
import { loadOptionsFrom } from './config.js';
import { enginePaths } from '../../engine/runtime/paths.js';

export const upCommand: Command = {
  name: 'up',
  summary: 'Create and start the services (build images when missing)',
  usage: 'stack up [OPTIONS] [SERVICE...]',
  options: [
    { name: 'detach', short: 'd', type: 'boolean', description: 'run in the background and return' },
    { name: 'build', type: 'boolean', description: 'build images before starting' },
    { name: 'no-build', type: 'boolean', description: 'do not build missing images' },
    { name: 'force-recreate', type: 'boolean', description: 'recreate containers even if unchanged' },
    { name: 'no-recreate', type: 'boolean', description: 'keep existing containers even if their configuration changed' },
    { name: 'remove-orphans', type: 'boolean', description: 'remove containers of services not in the stack file' },
    { name: 'no-deps', type: 'boolean', description: 'do not start the services the named ones depend on' },
    { name: 'scale', type: 'string', multiple: true, value: 'SERVICE=N', description: 'run N replicas of SERVICE' },
    { name: 'dry-run', type: 'boolean', description: 'print what would be done, and do nothing' },
    { name: 'no-start', type: 'boolean', description: 'create containers without starting them' },
    { name: 'wait', type: 'boolean', description: 'wait until services are running (healthy, where they have a healthcheck); implies -d' },
    { name: 'wait-timeout', type: 'string', value: 'SECONDS', description: 'give up waiting after this long' },
    { name: 'timeout', short: 't', type: 'string', value: 'SECONDS', description: 'stop timeout when recreating or stopping' },
    { name: 'abort-on-container-exit', type: 'boolean', description: 'stop everything when any container exits' },
    { name: 'exit-code-from', type: 'string', value: 'SERVICE', description: "exit with this service's exit code (implies --abort-on-container-exit)" },
    { name: 'progress', type: 'string', value: 'MODE', description: 'progress output: auto, tty, plain or quiet' },
    { name: 'watch', short: 'w', type: 'boolean', description: "follow the services' develop.watch rules while attached (see `stack watch`)" },
    { name: 'pull', type: 'string', value: 'POLICY', description: 'pull images: always, missing or never (over the services\' pull_policy)' },
    { name: 'quiet-pull', type: 'boolean', description: 'accepted for compatibility: pulls already show one line per service' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx, { services }));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    const pull = pullOption(options.pull);
    if (pull) for (const s of Object.values(project.services)) s.pull_policy = pull;
    const exitFrom = options['exit-code-from'] as string | undefined;
    if (exitFrom !== undefined && !project.services[exitFrom]) throw new StackError(`--exit-code-from: no such service: ${exitFrom}`, { kind: 'not-found' });
    const detach = options.detach === true || options.wait === true;
    if (detach && options.watch) throw new StackError('--watch needs an attached `up`', { hint: 'drop -d / --wait, or run `stack watch`' });
    if (detach && (options['abort-on-container-exit'] || exitFrom)) {
      throw new StackError('--abort-on-container-exit and --exit-code-from need an attached `up`', { hint: 'drop -d / --wait' });
    }
    const upOptions: UpOptions = {
      services,
      ...(options['no-deps'] && { noDeps: true }),
      ...(options.build ? { build: 'always' as const } : options['no-build'] ? { build: 'never' as const } : {}),
      ...(options['force-recreate'] && { forceRecreate: true }),
      ...(options['no-recreate'] && { noRecreate: true }),
      ...(options['remove-orphans'] && { removeOrphans: true }),
      ...(options['dry-run'] && { dryRun: true }),
      ...(options['no-start'] && { noStart: true }),
      scale: scales(options.scale as string[] | undefined, project.services),
      ...(options.timeout !== undefined && { stopTimeoutMs: seconds(options.timeout as string, '--timeout') }),
    };
    const progress = await progressFor(options.progress, ctx.stderr, ctx.env);
    const reconciler = new Reconciler(enginePaths(ctx.env));
    const interrupted = new AbortController();
    const onSigint = () => interrupted.abort();
    process.once('SIGINT', onSigint);
    try {
      let result;
      try {
        result = await reconciler.up(project, graph, { ...upOptions, signal: interrupted.signal }, progress.onEvent).finally(() => progress.finish());
      } catch (e) {
        if (!interrupted.signal.aborted || !(e instanceof StackError)) throw e;
        // Ctrl-C: what this run made for services that had not started is gone; compose's code
        ctx.stderr(`error: ${e.format()}\n`);
        return 130;
      }
      if (options['dry-run']) {
        for (const line of result.lines) ctx.stdout(`${line}\n`);
        return 0;
      }
      if (options.wait) {
        const timeoutMs = options['wait-timeout'] !== undefined ? seconds(options['wait-timeout'] as string, '--wait-timeout') : undefined;
        return await waitForProject(reconciler, result.containers, timeoutMs, ctx);
      }
      if (detach || options['no-start']) return 0;
      process.removeListener('SIGINT', onSigint);
      const watching = options.watch ? await startWatching(reconciler, project, graph, services, ctx) : undefined;
      try {
        return await attachToProject(reconciler, project, graph, result.containers, {
          abortOnExit: options['abort-on-container-exit'] === true || exitFrom !== undefined,
          ...(exitFrom !== undefined && { exitCodeFrom: exitFrom }),
          ...(upOptions.stopTimeoutMs !== undefined && { stopTimeoutMs: upOptions.stopTimeoutMs }),
          ...(watching && { untilInterrupted: true }),
        }, ctx);
      } finally {
        await watching?.close();
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};

/** `up --watch`: watch events go to the same output as the logs, between their lines. */
async function startWatching(reconciler: Reconciler, project: Project, graph: DependencyGraph, services: string[], ctx: CommandContext) {
  const [{ WatchSession }, { watchEventLine }, { watchedConfigFiles }] = await Promise.all([
    import('../../engine/watch/watch-session.js'),
    import('../render/watch-events.js'),
    import('./watch.js'),
  ]);
  return WatchSession.start({
    reconciler,
    model: { project, graph },
    services,
    reload: () => loadProject(loadOptionsFrom(ctx, { services })),
    configFiles: watchedConfigFiles(ctx, project),
    onEvent: (e) => ctx.stdout(`watch | ${watchEventLine(e)}\n`),
  });
}

function scales(items: readonly string[] | undefined, known: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items ?? []) {
    const m = /^([^=]+)=(\d+)$/.exec(item);
    if (!m) throw new StackError(`--scale ${item}: expected SERVICE=N`, { hint: 'for example --scale web=3' });
    if (!known[m[1]!]) throw new StackError(`--scale ${item}: no such service: ${m[1]}`, { kind: 'not-found' });
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new StackError(`${flag} ${text}: expected a number of seconds`, { hint: `for example ${flag} 10` });
  return n * 1000;
}
