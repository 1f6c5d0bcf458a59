/**
 * Variable substitution in stack file values, with compose's syntax:
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+alt}`, `${VAR+alt}`, `$$` for a literal `$`. Defaults and alternatives are
 * themselves templates, so `${A:-${B:-c}}` nests. A `$` followed by anything else (`$1`,
 * `$ `) stays literal, as in compose.
 */

export type Lookup = (name: string) => string | undefined;

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export interface SubstituteResult {
  value: string;
  /** variables that were referenced without a default and are not set */
  missing: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function substitute(template: string, lookup: Lookup): SubstituteResult {
  const missing: string[] = [];
  const value = expand(template, lookup, missing);
  return { value, missing };
}

function expand(s: string, lookup: Lookup, missing: string[]): string {
  if (!s.includes('$')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 1;
      while (j < s.length && NAME_CHAR.test(s[j]!)) j++;
      const name = s.slice(i + 1, j);
      out += resolvePlain(name, lookup, missing);
      i = j;
      continue;
    }
    if (next === '{') {
      const close = closingBrace(s, i + 2);
      if (close < 0) throw invalid(s);
      out += expandBraced(s.slice(i + 2, close), s, lookup, missing);
      i = close + 1;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`, honouring nested `${...}`. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function expandBraced(body: string, whole: string, lookup: Lookup, missing: string[]): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([\s\S]*))?$/.exec(body);
  if (!m) throw invalid(whole);
  const name = m[1]!;
  const op = m[2];
  const arg = m[3] ?? '';
  const raw = lookup(name);
  switch (op) {
    case undefined:
      return resolvePlain(name, lookup, missing);
    case ':-':
      return raw === undefined || raw === '' ? expand(arg, lookup, missing) : raw;
    case '-':
      return raw === undefined ? expand(arg, lookup, missing) : raw;
    case ':+':
      return raw !== undefined && raw !== '' ? expand(arg, lookup, missing) : '';
    case '+':
      return raw !== undefined ? expand(arg, lookup, missing) : '';
    case ':?':
    case '?': {
      const unusable = op === ':?' ? raw === undefined || raw === '' : raw === undefined;
      if (unusable) {
        const msg = expand(arg, lookup, missing);
        throw new TemplateError(
          `required variable ${name} is missing a value${msg ? `: ${msg}` : ''}`,
          `set ${name} in the environment or in the project's .env file`,
        );
      }
      return raw!;
    }
    default:
      throw invalid(whole);
  }
}

function resolvePlain(name: string, lookup: Lookup, missing: string[]): string {
  const v = lookup(name);
  if (v === undefined) {
    missing.push(name);
    return '';
  }
  return v;
}

function invalid(s: string): TemplateError {
  return new TemplateError(
    `invalid interpolation format in ${JSON.stringify(s)}`,
    'write a variable as ${NAME} or ${NAME:-default}; escape a literal $ as $$',
  );
}
