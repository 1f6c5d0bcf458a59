/**
 * Argument parsing on node's util.parseArgs. Global options may come before or after the
 * command name (`stack -f a.yaml config` and `stack config -f a.yaml` both work).
 */
import { parseArgs } from 'node:util';
import { StackError } from '../engine/errors.js';
import { GLOBAL_OPTIONS, type OptionSpec, type OptionValues } from './command.js';

export interface SplitArgs {
  global: string[];
  command: string | undefined;
  rest: string[];
}

/** Separates leading global options from the command name and its arguments. */
export function splitCommand(argv: readonly string[]): SplitArgs {
  const global: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') return { global, command: arg, rest: argv.slice(i + 1) };
    global.push(arg);
    if (arg.includes('=')) continue;
    const spec = GLOBAL_OPTIONS.find((o) => arg === `--${o.name}` || (o.short && arg === `-${o.short}`));
    if (spec?.type === 'string' && i + 1 < argv.length) global.push(argv[++i]!);
  }
  return { global, command: undefined, rest: [] };
}

/**
 * Parses `args` against `specs`. With `interspersed: false` (cobra's SetInterspersed), the
 * options end at the first positional: in `stack run -e A=1 svc sh -c x`, `-c` is the
 * command's, not ours.
 */
export function parseOptions(
  args: readonly string[],
  specs: readonly OptionSpec[],
  commandName: string,
  opts: { interspersed?: boolean } = {},
): { values: OptionValues; positionals: string[] } {
  if (opts.interspersed === false) {
    const end = optionsEnd(args, specs);
    const parsed = parseOptions(args.slice(0, end), specs, commandName);
    const rest = args.slice(end);
    return { values: parsed.values, positionals: rest[0] === '--' ? rest.slice(1) : rest };
  }
  const options: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }> = {};
  for (const s of specs) {
    options[s.name] = { type: s.type, ...(s.short && { short: s.short }), ...(s.multiple && { multiple: true }) };
  }
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    return { values: values as OptionValues, positionals };
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new StackError(msg, { kind: 'invalid', hint: `run \`stack ${commandName ? `${commandName} ` : ''}--help\` for the options` });
  }
}

/** The index of the first argument that is not an option nor an option's value (or of `--`). */
function optionsEnd(args: readonly string[], specs: readonly OptionSpec[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') return i;
    if (arg.startsWith('--')) {
      if (!arg.includes('=') && specs.find((s) => s.name === arg.slice(2))?.type === 'string') i++;
      continue;
    }
    // a cluster of short flags: a string option takes the rest of it, or the next argument
    for (let j = 1; j < arg.length; j++) {
      if (specs.find((s) => s.short === arg[j])?.type !== 'string') continue;
      if (j === arg.length - 1) i++;
      break;
    }
  }
  return args.length;
}
