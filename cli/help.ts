import type { Command, OptionSpec } from './command.js';
import { GLOBAL_OPTIONS } from './command.js';

export function mainHelp(commands: readonly Pick<Command, 'name' | 'summary'>[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'stack — run multi-service stacks from compose files, daemonless',
    '',
    'Usage: stack [OPTIONS] COMMAND [ARGS...]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    ...formatOptions(GLOBAL_OPTIONS),
    '',
    'Run `stack COMMAND --help` for the options of a command.',
    '',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  return [
    `Usage: ${c.usage}`,
    '',
    c.summary,
    '',
    'Options:',
    ...formatOptions(c.options),
    '',
    'Global options:',
    ...formatOptions(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}

function formatOptions(specs: readonly OptionSpec[]): string[] {
  const left = specs.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`);
  const width = Math.max(...left.map((l) => l.length));
  return specs.map((o, i) => `  ${left[i]!.padEnd(width)}  ${o.description}${o.multiple ? ' (repeatable)' : ''}`);
}
