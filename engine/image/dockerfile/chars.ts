/**
 * Character classes as Go's `unicode` package defines them. The Dockerfile grammar is
 * whatever BuildKit's Go code accepts, so "whitespace", "letter" and "digit" must mean what
 * they mean there, not what JavaScript's `\s` or `\w` mean (`\s` takes U+FEFF but not
 * U+0085, for one).
 */

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  switch (ch) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case '\u0085':
    case '\u00a0':
    case '\u1680':
    case '\u2028':
    case '\u2029':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default:
      return ch >= '\u2000' && ch <= '\u200a';
  }
}

/** Go's strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i]!)) i++;
  return s.slice(i);
}

/** Go's strings.TrimSpace. */
export function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isSpace(s[end - 1]!)) end--;
  return trimLeftSpace(s.slice(0, end));
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** Go's unicode.IsLetter for one code point. */
export function isLetter(ch: string): boolean {
  return LETTER.test(ch);
}

/** Go's unicode.IsDigit for one code point. */
export function isDigit(ch: string): boolean {
  return DIGIT.test(ch);
}
