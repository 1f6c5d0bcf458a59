/**
 * Go's filepath.Match patterns (what docker uses for COPY wildcards) as RegExps over a whole
 * '/'-separated path: `*` and `?` never cross a '/', `[...]` classes with `^` negation and
 * ranges, `\` escapes the next character.
 */
import { StackError } from '../../errors.js';

export function hasGoPatternMeta(p: string): boolean {
  return /[*?[\\]/.test(p);
}

export function goPatternToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw badPattern(pattern);
      re += escapeChar(pattern[i]!);
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) throw badPattern(pattern);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') throw badPattern(pattern);
      // escaped characters inside a class stay literal; everything else but '-' is escaped
      const cls = body.replace(/\\(.)|([\]\\^])/g, (_, esc: string | undefined, special: string | undefined) => `\\${esc ?? special}`);
      re += negate ? `[^/${cls}]` : `[${cls}]`;
      i = end;
    } else re += escapeChar(c);
  }
  return new RegExp(`^${re}$`, 's');
}

function classEnd(p: string, start: number): number {
  for (let j = start + 1; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === ']' && j > start + 1) return j;
  }
  return -1;
}

function escapeChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

function badPattern(pattern: string): StackError {
  return new StackError(`invalid wildcard pattern "${pattern}"`, { kind: 'invalid', hint: 'check the brackets and escapes ([a-z], \\*)' });
}
