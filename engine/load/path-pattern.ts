/**
 * Rules keyed by model path, the way compose-go keys its merge and cast tables:
 * `services.*.ports.*.target` — `*` matches any one key or list index.
 */
import type { PathSegment } from './source-map.js';

export type PathPattern = readonly string[];

export function pattern(text: string): PathPattern {
  return text.split('.');
}

export function matches(path: readonly PathSegment[], p: PathPattern): boolean {
  if (path.length !== p.length) return false;
  for (let i = 0; i < p.length; i++) {
    if (p[i] !== '*' && p[i] !== String(path[i])) return false;
  }
  return true;
}

/** A table of rules by path pattern; the first matching row wins. */
export class PathTable<T> {
  private readonly rows: [PathPattern, T][];

  constructor(rows: Record<string, T>) {
    this.rows = Object.entries(rows).map(([k, v]) => [pattern(k), v]);
  }

  lookup(path: readonly PathSegment[]): T | undefined {
    for (const [p, v] of this.rows) if (matches(path, p)) return v;
    return undefined;
  }

  patterns(): string[] {
    return this.rows.map(([p]) => p.join('.'));
  }
}

export function formatPath(path: readonly PathSegment[]): string {
  return path.map(String).join('.');
}
