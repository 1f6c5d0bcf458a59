/**
 * `stack exec [OPTIONS] SERVICE COMMAND [ARGS...]`: runs a command in a running container
 * of the service (replica --index, 1 by default) with our stdin, stdout and stderr; the
 * command's exit code is ours, as in compose.
 */
import { StackError } from '../../engine/errors.js';
import { execStreaming } from '../../engine/runtime/exec-stream.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { keyValues } from '../options.js';
import { openProject, scopeContainers } from '../project-scope.js';

export const execCommand: Command = {
  name: 'exec',
  summary: 'Run a command in a running container of a service',
  usage: 'stack exec [OPTIONS] SERVICE COMMAND [ARGS...]',
  interspersed: false,
  options: [
    { name: 'env', short: 'e', type: 'string', multiple: true, value: 'KEY[=VALUE]', description: 'set an environment variable (KEY alone: its value here)' },
    { name: 'workdir', short: 'w', type: 'string', value: 'DIR', description: 'working directory of the command' },
    { name: 'user', short: 'u', type: 'string', value: 'USER[:GROUP]', description: "run as this user (the container's /etc/passwd)" },
    { name: 'index', type: 'string', value: 'N', description: 'replica N of the service (default: the first one running)' },
    { name: 'detach', short: 'd', type: 'boolean', description: 'run the command in the background' },
    { name: 'no-tty', short: 'T', type: 'boolean', description: 'no pseudo-terminal (stack has no terminal support yet: always the case)' },
    { name: 'tty', short: 't', type: 'boolean', description: 'accepted for compatibility; runs without a terminal' },
    { name: 'interactive', short: 'i', type: 'boolean', description: 'keep stdin open (the default)' },
  ],
  async run(ctx: CommandContext, options: OptionValues, positionals: string[]): Promise<number> {
    const [service, ...args] = positionals;
    if (service === undefined || args.length === 0) {
      throw new StackError('stack exec needs a service and a command', { hint: 'for example: stack exec web sh -c "ls /"' });
    }
    const index = options.index === undefined ? 1 : Number(options.index);
    if (!Number.isInteger(index) || index < 1) throw new StackError(`--index ${String(options.index)}: expected a container number (1, 2, ...)`);
    const scope = openProject(ctx, [service]);
    const containers = scope.reconciler.containers;
    const candidates = scopeContainers(scope, { oneOff: true, index: options.index === undefined ? undefined : index });
    let target: string | undefined;
    for (const rec of candidates) {
      if ((await containers.status(rec.id)) === 'running') {
        target = rec.id;
        break;
      }
    }
    if (target === undefined) {
      throw new StackError(options.index === undefined ? `service "${service}" is not running` : `service "${service}" is not running container #${index}`, {
        kind: 'conflict',
        hint: `start it: stack up -d ${service}`,
      });
    }
    // compose asks for a terminal when its input is one; we run without and say so once
    if (process.stdin.isTTY === true && options['no-tty'] !== true && options.detach !== true) {
      ctx.stderr('stack exec: no pseudo-terminal support yet: running without one (-T)\n');
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(keyValues((options.env as string[] | undefined) ?? [], '-e'))) {
      const value = v ?? ctx.env[k];
      if (value !== undefined) env[k] = value;
    }
    return execStreaming(containers, scope.reconciler.paths, target, {
      args,
      env,
      ...(options.workdir !== undefined && { cwd: options.workdir as string }),
      ...(options.user !== undefined && { user: options.user as string }),
      ...(options.detach === true && { detach: true }),
    });
  },
};
