/**
 * The `.env` / `env_file` format as compose reads it: `KEY=value` lines, optional `export`,
 * `#` comments, single quotes literal, double quotes with escapes, both may span lines;
 * unquoted and double-quoted values are interpolated from earlier keys and the environment.
 * A bare `KEY` takes its value from the environment (unset if it has none).
 */
import { StackError } from '../errors.js';
import { substitute, TemplateError, type Lookup } from './template.js';

export type EnvEntries = Map<string, string | undefined>;

const KEY = /^[A-Za-z_][A-Za-z0-9_.\-[\]]*$/;

export function parseDotenv(text: string, file: string, lookup: Lookup): EnvEntries {
  const out: EnvEntries = new Map();
  const resolve: Lookup = (name) => (out.has(name) ? out.get(name) : lookup(name));
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let i = 0;
  let line = 1;
  const fail = (msg: string, col: number, hint?: string): never => {
    throw new StackError(msg, { location: { file, line, col }, hint });
  };
  while (i < src.length) {
    const eol = src.indexOf('\n', i);
    const end = eol < 0 ? src.length : eol;
    const raw = src.slice(i, end);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = end + 1;
      line++;
      continue;
    }
    const body = trimmed.replace(/^export\s+/, '');
    const sep = body.search(/[=:]/);
    const key = (sep < 0 ? body : body.slice(0, sep)).trim();
    const col = raw.indexOf(key) + 1;
    if (!KEY.test(key)) {
      fail(`invalid variable name ${JSON.stringify(key)} in env file`, col, 'write each line as NAME=value');
    }
    if (sep < 0) {
      out.set(key, lookup(key));
      i = end + 1;
      line++;
      continue;
    }
    // value starts after the separator, and may continue over several lines when quoted
    const valueStart = i + raw.indexOf(body) + sep + 1;
    let j = valueStart;
    while (j < src.length && (src[j] === ' ' || src[j] === '\t')) j++;
    const quote = src[j];
    let value: string;
    let next: number;
    const startLine = line;
    if (quote === "'" || quote === '"') {
      const close = findClosingQuote(src, j + 1, quote);
      if (close < 0) fail(`unterminated ${quote === '"' ? 'double' : 'single'}-quoted value for ${key}`, col);
      const inner = src.slice(j + 1, close);
      line += countNewlines(inner);
      value = quote === "'" ? inner : interpolate(unescapeDouble(inner), resolve, file, startLine, col);
      const rest = src.indexOf('\n', close);
      next = rest < 0 ? src.length : rest;
    } else {
      const lineEnd = src.indexOf('\n', j);
      next = lineEnd < 0 ? src.length : lineEnd;
      let v = src.slice(j, next);
      const comment = v.search(/\s#/);
      if (comment >= 0) v = v.slice(0, comment);
      value = interpolate(v.trim(), resolve, file, startLine, col);
    }
    out.set(key, value);
    i = next + 1;
    line++;
  }
  return out;
}

function findClosingQuote(s: string, from: number, quote: string): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\' && quote === '"') {
      i++;
      continue;
    }
    if (s[i] === quote) return i;
  }
  return -1;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\([nrt"\\$])/g, (_, c: string) => {
    switch (c) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case '$':
        return '$$'; // stays a literal dollar through interpolation
      default:
        return c;
    }
  });
}

function interpolate(v: string, lookup: Lookup, file: string, line: number, col: number): string {
  try {
    return substitute(v, lookup).value;
  } catch (e) {
    if (e instanceof TemplateError) throw new StackError(e.message, { location: { file, line, col }, hint: e.hint });
    throw e;
  }
}

function countNewlines(s: string): number {
  let n = 0;
  for (const c of s) if (c === '\n') n++;
  return n;
}
