/**
 * The `stack` command: parses arguments, runs one command, prints user errors without a
 * stack trace. Commands are imported on demand so `stack config` does not pay for ink.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../engine/program-files.js';
import { isUserError, StackError } from '../engine/errors.js';
import { parseOptions, splitCommand } from './args.js';
import { commandOptions, GLOBAL_OPTIONS, type Command, type CommandContext } from './command.js';
import { commandHelp, mainHelp } from './help.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  config: {
    summary: 'Validate the stack file(s) and print the normalized model',
    load: async () => (await import('./commands/config.js')).configCommand,
  },
  build: {
    summary: 'Build the images of services that have a build section',
    load: async () => (await import('./commands/build.js')).buildCommand,
  },
  image: {
    summary: 'Manage images: ls, pull, push, build, import, tag, rm, prune, save, load, inspect',
    load: async () => (await import('./commands/image.js')).imageCommand,
  },
  images: {
    summary: 'List local images',
    load: async () => (await import('./commands/image.js')).imagesCommand,
  },
  pull: {
    summary: "Pull the services' images",
    load: async () => (await import('./commands/pull.js')).pullCommand,
  },
  push: {
    summary: "Push the services' images",
    load: async () => (await import('./commands/pull.js')).pushCommand,
  },
  login: {
    summary: 'Log in to a registry',
    load: async () => (await import('./commands/login.js')).loginCommand,
  },
  logout: {
    summary: 'Log out from a registry',
    load: async () => (await import('./commands/login.js')).logoutCommand,
  },
  up: {
    summary: 'Create and start the services (build images when missing)',
    load: async () => (await import('./commands/up.js')).upCommand,
  },
  down: {
    summary: 'Stop and remove containers and networks (-v: volumes too)',
    load: async () => (await import('./commands/down.js')).downCommand,
  },
  ps: {
    summary: "List the project's containers",
    load: async () => (await import('./commands/ps.js')).psCommand,
  },
  run: {
    summary: 'Run a one-off command in a new container of a service',
    load: async () => (await import('./commands/run.js')).runCommand,
  },
  logs: {
    summary: "Show the output of the services' containers",
    load: async () => (await import('./commands/logs.js')).logsCommand,
  },
  exec: {
    summary: 'Run a command in a running container of a service',
    load: async () => (await import('./commands/exec.js')).execCommand,
  },
  start: {
    summary: "Start the services' existing containers",
    load: async () => (await import('./commands/start.js')).startCommand,
  },
  stop: {
    summary: "Stop the services' containers",
    load: async () => (await import('./commands/stop.js')).stopCommand,
  },
  restart: {
    summary: "Restart the services' containers",
    load: async () => (await import('./commands/restart.js')).restartCommand,
  },
  kill: {
    summary: "Send a signal to the services' running containers",
    load: async () => (await import('./commands/kill.js')).killCommand,
  },
  rm: {
    summary: "Remove the services' stopped containers",
    load: async () => (await import('./commands/rm.js')).rmCommand,
  },
  top: {
    summary: "Show the processes running in the services' containers",
    load: async () => (await import('./commands/top.js')).topCommand,
  },
  stats: {
    summary: "Show the resource use of the services' containers",
    load: async () => (await import('./commands/stats.js')).statsCommand,
  },
  watch: {
    summary: "Sync, rebuild or restart services as their develop.watch paths change",
    load: async () => (await import('./commands/watch.js')).watchCommand,
  },
  kube: {
    summary: 'Run the stack on Kubernetes: generate manifests, apply them, take them down',
    load: async () => (await import('./commands/kube.js')).kubeCommand,
  },
  ls: {
    summary: 'List the projects that have containers',
    load: async () => (await import('./commands/ls.js')).lsCommand,
  },
};

export async function main(argv: readonly string[], ctxBase: Omit<CommandContext, 'global'>): Promise<number> {
  let debug = argv.includes('--debug') || ctxBase.env.STACK_DEBUG === '1';
  try {
    if (argv[0] === '--version' || argv[0] === '-v') return printVersion(ctxBase);
    const split = splitCommand(argv);
    const global = parseOptions(split.global, GLOBAL_OPTIONS, '');
    debug ||= global.values.debug === true;
    if (split.command === undefined) {
      ctxBase.stdout(mainHelp(commandList()));
      return global.values.help ? 0 : 2;
    }
    if (split.command === 'help') {
      const topic = split.rest[0];
      ctxBase.stdout(topic && COMMANDS[topic] ? commandHelp(await COMMANDS[topic].load()) : mainHelp(commandList()));
      return 0;
    }
    if (split.command === 'version') return printVersion(ctxBase);
    const entry = COMMANDS[split.command];
    if (!entry) {
      throw new StackError(`unknown command "${split.command}"`, { hint: `commands: ${Object.keys(COMMANDS).join(', ')}; run \`stack --help\`` });
    }
    const command = await entry.load();
    const parsed = parseOptions(split.rest, commandOptions(command), command.name, { interspersed: command.interspersed !== false });
    const { values } = parsed;
    debug ||= values.debug === true;
    if (values.help || global.values.help) {
      ctxBase.stdout(commandHelp(command));
      return 0;
    }
    // global options given after the command add to those given before it
    const merged = { ...global.values };
    for (const o of GLOBAL_OPTIONS) {
      const v = values[o.name];
      if (v === undefined) continue;
      merged[o.name] = o.multiple ? [...((merged[o.name] as string[] | undefined) ?? []), ...(v as string[])] : v;
    }
    return await command.run({ ...ctxBase, global: merged }, values, parsed.positionals);
  } catch (e) {
    if (isUserError(e)) {
      const text = e.format();
      ctxBase.stderr(`${text.split('\n').map((l, i) => (i === 0 || !l.startsWith('  ') ? `error: ${l}` : l)).join('\n')}\n`);
      if (debug && e.stack) ctxBase.stderr(`${e.stack}\n`);
      return 1;
    }
    const err = e as Error;
    ctxBase.stderr(`internal error: ${err.message}\n${debug ? `${err.stack}\n` : 'run again with --debug for details, and report it\n'}`);
    return 70;
  }
}

function commandList(): { name: string; summary: string }[] {
  return Object.entries(COMMANDS).map(([name, c]) => ({ name, summary: c.summary }));
}

function printVersion(ctx: Omit<CommandContext, 'global'>): number {
  const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  ctx.stdout(`stack ${pkg.version}\n`);
  return 0;
}
