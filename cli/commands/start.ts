/**
 * `stack start [SERVICE...]`: starts the services' existing containers, and those of the
 * services they depend on, dependencies first (compose's `start`; `up` creates them).
 */
import type { Command, CommandContext, OptionValues } from '../command.js';
import { openProject } from '../project-scope.js';
import { progressFor } from '../render/up-progress.js';

export const startCommand: Command = {
  name: 'start',
  summary: "Start the services' existing containers",
  usage: 'stack start [SERVICE...]',
  options: [],
  async run(ctx: CommandContext, _options: OptionValues, services: string[]): Promise<number> {
    const scope = openProject(ctx, services);
    const progress = await progressFor(undefined, ctx.stderr, ctx.env);
    await scope.reconciler.start(scope.project, scope.graph, services, progress.onEvent).finally(() => progress.finish());
    return 0;
  },
};
