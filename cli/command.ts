/**
 * A command is a pair: its options (for parsing and --help) and its handler, as in
 * devcontainers/cli. Handlers get parsed values and return an exit code; they print
 * through the context so tests can capture output.
 */

export interface OptionSpec {
  name: string;
  short?: string;
  type: 'boolean' | 'string';
  multiple?: boolean;
  /** placeholder in help, e.g. FILE */
  value?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** options common to all commands (-f, -p, --profile, ...) */
  global: OptionValues;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: readonly OptionSpec[];
  /** false: options end at the first positional, the rest is a command line to pass on (`stack run`) */
  interspersed?: boolean;
  run(ctx: CommandContext, options: OptionValues, positionals: string[]): Promise<number>;
}

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'file', short: 'f', type: 'string', multiple: true, value: 'FILE', description: 'stack file(s), merged in order (default: stack.yaml, compose.yaml, docker-compose.yml, ...)' },
  { name: 'project-name', short: 'p', type: 'string', value: 'NAME', description: 'project name (default: `name:`, else the directory name)' },
  { name: 'project-directory', type: 'string', value: 'DIR', description: 'base for relative paths (default: the first file\'s directory)' },
  { name: 'env-file', type: 'string', multiple: true, value: 'FILE', description: 'variables for interpolation, instead of the project\'s .env' },
  { name: 'profile', type: 'string', multiple: true, value: 'NAME', description: 'enable services of this profile' },
  { name: 'debug', type: 'boolean', description: 'show internal details (stack traces) on errors' },
  { name: 'help', short: 'h', type: 'boolean', description: 'show help' },
];

/**
 * The options a command parses: its own, then the global ones; a global short flag the
 * command uses for itself is left to the command (`stack run -p` publishes, as compose's).
 */
export function commandOptions(command: Pick<Command, 'options'>): OptionSpec[] {
  const taken = new Set(command.options.map((o) => o.short).filter((s) => s !== undefined));
  return [...command.options, ...GLOBAL_OPTIONS.map(({ short, ...o }) => (short !== undefined && !taken.has(short) ? { ...o, short } : o))];
}
