/**
 * When each image name was last pulled, for compose's `pull_policy: daily`, `weekly` and
 * `every_<duration>`: pull again only when the last pull is older than the period. Names
 * are kept normalized, so `busybox` and `docker.io/library/busybox:latest` share a time.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatReference, normalizeName, parseReference } from '../image/store/reference.js';
import { writeFileAtomic } from '../runtime/atomic-file.js';

export class PullTimes {
  constructor(private readonly file: string) {}

  /** ms since the epoch, or undefined when never pulled */
  last(name: string): number | undefined {
    return this.read()[key(name)];
  }

  record(name: string, at = Date.now()): void {
    const all = this.read();
    all[key(name)] = at;
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, JSON.stringify(all));
  }

  private read(): Record<string, number> {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  }
}

/** `busybox` -> `docker.io/library/busybox:latest`; a reference with a digest keeps it. */
function key(name: string): string {
  const ref = parseReference(name);
  return ref.digest !== undefined ? formatReference(ref) : normalizeName(name);
}
