/**
 * Times of log records as nanoseconds since the epoch (a bigint: a millisecond Date would
 * lose the order of lines written in the same millisecond by different containers), and
 * the `--since`/`--until` values that select them, read as docker reads them: a duration
 * before now (`10m`, `1h30m`), a date and time (RFC 3339, local time without a zone, or
 * just a date), or Unix seconds.
 */
import { StackError } from '../errors.js';

const NS_PER_MS = 1_000_000n;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:\d{2})?$/i;
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A record's time (conmon writes RFC 3339 with nanoseconds); undefined when it is not one. */
export function logTimeNs(time: string): bigint | undefined {
  const m = RFC3339.exec(time);
  if (!m || m[4] === undefined || m[6] === undefined || m[8] === undefined) return undefined;
  return dateTimeNs(m, false);
}

/** docker's RFC3339NanoFixed in UTC: `2024-01-02T03:04:05.000000000Z`. */
export function formatLogTime(ns: bigint): string {
  const ms = ns / NS_PER_MS;
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`;
}

/**
 * A `--since`/`--until` value as ns since the epoch, `nowNs` being the time durations count
 * back from.
 */
export function timeArgNs(value: string, flag: string, nowNs: bigint): bigint {
  const text = value.trim();
  const duration = durationNs(text);
  if (duration !== undefined) return nowNs - duration;
  const m = RFC3339.exec(text);
  if (m) {
    const ns = dateTimeNs(m, true);
    if (ns !== undefined) return ns;
  }
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix) return BigInt(unix[1]!) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0'));
  throw new StackError(`${flag} ${value}: not a time`, {
    hint: `give a duration before now (${flag} 10m, ${flag} 1h30m), a time (${flag} 2024-01-02T15:04:05Z) or Unix seconds`,
  });
}

/** Go's time.ParseDuration: a sequence of decimal numbers with units, optionally signed. */
function durationNs(text: string): bigint | undefined {
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  if (body === '0') return 0n;
  if (body === '') return undefined;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = DURATION_PART.exec(body); m; m = DURATION_PART.exec(body)) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    end = DURATION_PART.lastIndex;
  }
  if (end !== body.length) return undefined;
  return BigInt(Math.round(sign * total));
}

/** Fields of an RFC3339 match; without a zone the time is local (as docker reads it) when `localWithoutZone`. */
function dateTimeNs(m: RegExpExecArray, localWithoutZone: boolean): bigint | undefined {
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const zone = m[8];
  let ms: number;
  if (zone === undefined) {
    if (!localWithoutZone) return undefined;
    ms = new Date(year, month - 1, day, hour, minute, second).getTime();
  } else {
    ms = Date.UTC(year, month - 1, day, hour, minute, second);
    if (zone.toUpperCase() !== 'Z') {
      const offsetMin = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
      ms -= (zone.startsWith('-') ? -1 : 1) * offsetMin * 60_000;
    }
  }
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms) * NS_PER_MS + BigInt((m[7] ?? '').padEnd(9, '0'));
}
