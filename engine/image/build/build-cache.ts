/**
 * The build cache: a step's key is a hash of the key before it and what the step does (the
 * instruction with its variables expanded, the build args a RUN sees, the checksum of what a
 * COPY reads), so a key names a whole history, as BuildKit's cache keys do. A record maps a
 * key to the stage state after the step: its layers (by diffId) and its image config. A hit
 * needs every layer still in the store; a changed step changes every key after it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../runtime/atomic-file.js';
import type { ImageConfigFile } from '../store/image-store.js';

export interface CacheRecord {
  /** diffIds, bottom first */
  layers: string[];
  image: ImageConfigFile;
}

export function stepKey(previous: string, ...parts: string[]): string {
  const h = createHash('sha256').update(previous);
  for (const p of parts) h.update('\0').update(p);
  return `sha256:${h.digest('hex')}`;
}

export class BuildCache {
  constructor(private readonly dir: string) {}

  get(key: string): CacheRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as CacheRecord;
    } catch {
      return undefined;
    }
  }

  put(key: string, record: CacheRecord): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(this.file(key), JSON.stringify(record), { durable: false });
  }

  /** diffIds every record needs, for the store's garbage collection */
  references(): Set<string> {
    const out = new Set<string>();
    for (const key of this.keys()) for (const l of this.get(key)?.layers ?? []) out.add(l);
    return out;
  }

  /** Drops every record (`stack builder prune`); returns how many there were. */
  clear(): number {
    const n = this.keys().length;
    rmSync(this.dir, { recursive: true, force: true });
    return n;
  }

  private keys(): string[] {
    return existsSync(this.dir) ? readdirSync(this.dir).filter((f) => f.endsWith('.json')) .map((f) => f.slice(0, -5)) : [];
  }

  private file(key: string): string {
    return path.join(this.dir, `${key.replace(/^sha256:/, '')}.json`);
  }
}
