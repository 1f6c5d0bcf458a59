/**
 * The build context: the directory COPY and ADD read from, minus what .dockerignore
 * excludes. Sources are named relative to the context and can never leave it: `..` stops at
 * the context root, and a symlink named as a source is followed inside the context only
 * (docker's FollowSymlinkInScope). Symlinks met while walking a directory are copied as
 * symlinks, never followed.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { StackError, type Location } from '../../errors.js';
import { resolveInRoot } from '../../sys/read-in-root.js';
import { IgnoreMatcher, parseDockerignore } from '../context/dockerignore.js';
import { hasGoPatternMeta, goPatternToRegExp } from '../context/go-pattern.js';

/** One file, directory or symlink to copy, with where it sits under the source it came from. */
export interface ContextEntry {
  /** host path */
  hostPath: string;
  /** path relative to the source root ('' for the source itself) */
  rel: string;
  stats: Stats;
}

/** A source operand after wildcard expansion. */
export interface ContextSource {
  /** path relative to the context root, '/'-separated */
  rel: string;
  hostPath: string;
  stats: Stats;
}

export class BuildContext {
  private readonly ignore: IgnoreMatcher | undefined;
  /** content hashes by host path: one build hashes a file once however many steps copy it */
  private readonly hashes = new Map<string, string>();

  constructor(readonly root: string, ignorePatterns: readonly string[] = []) {
    this.ignore = ignorePatterns.length > 0 ? new IgnoreMatcher([...ignorePatterns]) : undefined;
  }

  /** The context at `dir`, with its .dockerignore (or `<Dockerfile>.dockerignore`, as BuildKit reads first). */
  static open(dir: string, dockerfile?: string): BuildContext {
    const root = path.resolve(dir);
    if (!existsSync(root) || !lstatSync(root).isDirectory()) {
      throw new StackError(`build context ${root} is not a directory`, { kind: 'not-found', hint: 'check build.context in the stack file, or the path given to stack build' });
    }
    const candidates = [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), path.join(root, '.dockerignore')];
    const file = candidates.find((f) => existsSync(f));
    return new BuildContext(root, file ? parseDockerignore(readFileSync(file, 'utf8')) : []);
  }

  excluded(rel: string): boolean {
    return rel !== '' && this.ignore !== undefined && this.ignore.matches(rel);
  }

  /**
   * Expands COPY/ADD source operands: plain paths (a symlink followed inside the context)
   * and wildcards (Go's filepath.Match on each path, as docker). Nothing matching is an error.
   */
  sources(operands: readonly string[], where: { location: Location; instruction: string }): ContextSource[] {
    const out: ContextSource[] = [];
    for (const operand of operands) {
      const rel = cleanRel(operand);
      if (hasGoPatternMeta(rel)) {
        const matches = this.glob(rel);
        if (matches.length === 0) throw notFound(operand, where);
        out.push(...matches);
        continue;
      }
      const found = rel === '' ? { hostPath: this.root, stats: lstatSync(this.root) } : resolveInRoot(this.root, rel);
      const inside = found ? path.relative(this.root, found.hostPath).split(path.sep).join('/') : '';
      if (!found || this.excluded(rel) || (inside !== '' && this.excluded(inside))) throw notFound(operand, where);
      out.push({ rel: inside, hostPath: found.hostPath, stats: found.stats });
    }
    return out;
  }

  /** Every entry to copy for a source: the source itself, then (for a directory) what is under it, parents first. */
  walk(source: ContextSource): ContextEntry[] {
    const out: ContextEntry[] = [{ hostPath: source.hostPath, rel: '', stats: source.stats }];
    if (!source.stats.isDirectory()) return out;
    const visit = (dir: string, rel: string) => {
      for (const name of readdirSync(dir).sort()) {
        const childRel = rel === '' ? name : `${rel}/${name}`;
        const ctxRel = source.rel === '' ? childRel : `${source.rel}/${childRel}`;
        const hostPath = path.join(dir, name);
        const stats = lstatSync(hostPath);
        if (this.excluded(ctxRel)) {
          // an exception (`!dir/keep`) may re-include something below an excluded dir
          if (!stats.isDirectory() || this.ignore!.canSkipDir(ctxRel)) continue;
          visit(hostPath, childRel);
          continue;
        }
        out.push({ hostPath, rel: childRel, stats });
        if (stats.isDirectory()) visit(hostPath, childRel);
      }
    };
    visit(source.hostPath, '');
    return out;
  }

  /**
   * What decides whether a cached COPY/ADD can be reused: names, types, permission bits,
   * symlink targets and file contents of everything copied. Not mtimes or owners, which a
   * fresh checkout changes but COPY does not carry over (owner) or does not matter for (mtime).
   */
  checksum(sources: readonly ContextSource[]): string {
    const h = createHash('sha256');
    for (const source of sources) {
      h.update(`source ${source.rel}\0`);
      for (const e of this.walk(source)) {
        const kind = e.stats.isDirectory() ? 'd' : e.stats.isSymbolicLink() ? 'l' : e.stats.isFile() ? 'f' : 'o';
        const body = kind === 'f' ? this.fileHash(e.hostPath) : kind === 'l' ? readlinkSync(e.hostPath) : '';
        h.update(`${e.rel}\0${kind}\0${(e.stats.mode & 0o7777).toString(8)}\0${body}\n`);
      }
    }
    return `sha256:${h.digest('hex')}`;
  }

  private fileHash(file: string): string {
    let hash = this.hashes.get(file);
    if (hash === undefined) {
      hash = createHash('sha256').update(readFileSync(file)).digest('hex');
      this.hashes.set(file, hash);
    }
    return hash;
  }

  /** Context paths matching a wildcard operand, in walk order; a matched directory is not descended into. */
  private glob(pattern: string): ContextSource[] {
    const re = goPatternToRegExp(pattern);
    const depth = pattern.split('/').length;
    const out: ContextSource[] = [];
    const visit = (dir: string, rel: string, level: number) => {
      for (const name of readdirSync(dir).sort()) {
        const childRel = rel === '' ? name : `${rel}/${name}`;
        if (this.excluded(childRel)) continue;
        const hostPath = path.join(dir, name);
        const stats = lstatSync(hostPath);
        if (level === depth) {
          if (re.test(childRel)) out.push({ rel: childRel, hostPath, stats });
        } else if (stats.isDirectory()) {
          visit(hostPath, childRel, level + 1);
        }
      }
    };
    visit(this.root, '', 1);
    return out;
  }
}

/** `./a/../b/` -> `b`; `..` cannot climb out of the context, as docker cleans sources against `/`. */
export function cleanRel(p: string): string {
  return path.posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

function notFound(operand: string, where: { location: Location; instruction: string }): StackError {
  return new StackError(`${where.instruction}: "${operand}" not found in the build context`, {
    kind: 'not-found',
    location: where.location,
    hint: 'source paths are relative to the build context; check the path and .dockerignore',
  });
}
