/**
 * The file operations both drivers need on a cgroup filesystem, each turning an errno into a
 * StackError that names the file and the errno (`cannot remove cgroup X: EBUSY (...)`): a
 * cgroup failure is almost always about one file (a limit the kernel refuses, a cgroup still
 * in use), and the user needs that file to act on it.
 */
import { mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';

export function errnoOf(e: unknown): string {
  return (e as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN';
}

export function cgroupError(what: string, file: string, e: unknown, detail?: string, hint?: string): StackError {
  const more = detail ? ` (${detail})` : '';
  return new StackError(`cannot ${what} ${file}: ${errnoOf(e)}${more}`, { kind: 'system', cause: e, hint });
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw cgroupError('read', file, e);
  }
}

/** A file a kernel version or a configuration may lack (memory.peak, memory.memsw.*). */
export function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw cgroupError('read', file, e);
  }
}

export function writeText(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (e) {
    throw cgroupError('write', file, e, `value ${JSON.stringify(value)}`);
  }
}

/** mkdir -p: idempotent, because two commands may prepare the same project at once. */
export function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw cgroupError('create cgroup', dir, e);
  }
}

export function exists(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return false;
    throw cgroupError('read cgroup', dir, e);
  }
}

/** Child cgroups of `dir`; none when it is gone. */
export function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw cgroupError('read cgroup', dir, e);
  }
}

/**
 * Removes a cgroup and everything below it, deepest first (a cgroup with children cannot be
 * removed). Kills nothing: a cgroup that still holds a process stays, and the error says
 * which processes. Keeps going after a failure and returns every error, so one busy cgroup
 * does not leave its siblings behind. A cgroup that is already gone is not an error.
 */
export function removeTree(dir: string): StackError[] {
  const errors: StackError[] = [];
  let children: string[];
  try {
    children = childCgroups(dir);
  } catch (e) {
    return [e as StackError];
  }
  for (const child of children) errors.push(...removeTree(child));
  try {
    rmdirSync(dir);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT') return errors;
    errors.push(cgroupError('remove cgroup', dir, e, code === 'EBUSY' || code === 'ENOTEMPTY' ? busyReason(dir) : undefined,
      code === 'EBUSY' ? 'stop the container (or kill the listed processes) and run the command again' : undefined));
  }
  return errors;
}

/**
 * Removes a shared parent (the engine's `/stack` root) once no project uses it, so nothing
 * of ours stays on the host; one still in use, or already gone, is left alone.
 */
export function removeIfUnused(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (e) {
    const code = errnoOf(e);
    if (code !== 'ENOENT' && code !== 'EBUSY' && code !== 'ENOTEMPTY') throw cgroupError('remove cgroup', dir, e);
  }
}

/** Why rmdir said EBUSY: the processes still inside, else the child cgroups left. */
function busyReason(dir: string): string {
  let pids: number[] = [];
  try {
    pids = parsePids(readFileSync(path.join(dir, 'cgroup.procs'), 'utf8'));
  } catch {
    // the reason is a courtesy; the rmdir error is what matters
  }
  if (pids.length > 0) return `processes still in it: ${pids.join(', ')}`;
  let children: string[] = [];
  try {
    children = childCgroups(dir);
  } catch {
    // as above
  }
  if (children.length > 0) return `child cgroups still in it: ${children.map((c) => path.basename(c)).join(', ')}`;
  return 'still in use';
}

/** Processes in `dir` and every cgroup below it (a container may make its own sub-cgroups). */
export function pidsInTree(dir: string): number[] {
  const own = readOptional(path.join(dir, 'cgroup.procs'));
  if (own === undefined) return [];
  const pids = parsePids(own);
  for (const child of childCgroups(dir)) pids.push(...pidsInTree(child));
  return pids;
}

export function parsePids(text: string): number[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => Number(l.trim()));
}

/**
 * Throws the errors of a cleanup together: one as itself, several as one StackError listing
 * each (the individual errors are its cause, an AggregateError).
 */
export function throwAll(errors: StackError[], what: string): void {
  if (errors.length === 0) return;
  if (errors.length === 1) throw errors[0]!;
  throw new StackError(`${what}: ${errors.length} cgroups could not be removed:\n${errors.map((e) => `  ${e.message}`).join('\n')}`, {
    kind: 'system',
    cause: new AggregateError(errors),
    hint: errors.find((e) => e.hint)?.hint,
  });
}
