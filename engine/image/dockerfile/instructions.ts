/**
 * The typed Dockerfile: stages of instructions with their flags checked, after BuildKit's
 * frontend/dockerfile/instructions. Values stay as written (variables unexpanded) because
 * what they expand to depends on the build; see expand-instruction.ts.
 */

import { ErrorList, StackError, type Location } from '../../errors.js';
import { parseDuration } from '../../model/units.js';
import { didYouMean } from '../../validate/suggest.js';
import { instructionError } from './dockerfile-error.js';
import { expandWord, type EscapeChar } from './expand.js';
import { splitMountFields } from './mount-fields.js';
import { parseHeredocWord, parseRaw, type Heredoc, type RawNode } from './parse.js';

export type { Heredoc } from './parse.js';

/** Flags as written: booleans for switches, arrays for the repeatable ones (--mount, --exclude, --device). */
export type Flags = Record<string, string | boolean | string[]>;

interface Base<K extends string> {
  kind: K;
  /** the keyword's position */
  location: Location;
  endLine: number;
  /** the instruction as written, continuation lines joined and heredoc bodies left out */
  original: string;
  flags: Flags;
}

export type Command = { form: 'shell'; text: string } | { form: 'exec'; argv: string[] };

export interface KeyValue {
  key: string;
  value: string;
}

export interface ArgEntry {
  name: string;
  default?: string;
}

export interface FromInstruction extends Base<'FROM'> {
  image: string;
  /** lower-cased, as stage names are case-insensitive */
  stageName?: string;
  platform?: string;
}

export interface RunInstruction extends Base<'RUN'> {
  command: Command;
  heredocs: Heredoc[];
  /** --mount values as written (CSV records; see mount-fields.ts) */
  mounts: string[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
  devices: string[];
}

export interface CmdInstruction extends Base<'CMD'> {
  command: Command;
}

export interface EntrypointInstruction extends Base<'ENTRYPOINT'> {
  command: Command;
}

export interface ShellInstruction extends Base<'SHELL'> {
  argv: string[];
}

export interface EnvInstruction extends Base<'ENV'> {
  pairs: KeyValue[];
}

export interface LabelInstruction extends Base<'LABEL'> {
  pairs: KeyValue[];
}

export interface ArgInstruction extends Base<'ARG'> {
  args: ArgEntry[];
}

export interface MaintainerInstruction extends Base<'MAINTAINER'> {
  name: string;
}

export interface ExposeInstruction extends Base<'EXPOSE'> {
  ports: string[];
}

export interface WorkdirInstruction extends Base<'WORKDIR'> {
  path: string;
}

export interface UserInstruction extends Base<'USER'> {
  user: string;
}

export interface VolumeInstruction extends Base<'VOLUME'> {
  paths: string[];
}

export interface CopyInstruction extends Base<'COPY'> {
  /** context (or --from) paths; heredoc sources are in `heredocs` */
  sources: string[];
  dest: string;
  /** inline files, in source order, each named by its delimiter */
  heredocs: Heredoc[];
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  excludes: string[];
}

export interface AddInstruction extends Base<'ADD'> {
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  chown?: string;
  chmod?: string;
  link: boolean;
  keepGitDir?: boolean;
  checksum?: string;
  unpack?: boolean;
  excludes: string[];
}

export interface StopsignalInstruction extends Base<'STOPSIGNAL'> {
  signal: string;
}

export type HealthcheckInstruction = Base<'HEALTHCHECK'> &
  (
    | { none: true }
    | {
        none: false;
        command: Command;
        /** milliseconds; 0 means the default */
        interval?: number;
        timeout?: number;
        startPeriod?: number;
        startInterval?: number;
        retries?: number;
      }
  );

export interface OnbuildInstruction extends Base<'ONBUILD'> {
  inner: Instruction;
  /** the trigger as stored in the image config (heredoc bodies included), re-parsed by builds FROM the image */
  expression: string;
}

/** Everything that may follow FROM in a stage. */
export type Instruction =
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | WorkdirInstruction
  | UserInstruction
  | VolumeInstruction
  | CopyInstruction
  | AddInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export type AnyInstruction = FromInstruction | Instruction;

export interface Stage {
  index: number;
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  escape: EscapeChar;
  syntax?: string;
  /** ARGs before the first FROM: usable in FROM lines, and in a stage that declares them again */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

export const INSTRUCTION_KEYWORDS = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;

const USAGE: Record<string, string> = {
  ADD: 'ADD [--chown=<user>] [--chmod=<mode>] [--checksum=<digest>] <src>... <dest>',
  ARG: 'ARG <name>[=<default>] ...',
  CMD: 'CMD ["executable", "arg"] or CMD command arg',
  COPY: 'COPY [--from=<stage>] [--chown=<user>] [--chmod=<mode>] <src>... <dest>',
  ENTRYPOINT: 'ENTRYPOINT ["executable", "arg"] or ENTRYPOINT command arg',
  ENV: 'ENV <key>=<value> ...',
  EXPOSE: 'EXPOSE <port>[/<protocol>] ...',
  FROM: 'FROM [--platform=<platform>] <image> [AS <name>]',
  HEALTHCHECK: 'HEALTHCHECK [--interval=30s] [--timeout=30s] [--start-period=0s] [--retries=3] CMD <command>, or HEALTHCHECK NONE',
  LABEL: 'LABEL <key>=<value> ...',
  MAINTAINER: 'MAINTAINER <name>',
  ONBUILD: 'ONBUILD <instruction>',
  RUN: 'RUN [--mount=...] [--network=default|none|host] <command>',
  SHELL: 'SHELL ["executable", "parameters"]',
  STOPSIGNAL: 'STOPSIGNAL <signal>',
  USER: 'USER <user>[:<group>]',
  VOLUME: 'VOLUME ["/data"] or VOLUME /data ...',
  WORKDIR: 'WORKDIR <path>',
};

/** Parses and checks a Dockerfile. Throws StackError (or StackErrors when several instructions are wrong). */
export function parseDockerfile(text: string, file: string): Dockerfile {
  const raw = parseRaw(text, file);
  const errors = new ErrorList();
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, FromInstruction>();

  for (const node of raw.nodes) {
    let instr: AnyInstruction;
    try {
      instr = convert(node);
    } catch (e) {
      if (!(e instanceof StackError)) throw e;
      errors.add(e);
      continue;
    }
    if (instr.kind === 'FROM') {
      const earlier = instr.stageName === undefined ? undefined : names.get(instr.stageName);
      if (earlier) {
        errors.add(
          instructionError(
            `duplicate stage name "${instr.stageName}"`,
            instr,
            `the name is already used by the stage on line ${earlier.location.line}; stage names must be unique`,
          ),
        );
      } else if (instr.stageName !== undefined) {
        names.set(instr.stageName, instr);
      }
      stages.push({ index: stages.length, ...(instr.stageName === undefined ? {} : { name: instr.stageName }), from: instr, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(instr);
    } else if (instr.kind === 'ARG') {
      globalArgs.push(instr);
    } else {
      errors.add(instructionError(`${instr.kind} before the first FROM`, instr, 'only ARG may come before the first FROM; start the stage with FROM <image>'));
    }
  }
  errors.throwIfAny();
  if (stages.length === 0) {
    throw new StackError('the Dockerfile has no FROM instruction', {
      kind: 'invalid',
      location: { file, line: 1, col: 1 },
      hint: 'a Dockerfile starts with FROM <image>',
    });
  }
  return { file, escape: raw.escape, ...(raw.syntax === undefined ? {} : { syntax: raw.syntax }), globalArgs, stages };
}

/** The stage `target` names: a stage name (any case) or a stage index, as COPY --from and --target accept. */
export function findStage(df: Dockerfile, target: string): Stage {
  const stage = /^\d+$/.test(target) ? df.stages[Number(target)] : df.stages.find((s) => s.name === target.toLowerCase());
  if (stage) return stage;
  const named = df.stages.flatMap((s) => (s.name === undefined ? [] : [s.name]));
  const listing = `the stages are ${[...named.map((n) => `"${n}"`), `0-${df.stages.length - 1} by index`].join(', ')}`;
  throw new StackError(`target stage "${target}" could not be found in ${df.file}`, {
    kind: 'not-found',
    hint: didYouMean(target, named) ?? listing,
  });
}

type FlagType = 'bool' | 'string' | 'strings';

interface Conversion {
  node: RawNode;
  kind: string;
  flags: Flags;
  usage: string;
}

function convert(node: RawNode): AnyInstruction {
  const kind = node.keyword.toUpperCase();
  const build = CONVERTERS[kind];
  if (!build) {
    const hint = didYouMean(kind, INSTRUCTION_KEYWORDS) ?? `the instructions are ${INSTRUCTION_KEYWORDS.join(', ')}`;
    throw instructionError(`unknown instruction: ${node.keyword}`, node, hint);
  }
  return build(node, kind);
}

type Converter = (node: RawNode, kind: string) => AnyInstruction;

/** Checks the flags against what the instruction accepts, as BuildKit's BFlags.Parse. */
function parseFlags(node: RawNode, kind: string, spec: Record<string, FlagType>): Conversion {
  const flags: Flags = {};
  const usage = USAGE[kind]!;
  for (const word of node.flags) {
    const eq = word.indexOf('=');
    const written = eq < 0 ? word : word.slice(0, eq);
    const name = written.slice(2);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    const type = spec[name];
    if (!type) {
      const known = Object.keys(spec).map((f) => `--${f}`);
      const hint = didYouMean(written, known) ?? (known.length ? `${kind} accepts ${known.join(', ')}` : `${kind} takes no flags`);
      throw instructionError(`unknown flag: ${written}`, node, hint);
    }
    if (type !== 'strings' && name in flags) throw instructionError(`duplicate flag specified: ${written}`, node, usage);
    if (type === 'bool') {
      if (value === '') throw instructionError(`missing a value on flag: ${written}`, node, `write ${written} or ${written}=false`);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') {
        throw instructionError(`expecting boolean value for flag ${written}, not: ${value}`, node, `write ${written} or ${written}=false`);
      }
      flags[name] = v === 'true';
    } else {
      if (value === undefined) throw instructionError(`missing a value on flag: ${written}`, node, `write ${written}=<value>`);
      if (type === 'string') flags[name] = value;
      else flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    }
  }
  return { node, kind, flags, usage };
}

function base<K extends string>(c: Conversion, kind: K): Base<K> {
  return { kind, location: c.node.location, endLine: c.node.endLine, original: c.node.original, flags: c.flags };
}

function str(c: Conversion, name: string): string | undefined {
  const v = c.flags[name];
  return typeof v === 'string' ? v : undefined;
}

function list(c: Conversion, name: string): string[] {
  const v = c.flags[name];
  return Array.isArray(v) ? v : [];
}

function fail(c: Conversion, message: string, hint: string = c.usage): never {
  throw instructionError(message, c.node, hint);
}

function exactlyOne(c: Conversion): string {
  if (c.node.args.length !== 1) fail(c, `${c.kind} requires exactly one argument`);
  return c.node.args[0]!;
}

function atLeastOne(c: Conversion): string[] {
  if (c.node.args.length === 0) fail(c, `${c.kind} requires at least one argument`);
  return c.node.args;
}

function command(node: RawNode): Command {
  return node.json ? { form: 'exec', argv: node.args } : { form: 'shell', text: node.args.join(' ') };
}

function pairs(c: Conversion): KeyValue[] {
  const raw = c.node.pairs ?? [];
  if (raw.length === 0) fail(c, `${c.kind} requires at least one argument`);
  return raw.map(({ key, value }) => {
    if (key === '') fail(c, `${c.kind} names can not be blank`);
    return { key, value };
  });
}

/** Splits COPY/ADD arguments into paths, heredoc sources and the destination. */
function sourcesAndDest(c: Conversion): { sources: string[]; dest: string; heredocs: Heredoc[] } {
  const args = c.node.args;
  if (args.length < 2) {
    fail(c, `${c.kind} requires at least two arguments, but only ${args.length === 1 ? 'one was' : 'none were'} provided. Destination could not be determined`);
  }
  const dest = args[args.length - 1]!;
  if (parseHeredocWord(dest)) fail(c, `${c.kind} cannot accept a heredoc as a destination`, `write the heredoc as a source: ${c.kind} <<EOF /path/to/file`);
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const src of args.slice(0, -1)) {
    const doc = parseHeredocWord(src);
    if (doc) heredocs.push(c.node.heredocs.find((h) => h.name === doc.name) ?? { ...doc, content: '' });
    else sources.push(src);
  }
  return { sources, dest, heredocs };
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

const CONVERTERS: Record<string, Converter> = {
  FROM(node, kind) {
    const c = parseFlags(node, kind, { platform: 'string' });
    const args = node.args;
    let stageName: string | undefined;
    if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
      stageName = args[2]!.toLowerCase();
      if (!STAGE_NAME.test(stageName)) {
        fail(
          c,
          `invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`,
          'stage names are letters, digits, "-", "_" and ".", starting with a letter',
        );
      }
    } else if (args.length !== 1) {
      fail(c, 'FROM requires either one or three arguments');
    }
    const platform = str(c, 'platform');
    return { ...base(c, 'FROM'), image: args[0]!, ...(stageName === undefined ? {} : { stageName }), ...(platform === undefined ? {} : { platform }) };
  },

  RUN(node, kind) {
    const c = parseFlags(node, kind, { mount: 'strings', network: 'string', security: 'string', device: 'strings' });
    if (node.args.length === 0) fail(c, 'RUN requires at least one argument');
    const network = str(c, 'network');
    if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
      fail(c, `invalid network mode "${network}"`, didYouMean(network, ['default', 'none', 'host']) ?? 'use --network=default, none or host');
    }
    const security = str(c, 'security');
    if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
      fail(c, `security "${security}" is not valid`, 'use --security=sandbox or insecure');
    }
    const mounts = list(c, 'mount');
    for (const mount of mounts) checkMount(c, mount);
    return {
      ...base(c, 'RUN'),
      command: command(node),
      heredocs: node.heredocs,
      mounts,
      ...(network === undefined ? {} : { network }),
      ...(security === undefined ? {} : { security }),
      devices: list(c, 'device'),
    };
  },

  CMD(node, kind) {
    const c = parseFlags(node, kind, {});
    // a bare CMD clears the command, like CMD []
    return { ...base(c, 'CMD'), command: node.args.length === 0 ? { form: 'exec', argv: [] } : command(node) };
  },

  ENTRYPOINT(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'ENTRYPOINT'), command: node.args.length === 0 ? { form: 'exec', argv: [] } : command(node) };
  },

  SHELL(node, kind) {
    const c = parseFlags(node, kind, {});
    if (node.args.length === 0) fail(c, 'SHELL requires at least one argument');
    if (!node.json) fail(c, 'SHELL requires the arguments to be in JSON form', `write it as a JSON array, e.g. SHELL ["/bin/bash", "-c"]`);
    return { ...base(c, 'SHELL'), argv: node.args };
  },

  ENV(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'ENV'), pairs: pairs(c) };
  },

  LABEL(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'LABEL'), pairs: pairs(c) };
  },

  ARG(node, kind) {
    const c = parseFlags(node, kind, {});
    const args = atLeastOne(c).map((word): ArgEntry => {
      const eq = word.indexOf('=');
      if (eq < 0) return { name: word };
      if (eq === 0) fail(c, 'ARG names can not be blank');
      return { name: word.slice(0, eq), default: word.slice(eq + 1) };
    });
    return { ...base(c, 'ARG'), args };
  },

  MAINTAINER(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'MAINTAINER'), name: exactlyOne(c) };
  },

  EXPOSE(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'EXPOSE'), ports: atLeastOne(c) };
  },

  WORKDIR(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'WORKDIR'), path: exactlyOne(c) };
  },

  USER(node, kind) {
    const c = parseFlags(node, kind, {});
    return { ...base(c, 'USER'), user: exactlyOne(c) };
  },

  VOLUME(node, kind) {
    const c = parseFlags(node, kind, {});
    const paths = atLeastOne(c).map((p) => {
      const path = p.trim();
      if (path === '') fail(c, 'VOLUME specified can not be an empty string');
      return path;
    });
    return { ...base(c, 'VOLUME'), paths };
  },

  COPY(node, kind) {
    const c = parseFlags(node, kind, { chown: 'string', from: 'string', chmod: 'string', link: 'bool', exclude: 'strings', parents: 'bool' });
    const from = str(c, 'from');
    if (from !== undefined) {
      let literal: string | undefined;
      try {
        literal = expandWord(from, () => undefined);
      } catch {
        literal = undefined;
      }
      if (literal !== from) {
        fail(c, 'variable expansion is not supported for --from', 'define a stage with FROM using an ARG from the global scope, and copy from that stage');
      }
    }
    return {
      ...base(c, 'COPY'),
      ...sourcesAndDest(c),
      ...optional({ from, chown: str(c, 'chown'), chmod: str(c, 'chmod') }),
      link: c.flags.link === true,
      parents: c.flags.parents === true,
      excludes: list(c, 'exclude'),
    };
  },

  ADD(node, kind) {
    const c = parseFlags(node, kind, {
      chown: 'string',
      chmod: 'string',
      link: 'bool',
      'keep-git-dir': 'bool',
      checksum: 'string',
      unpack: 'bool',
      exclude: 'strings',
    });
    const keepGitDir = c.flags['keep-git-dir'];
    const unpack = c.flags.unpack;
    return {
      ...base(c, 'ADD'),
      ...sourcesAndDest(c),
      ...optional({ chown: str(c, 'chown'), chmod: str(c, 'chmod'), checksum: str(c, 'checksum') }),
      link: c.flags.link === true,
      ...(typeof keepGitDir === 'boolean' ? { keepGitDir } : {}),
      ...(typeof unpack === 'boolean' ? { unpack } : {}),
      excludes: list(c, 'exclude'),
    };
  },

  STOPSIGNAL(node, kind) {
    // BuildKit never checks STOPSIGNAL's flags; neither do we
    const c: Conversion = { node, kind, flags: {}, usage: USAGE[kind]! };
    return { ...base(c, 'STOPSIGNAL'), signal: exactlyOne(c) };
  },

  HEALTHCHECK(node, kind) {
    if (node.args.length === 0) fail({ node, kind, flags: {}, usage: USAGE[kind]! }, 'HEALTHCHECK requires at least one argument');
    const type = node.args[0]!.toUpperCase();
    if (type === 'NONE') {
      // as in BuildKit, flags on HEALTHCHECK NONE are not looked at
      const c: Conversion = { node, kind, flags: {}, usage: USAGE[kind]! };
      if (node.args.length > 1) fail(c, 'HEALTHCHECK NONE takes no arguments');
      return { ...base(c, 'HEALTHCHECK'), none: true };
    }
    const c = parseFlags(node, kind, { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' });
    if (type !== 'CMD') fail(c, `Unknown type "${type}" in HEALTHCHECK (try CMD)`);
    const args = node.args.slice(1);
    if (args.length === 0) fail(c, 'Missing command after HEALTHCHECK CMD');
    const retries = str(c, 'retries');
    let retryCount: number | undefined;
    if (retries !== undefined) {
      if (!/^[+-]?\d+$/.test(retries) || Math.abs(Number(retries)) > 2 ** 31 - 1) fail(c, `invalid --retries value "${retries}"`, 'retries is a whole number');
      retryCount = Number(retries);
      if (retryCount < 0) fail(c, `--retries cannot be negative (${retries})`, 'retries is a whole number');
    }
    return {
      ...base(c, 'HEALTHCHECK'),
      none: false,
      command: node.json ? { form: 'exec', argv: args } : { form: 'shell', text: args.join(' ') },
      ...optional({
        interval: interval(c, 'interval'),
        timeout: interval(c, 'timeout'),
        startPeriod: interval(c, 'start-period'),
        startInterval: interval(c, 'start-interval'),
        retries: retryCount,
      }),
    };
  },

  ONBUILD(node, kind) {
    const c = parseFlags(node, kind, {});
    if (!node.inner) fail(c, 'ONBUILD requires at least one argument');
    const trigger = node.inner.keyword.toUpperCase();
    if (trigger === 'ONBUILD') fail(c, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', 'an ONBUILD trigger cannot itself be ONBUILD');
    if (trigger === 'FROM' || trigger === 'MAINTAINER') {
      fail(c, `${trigger} isn't allowed as an ONBUILD trigger`, 'ONBUILD takes an instruction that runs in the stage built FROM this image');
    }
    const inner = convert(node.inner) as Instruction;
    let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
    for (const h of node.inner.heredocs) expression += `\n${h.content}${h.name}`;
    return { ...base(c, 'ONBUILD'), inner, expression };
  },
};

/** A Go duration in milliseconds; BuildKit rejects anything between 0 and 1ms. */
function interval(c: Conversion, name: string): number | undefined {
  const text = str(c, name);
  if (text === undefined || text === '') return undefined;
  const ms = /^\s|\s$/.test(text) ? undefined : parseDuration(text);
  const hint = 'durations are written like 30s, 1m30s or 500ms';
  if (ms === undefined) fail(c, `invalid duration "${text}" for --${name}`, hint);
  if (ms !== 0 && ms < 1) fail(c, `Interval "${name}" cannot be less than 1ms`, hint);
  return ms;
}

function checkMount(c: Conversion, mount: string): void {
  let fields: string[];
  try {
    fields = splitMountFields(mount);
  } catch (e) {
    fail(c, `failed to parse csv mounts: ${(e as Error).message}`, 'write --mount=type=<type>,key=value,...');
  }
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq < 0 || field.slice(0, eq).toLowerCase() !== 'from') continue;
    const value = field.slice(eq + 1);
    const dollar = value.indexOf('$');
    if (dollar >= 0 && dollar !== value.length - 1) {
      fail(c, "'from' doesn't support variable expansion, define alias stage instead", 'add FROM <image> AS <alias> and mount from=<alias>');
    }
  }
}

/** The entries whose value is defined, so absent flags stay absent keys. */
function optional<T extends Record<string, unknown>>(values: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
