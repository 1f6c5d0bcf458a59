import { StackError } from '../engine/errors.js';

/** `KEY=VALUE` flags (`--build-arg`, `--label`); a bare `KEY` maps to undefined (taken from the environment). */
export function keyValues(items: readonly string[], flag: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    const key = i < 0 ? item : item.slice(0, i);
    if (key === '') throw new StackError(`${flag} ${item}: missing the name before =`, { hint: `write ${flag} NAME=VALUE` });
    out[key] = i < 0 ? undefined : item.slice(i + 1);
  }
  return out;
}
