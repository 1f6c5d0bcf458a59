/**
 * Pure parsers for the formats of cgroup interface files, shared by the v1 and v2 drivers:
 * a single number, a limit that may be "unlimited", and flat keyed files (`key value` per
 * line: memory.stat, cpu.stat, memory.events, memory.oom_control).
 */
import { StackError } from '../errors.js';

/**
 * v1 reports "no memory limit" as PAGE_COUNTER_MAX in bytes (9223372036854771712 on 4 KiB
 * pages, larger than a safe JS integer); anything from 2^62 up is treated as unlimited.
 */
const UNLIMITED_FROM = 2n ** 62n;

export function parseNumber(text: string, file: string): number {
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v)) {
    throw new StackError(`unexpected content in ${file}: ${JSON.stringify(text.trim())}`, { kind: 'system' });
  }
  return v;
}

/** `max` (v2), `-1` (v1 cfs quota) or the v1 page-counter maximum -> undefined (no limit). */
export function parseLimit(text: string, file: string): number | undefined {
  const t = text.trim();
  if (t === 'max' || t === '-1') return undefined;
  if (/^\d+$/.test(t) && BigInt(t) >= UNLIMITED_FROM) return undefined;
  return parseNumber(t, file);
}

export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}
