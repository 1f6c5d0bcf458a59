/**
 * Which repositories a blob is known to be in (from pulls and pushes), so a push can ask
 * the registry to mount it from one of them instead of uploading it again, as docker's
 * distribution metadata does. Only a hint: a lost update costs an upload, nothing more.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../runtime/atomic-file.js';

const PER_BLOB = 5;

export class BlobSources {
  constructor(private readonly file: string) {}

  /** Repositories (`registry/path`) holding the blob, newest first. */
  of(digest: string): string[] {
    return this.read()[digest] ?? [];
  }

  record(entries: Iterable<[digest: string, repository: string]>): void {
    const all = this.read();
    let changed = false;
    for (const [digest, repository] of entries) {
      const list = all[digest] ?? [];
      if (list[0] === repository) continue;
      all[digest] = [repository, ...list.filter((r) => r !== repository)].slice(0, PER_BLOB);
      changed = true;
    }
    if (!changed) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, JSON.stringify(all));
  }

  private read(): Record<string, string[]> {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string[]>;
    } catch {
      // missing or damaged: it is only a hint
      return {};
    }
  }
}
