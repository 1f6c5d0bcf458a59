/**
 * `stack stop [SERVICE...]`: stops the services' containers, dependents first; they stay,
 * for `start`.
 */
import type { Command, CommandContext, OptionValues } from '../command.js';
import { openProject } from '../project-scope.js';
import { progressFor } from '../render/up-progress.js';
import { seconds } from './up.js';

export const stopCommand: Command = {
  name: 'stop',
  summary: "Stop the services' containers",
  usage: 'stack stop [OPTIONS] [SERVICE...]',
  options: [{ name: 'timeout', short: 't', type: 'string', value: 'SECONDS', description: 'wait this long for each container to stop before SIGKILL' }],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const scope = openProject(ctx, services);
    const opts = options.timeout !== undefined ? { stopTimeoutMs: seconds(options.timeout as string, '--timeout') } : {};
    const progress = await progressFor(undefined, ctx.stderr, ctx.env);
    await scope.reconciler
      .withProjectLock(scope.project.name, () => scope.reconciler.stop(scope.project.name, scope.graph, services, opts, progress.onEvent))
      .finally(() => progress.finish());
    return 0;
  },
};
