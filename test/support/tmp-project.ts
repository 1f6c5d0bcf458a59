import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** Writes `files` (relative path -> content) into a fresh directory removed after the tests. */
export function tmpProject(files: Record<string, string>, name = 'proj'): string {
  const root = mkdtempSync(path.join(tmpdir(), 'stack-test-'));
  made.push(root);
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}
