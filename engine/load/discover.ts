/**
 * Which stack files make up the project, and what the project is called, the way compose
 * decides: `-f` files as given, else the first default file found in the working directory
 * or a parent (plus its `.override` companion); the name from `-p`, the environment,
 * the files' `name:`, else the project directory's name, normalized.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';

export const DEFAULT_FILES = ['stack.yaml', 'stack.yml', 'compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export interface Discovered {
  files: string[];
  warnings: string[];
}

export function discoverFiles(cwd: string, explicit: readonly string[] | undefined, env: Record<string, string | undefined>): Discovered {
  const warnings: string[] = [];
  const given = explicit && explicit.length > 0 ? [...explicit] : fromEnv(env);
  if (given.length > 0) {
    const files = given.map((f) => (f === '-' ? '-' : path.resolve(cwd, f)));
    for (const f of files) {
      if (f === '-') continue;
      if (!existsSync(f)) {
        throw new StackError(`stack file not found: ${f}`, { kind: 'not-found', hint: 'check the path given with -f' });
      }
      if (statSync(f).isDirectory()) {
        const inDir = findIn(f);
        if (!inDir) throw new StackError(`no stack file in directory ${f}`, { kind: 'not-found', hint: `create ${DEFAULT_FILES[2]} there` });
        files[files.indexOf(f)] = inDir.file;
      }
    }
    return { files, warnings };
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const found = findIn(dir);
    if (found) {
      if (found.others.length > 0) {
        warnings.push(`found several stack files in ${dir} (${[path.basename(found.file), ...found.others].join(', ')}); using ${path.basename(found.file)}`);
      }
      const override = overrideFor(found.file);
      return { files: override ? [found.file, override] : [found.file], warnings };
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new StackError(`no stack file found in ${cwd} or any parent directory`, {
    kind: 'not-found',
    hint: `create one of ${DEFAULT_FILES.join(', ')}, or name one with -f`,
  });
}

function fromEnv(env: Record<string, string | undefined>): string[] {
  const v = env.STACK_FILE ?? env.COMPOSE_FILE;
  if (!v) return [];
  const sep = env.COMPOSE_PATH_SEPARATOR ?? ':';
  return v.split(sep).filter((s) => s !== '');
}

function findIn(dir: string): { file: string; others: string[] } | undefined {
  const present = DEFAULT_FILES.filter((f) => existsSync(path.join(dir, f)));
  if (present.length === 0) return undefined;
  return { file: path.join(dir, present[0]!), others: present.slice(1) };
}

function overrideFor(file: string): string | undefined {
  const ext = path.extname(file);
  const candidate = path.join(path.dirname(file), `${path.basename(file, ext)}.override${ext}`);
  return existsSync(candidate) ? candidate : undefined;
}

/** compose's normalization: lower case, only [a-z0-9_-], no leading `_` or `-`. */
export function normalizeProjectName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[_-]+/, '');
}

export function checkProjectName(name: string, source: string): string {
  if (name === '' || normalizeProjectName(name) !== name) {
    throw new StackError(`invalid project name ${JSON.stringify(name)} (from ${source})`, {
      hint: 'a project name has lowercase letters, digits, dashes and underscores, and starts with a letter or digit',
    });
  }
  return name;
}
