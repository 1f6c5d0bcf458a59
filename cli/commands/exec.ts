/**
 * `stack exec [OPTIONS] SERVICE COMMAND [ARGS...]`: runs a command in a running container
 * of the service (replica --index, 1 by default) with our stdin, stdout and stderr; the
 * command's exit code is ours, as in compose.
 */
import { StackError } from '../../engine/errors.js';
import { execInTerminal, execStreaming } from '../../engine/runtime/exec-stream.js';
import { LocalTerminal } from '../local-terminal.js';
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
    { name: 'no-tty', short: 'T', type: 'boolean', description: 'no pseudo-terminal (the default when stdin is not a terminal)' },
    { name: 'tty', short: 't', type: 'boolean', description: 'a pseudo-terminal (the default when stdin is one)' },
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
    if (options.tty === true && options['no-tty'] === true) throw new StackError('-t and -T contradict each other', { hint: 'keep one of them' });
    // compose: a terminal when our input is one, unless -T; -t asks for one even when piped
    const tty = options.detach !== true && options['no-tty'] !== true && (options.tty === true || process.stdin.isTTY === true);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(keyValues((options.env as string[] | undefined) ?? [], '-e'))) {
      const value = v ?? ctx.env[k];
      if (value !== undefined) env[k] = value;
    }
    const request = {
      args,
      env,
      ...(options.workdir !== undefined && { cwd: options.workdir as string }),
      ...(options.user !== undefined && { user: options.user as string }),
      ...(options.detach === true && { detach: true }),
    };
    if (!tty) return execStreaming(containers, scope.reconciler.paths, target, request);
    let terminal: LocalTerminal | undefined;
    try {
      return await execInTerminal(containers, scope.reconciler.paths, target, request, {
        stdin: process.stdin,
        stdout: process.stdout,
        ...(process.stdout.rows && process.stdout.columns && { size: { rows: process.stdout.rows, columns: process.stdout.columns } }),
        onAttached: (sessionDir) => {
          if (process.stdin.isTTY !== true) return;
          terminal = new LocalTerminal(sessionDir);
          terminal.enter();
        },
      });
    } finally {
      terminal?.leave();
    }
  },
};
