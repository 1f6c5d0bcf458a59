/**
 * `stack down`: stops and removes the project's containers (dependents first) and
 * networks; with -v its volumes, with --rmi its images.
 */
import { loadProject } from '../../engine/index.js';
import { StackError } from '../../engine/errors.js';
import { Reconciler } from '../../engine/reconcile/reconciler.js';
import { enginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { progressFor } from '../render/up-progress.js';
import { loadOptionsFrom } from './config.js';
import { seconds } from './up.js';

export const downCommand: Command = {
  name: 'down',
  summary: 'Stop and remove containers and networks (-v: volumes too)',
  usage: 'stack down [OPTIONS]',
  options: [
    { name: 'volumes', short: 'v', type: 'boolean', description: "remove the project's named and anonymous volumes" },
    { name: 'rmi', type: 'string', value: 'TYPE', description: 'remove images: local (built ones without an image name) or all' },
    { name: 'remove-orphans', type: 'boolean', description: 'remove containers of services not in the stack file' },
    { name: 'timeout', short: 't', type: 'string', value: 'SECONDS', description: 'stop timeout before SIGKILL' },
    { name: 'progress', type: 'string', value: 'MODE', description: 'progress output: auto, plain or quiet' },
  ],
  async run(ctx: CommandContext, options: OptionValues, positionals: string[]): Promise<number> {
    if (positionals.length > 0) throw new StackError('stack down takes no service names', { hint: 'use `stack stop SERVICE` and `stack rm SERVICE` for single services' });
    const rmi = options.rmi as string | undefined;
    if (rmi !== undefined && rmi !== 'local' && rmi !== 'all') throw new StackError(`--rmi ${rmi}: expected local or all`);
    const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    const progress = await progressFor(options.progress, ctx.stderr, ctx.env);
    await new Reconciler(enginePaths(ctx.env)).down(project, graph, {
      ...(options.volumes && { volumes: true }),
      ...(rmi !== undefined && { rmi: rmi as 'local' | 'all' }),
      ...(options['remove-orphans'] && { removeOrphans: true }),
      ...(options.timeout !== undefined && { stopTimeoutMs: seconds(options.timeout as string, '--timeout') }),
    }, progress.onEvent).finally(() => progress.finish());
    return 0;
  },
};
