/**
 * `stack restart [SERVICE...]`: stops and starts the services' containers again, in
 * dependency order, with the services that depend on them with `restart: true`.
 */
import type { Command, CommandContext, OptionValues } from '../command.js';
import { openProject } from '../project-scope.js';
import { progressFor } from '../render/up-progress.js';
import { seconds } from './up.js';

export const restartCommand: Command = {
  name: 'restart',
  summary: "Restart the services' containers",
  usage: 'stack restart [OPTIONS] [SERVICE...]',
  options: [{ name: 'timeout', short: 't', type: 'string', value: 'SECONDS', description: 'wait this long for each container to stop before SIGKILL' }],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const scope = openProject(ctx, services);
    const opts = options.timeout !== undefined ? { stopTimeoutMs: seconds(options.timeout as string, '--timeout') } : {};
    const progress = await progressFor(undefined, ctx.stderr, ctx.env);
    await scope.reconciler.restart(scope.project, scope.graph, services, opts, progress.onEvent).finally(() => progress.finish());
    return 0;
  },
};
