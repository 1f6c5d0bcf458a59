/**
 * compose's `pull_policy`, decided for one service: `always`/`refresh` pull every time,
 * `missing`/`if_not_present` (the default) when the image is not stored, `never` and
 * `build` never, and `daily`, `weekly`, `every_<duration>` when the last pull of the name
 * is older than the period (durations as compose-go reads them, with `d` and `w` too).
 */
import { StackError } from '../errors.js';
import { parseDuration } from '../model/units.js';

const DAY = 86_400_000;

/** How long a pull stays fresh: 0 = always pull, Infinity = pull only when missing, undefined = never pull. */
export function pullPeriod(policy: string | undefined, where: string): number | undefined {
  switch (policy ?? 'missing') {
    case 'always':
    case 'refresh':
      return 0;
    case 'missing':
    case 'if_not_present':
      return Infinity;
    case 'never':
    case 'build':
      return undefined;
    case 'daily':
      return DAY;
    case 'weekly':
      return 7 * DAY;
  }
  const every = /^every_(.+)$/.exec(policy!)?.[1];
  const ms = every !== undefined ? parseLongDuration(every) : undefined;
  if (ms === undefined || ms <= 0) {
    throw new StackError(`${where}: invalid pull_policy ${JSON.stringify(policy)}`, {
      path: where,
      hint: 'use always, missing, never, build, daily, weekly or every_<duration> (e.g. every_12h)',
    });
  }
  return ms;
}

export function shouldPull(period: number | undefined, stored: boolean, lastPulled: number | undefined, now = Date.now()): boolean {
  if (period === undefined) return false;
  if (!stored || period === 0) return true;
  if (period === Infinity) return false;
  return lastPulled === undefined || now - lastPulled >= period;
}

function parseLongDuration(text: string): number | undefined {
  let days = 0;
  const rest = text.replace(/(\d+(?:\.\d*)?)([dw])/g, (_, n: string, unit: string) => {
    days += Number(n) * (unit === 'w' ? 7 : 1);
    return '';
  });
  const ms = rest === '' ? 0 : parseDuration(rest);
  return ms === undefined ? undefined : ms + days * DAY;
}
