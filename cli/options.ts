import { StackError } from '../engine/errors.js';
import { splitKeyValue } from '../engine/load/plain.js';

/** `KEY=VALUE` flags (`--build-arg`, `--label`); a bare `KEY` maps to undefined (taken from the environment). */
export function keyValues(items: readonly string[], flag: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const item of items) {
    const [key, value] = splitKeyValue(item);
    if (key === '') throw new StackError(`${flag} ${item}: missing the name before =`, { hint: `write ${flag} NAME=VALUE` });
    out[key] = value ?? undefined;
  }
  return out;
}

/** `--pull always|missing|never`, which replaces the services' pull_policy for one command. */
export function pullOption(value: unknown): 'always' | 'missing' | 'never' | undefined {
  if (value === undefined) return undefined;
  if (value === 'always' || value === 'missing' || value === 'never') return value;
  throw new StackError(`--pull ${String(value)}: expected always, missing or never`);
}
