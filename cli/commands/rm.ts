/**
 * `stack rm [SERVICE...]`: removes the services' stopped containers (-s stops them first)
 * with their network endpoints, and with -v their anonymous volumes. As in compose, running
 * containers are left alone, and without -f the removal is confirmed on standard input
 * first: a pipe with no answer removes nothing.
 */
import type { Command, CommandContext, OptionValues } from '../command.js';
import { confirm } from '../prompt.js';
import { openProject, scopeContainers } from '../project-scope.js';
import { progressFor } from '../render/up-progress.js';

export const rmCommand: Command = {
  name: 'rm',
  summary: "Remove the services' stopped containers",
  usage: 'stack rm [OPTIONS] [SERVICE...]',
  options: [
    { name: 'force', short: 'f', type: 'boolean', description: 'do not ask for confirmation' },
    { name: 'stop', short: 's', type: 'boolean', description: 'stop the containers first' },
    { name: 'volumes', short: 'v', type: 'boolean', description: 'remove their anonymous volumes too' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const scope = openProject(ctx, services);
    const { reconciler, project } = scope;
    if (options.stop === true) {
      const progress = await progressFor(undefined, ctx.stderr, ctx.env);
      await reconciler.withProjectLock(project.name, () => reconciler.stop(project.name, scope.graph, services, {}, progress.onEvent)).finally(() => progress.finish());
    }
    const stopped = [];
    for (const rec of scopeContainers(scope)) if ((await reconciler.containers.status(rec.id)) !== 'running') stopped.push(rec);
    if (stopped.length === 0) {
      ctx.stderr('No stopped containers\n');
      return 0;
    }
    const message = `Going to remove ${stopped.map((r) => r.name).join(', ')}`;
    if (options.force === true) ctx.stdout(`${message}\n`);
    else if (!(await confirm(ctx, `${message}\nAre you sure? [yN] `))) return 0;
    const progress = await progressFor(undefined, ctx.stderr, ctx.env);
    await reconciler.remove(project.name, stopped.map((r) => r.id), { volumes: options.volumes === true }, progress.onEvent).finally(() => progress.finish());
    return 0;
  },
};
