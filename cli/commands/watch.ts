/**
 * `stack watch [SERVICE...]`: starts what is not running (an `up` without attaching, as
 * compose does), then follows the services' develop.watch rules and prints watch events only,
 * until Ctrl-C (130) or SIGTERM (0).
 */
import path from 'node:path';
import { loadProject } from '../../engine/index.js';
import { Reconciler } from '../../engine/reconcile/reconciler.js';
import { enginePaths } from '../../engine/runtime/paths.js';
import { WatchSession, type LoadedModel } from '../../engine/watch/watch-session.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { progressFor } from '../render/up-progress.js';
import { watchEventLine } from '../render/watch-events.js';
import { loadOptionsFrom } from './config.js';

export const watchCommand: Command = {
  name: 'watch',
  summary: "Sync, rebuild or restart services as their develop.watch paths change",
  usage: 'stack watch [OPTIONS] [SERVICE...]',
  options: [
    { name: 'no-up', type: 'boolean', description: 'do not start the services first' },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const load = (): LoadedModel => loadProject(loadOptionsFrom(ctx, { services }));
    const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx, { services }));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    graph.select(services);
    const reconciler = new Reconciler(enginePaths(ctx.env));
    if (options['no-up'] !== true) {
      const progress = await progressFor(undefined, ctx.stderr, ctx.env);
      await reconciler.up(project, graph, { services }, progress.onEvent).finally(() => progress.finish());
    }
    const quiet = options.quiet === true;
    const session = await WatchSession.start({
      reconciler,
      model: { project, graph },
      services,
      reload: load,
      configFiles: watchedConfigFiles(ctx, project),
      onEvent: (e) => {
        if (!quiet || e.kind === 'error') ctx.stdout(`${watchEventLine(e)}\n`);
      },
    });
    return untilSignal(session);
  },
};

/** The stack files and the env files the model was interpolated with: a change to one reloads it. */
export function watchedConfigFiles(ctx: CommandContext, project: { config_files: string[]; working_dir: string }): string[] {
  const envFiles = (ctx.global['env-file'] as string[] | undefined) ?? [];
  const env = envFiles.length > 0 ? envFiles.map((f) => path.resolve(ctx.cwd, f)) : [path.join(project.working_dir, '.env')];
  return [...project.config_files.filter((f) => f !== '-'), ...env];
}

/** Waits for Ctrl-C (130) or SIGTERM (0), then stops watching. */
export function untilSignal(session: WatchSession): Promise<number> {
  return new Promise((resolve) => {
    const end = (code: number) => () => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      void session.close().finally(() => resolve(code));
    };
    const onInt = end(130);
    const onTerm = end(0);
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}
