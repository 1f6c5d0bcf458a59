/**
 * .dockerignore: which build-context paths are left out, with the semantics of
 * moby/patternmatcher (ignorefile.ReadAll, PatternMatcher.MatchesOrParentMatches) and the
 * directory-skipping rule of tonistiigi/fsutil's walker.
 *
 * Patterns are Go filepath.Match globs (`*` and `?` never cross `/`, `[a-z]` and `[^a-z]`
 * classes, `\` escapes the next character) plus `**`, which matches any number of
 * directories. A pattern that matches a directory excludes everything below it. Patterns
 * apply in order and the last one matching a path decides; `!pattern` re-includes.
 *
 * As in docker, `[!a]` is not a negated class: it matches `!` or `a`.
 */

import { StackError } from '../../errors.js';

/** The patterns of a .dockerignore file, cleaned, comments and blank lines dropped, `!` kept. */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  for (const [i, rawLine] of text.split('\n').entries()) {
    let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (i === 0) line = line.replace(/^\uFEFF/, '');
    // only a # in the very first column starts a comment
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern !== '') {
      pattern = cleanPath(pattern);
      // "/foo" means the same as "foo": paths are relative to the context root
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface Pattern {
  /** cleaned, without the leading `!` */
  text: string;
  exception: boolean;
  type: MatchType;
  regexp?: RegExp;
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[] = [];
  /** whether an exception pattern is a plain path, so canSkipDir can decide without a walk */
  private readonly onlyPlainExceptions: boolean;

  /** Throws StackError for a malformed pattern. */
  constructor(patterns: readonly string[]) {
    for (const raw of patterns) {
      let text = raw.trim();
      if (text === '') continue;
      text = cleanPath(text);
      const exception = text.startsWith('!');
      if (exception) {
        if (text.length === 1) {
          throw new StackError('illegal exclusion pattern: "!"', {
            kind: 'invalid',
            hint: 'an exception names what to include again, e.g. "!README.md"',
          });
        }
        text = text.slice(1);
      }
      this.patterns.push(compile(text, exception));
    }
    this.onlyPlainExceptions = this.patterns.every((p) => !p.exception || !/[*[\]?^\\]/.test(withoutTrailingGlob(p.text)));
  }

  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exception);
  }

  /** Whether the context-relative, slash-separated `relPath` is excluded. */
  matches(relPath: string): boolean {
    const file = cleanPath(relPath);
    if (file === '.') return false;
    const parent = dirname(file);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const p of this.patterns) {
      // an exclusion cannot change an excluded path, nor an exception an included one
      if (p.exception !== matched) continue;
      let match = matchOne(p, file);
      for (let i = 0; !match && i < parentDirs.length; i++) match = matchOne(p, parentDirs.slice(0, i + 1).join('/'));
      if (match) matched = !p.exception;
    }
    return matched;
  }

  /**
   * True when `relDir` is excluded and no exception can re-include anything below it, so a
   * walker may skip the whole directory. False when in doubt (an exception with wildcards).
   */
  canSkipDir(relDir: string): boolean {
    const dir = cleanPath(relDir);
    if (!this.matches(dir)) return false;
    if (!this.hasExceptions) return true;
    if (!this.onlyPlainExceptions) return false;
    const prefix = `${dir}/`;
    return !this.patterns.some((p) => p.exception && `${withoutTrailingGlob(p.text)}/`.startsWith(prefix));
  }
}

function matchOne(p: Pattern, path: string): boolean {
  switch (p.type) {
    case 'exact':
      return path === p.text;
    case 'prefix':
      return path.startsWith(p.text.slice(0, -2));
    case 'suffix': {
      const suffix = p.text.slice(2);
      // **/foo matches foo itself too
      return path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp':
      return p.regexp!.test(path);
  }
}

/**
 * patternmatcher's translation: plain text matches by string comparison; a leading `**`
 * (suffix) or a trailing one (prefix) by affix; anything else by a RegExp.
 */
function compile(text: string, exception: boolean): Pattern {
  if (!isGoPattern(text)) throw badPattern(text, 'syntax error in pattern');
  const chars = Array.from(text);
  let re = '^';
  let type: MatchType = 'exact';
  for (let i = 0, token = 0; i < chars.length; token++) {
    const ch = chars[i++]!;
    if (ch === '*') {
      if (chars[i] === '*') {
        i++;
        // **/ is the same as **
        if (chars[i] === '/') i++;
        if (i >= chars.length) {
          // a trailing ** matches everything below, as in .gitignore
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?';
          type = 'regexp';
        }
        if (token === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if ('.+()|{}$'.includes(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      // isGoPattern guarantees a character follows; it stands for itself
      const next = chars[i++]!;
      re += /[\p{L}\p{N}]/u.test(next) ? next : `\\${next}`;
      type = 'regexp';
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      re += ch;
    }
  }
  if (type !== 'regexp') return { text, exception, type };
  try {
    return { text, exception, type, regexp: new RegExp(`${re}$`) };
  } catch (e) {
    throw badPattern(text, (e as Error).message);
  }
}

function badPattern(text: string, why: string): StackError {
  return new StackError(`invalid .dockerignore pattern "${text}": ${why}`, {
    kind: 'invalid',
    hint: 'patterns are globs: * and ? within a path segment, ** across segments, [a-z] classes, \\ escapes the next character',
  });
}

/** Whether Go's filepath.Match accepts `pattern` (it reports malformed classes and trailing escapes). */
function isGoPattern(pattern: string): boolean {
  const chars = Array.from(pattern);
  let i = 0;
  // one class member: a character, possibly escaped, that must not end the pattern
  const member = (): boolean => {
    if (i >= chars.length || chars[i] === '-' || chars[i] === ']') return false;
    if (chars[i] === '\\' && ++i >= chars.length) return false;
    return ++i < chars.length;
  };
  while (i < chars.length) {
    const ch = chars[i++];
    if (ch === '\\') {
      if (i++ >= chars.length) return false;
    } else if (ch === '[') {
      if (chars[i] === '^') i++;
      for (let ranges = 0; ; ranges++) {
        if (chars[i] === ']' && ranges > 0) {
          i++;
          break;
        }
        if (!member()) return false;
        if (chars[i] === '-') {
          i++;
          if (!member()) return false;
        }
      }
    }
  }
  return true;
}

/** What an exception names once its trailing `/**` and `/*` are dropped, as fsutil compares them. */
function withoutTrailingGlob(text: string): string {
  const t = text.endsWith('/**') ? text.slice(0, -3) : text;
  return t.endsWith('/*') ? t.slice(0, -2) : t;
}

/** Go's path.Clean: the shortest equivalent path, "." for empty. */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = (rooted ? '/' : '') + out.join('/');
  return joined === '' ? '.' : joined;
}

function dirname(p: string): string {
  const slash = p.lastIndexOf('/');
  if (slash < 0) return '.';
  return cleanPath(p.slice(0, slash + 1));
}
