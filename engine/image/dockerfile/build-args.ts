/**
 * ARG values, and which variables are in scope where. The builder owns the scopes (it hands
 * expandInstruction a lookup); these are the rules it must follow to behave like BuildKit:
 *
 * - ARGs before the first FROM are global. Global ARGs, the automatic platform ARGs
 *   (TARGETPLATFORM, BUILDARCH, ...) and --build-arg overrides of those are in scope on FROM
 *   lines (image and --platform) and in the defaults of later global ARGs — nowhere else.
 * - Inside a stage a global ARG is invisible until the stage declares it again: a bare
 *   `ARG NAME` takes the global value. The same holds for the platform ARGs.
 * - An ARG's value is the --build-arg value when one is given (its default is then ignored,
 *   not even expanded); else its default, expanded with what is in scope at that line; else,
 *   inside a stage, the global value; else it is declared but unset (`${NAME:-x}` gives x).
 * - Inside a stage, ARG and ENV values (and the base image's ENV) form one environment,
 *   updated in file order: the later declaration of a name wins, so an ENV after an ARG
 *   overrides it. ENV values are saved in the image; ARG values only exist during the build
 *   (RUN sees them as environment variables). The classic builder let ENV win whatever the
 *   order; BuildKit, followed here, does not.
 * - A stage FROM an earlier stage starts with that stage's environment, its ARGs included.
 * - The proxy ARGs (HTTP_PROXY and friends) need no ARG line: --build-arg values for them
 *   reach RUN's environment and stay out of the image history, but they are not in scope for
 *   expansion unless declared with ARG.
 */

import { StackError } from '../../errors.js';
import { instructionError } from './dockerfile-error.js';
import { expandWord, type EscapeChar, type Lookup } from './expand.js';
import type { ArgEntry, ArgInstruction } from './instructions.js';

/** Proxy settings every build accepts without an ARG line. */
export const PROXY_ARGS = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
] as const;

/** Set by the builder in the global scope, overridable with --build-arg. */
export const PLATFORM_ARGS = [
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDOSVERSION',
  'BUILDARCH',
  'BUILDVARIANT',
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETOSVERSION',
  'TARGETARCH',
  'TARGETVARIANT',
  'TARGETSTAGE',
] as const;

/** Every ARG name docker predefines. */
export const PREDEFINED_ARGS: readonly string[] = [...PROXY_ARGS, ...PLATFORM_ARGS];

/**
 * The global scope: `automatic` (the platform ARGs' values) with --build-arg overrides, then
 * each global ARG in order. The result is what FROM lines expand with and what a stage's bare
 * `ARG NAME` inherits.
 */
export function resolveGlobalArgs(
  args: readonly ArgInstruction[],
  buildArgs: ReadonlyMap<string, string>,
  automatic: ReadonlyMap<string, string>,
  escape: EscapeChar,
): Map<string, string> {
  const scope = new Map<string, string>();
  for (const [name, value] of automatic) scope.set(name, buildArgs.get(name) ?? value);
  for (const instr of args) {
    for (const arg of instr.args) {
      const given = buildArgs.get(arg.name);
      const value = given ?? (arg.default === undefined ? undefined : expandDefault(arg.default, (n) => scope.get(n), escape, instr));
      if (value !== undefined) scope.set(arg.name, value);
    }
  }
  return scope;
}

/**
 * The value an ARG declared inside a stage takes, or undefined when it stays unset.
 * `lookup` is the stage's environment at that line.
 */
export function stageArgValue(
  arg: ArgEntry,
  instr: ArgInstruction,
  scope: { buildArgs: ReadonlyMap<string, string>; globalArgs: ReadonlyMap<string, string>; lookup: Lookup; escape: EscapeChar },
): string | undefined {
  const given = scope.buildArgs.get(arg.name);
  if (given !== undefined) return given;
  if (arg.default !== undefined) return expandDefault(arg.default, scope.lookup, scope.escape, instr);
  return scope.globalArgs.get(arg.name);
}

function expandDefault(value: string, lookup: Lookup, escape: EscapeChar, instr: ArgInstruction): string {
  try {
    return expandWord(value, lookup, escape);
  } catch (e) {
    if (e instanceof StackError) throw instructionError(e.message, instr, e.hint, e);
    throw e;
  }
}
