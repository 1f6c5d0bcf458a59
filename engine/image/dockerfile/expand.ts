/**
 * Shell-style word processing for Dockerfile instructions, after BuildKit's
 * frontend/dockerfile/shell/lex.go: quotes, escapes and `$VAR` / `${VAR...}` expansion, but
 * no command substitution, globbing or arithmetic. The builder expands an instruction's
 * words with the variables in scope; the shell bodies of RUN/CMD/ENTRYPOINT are left for
 * the shell.
 */

import { StackError } from '../../errors.js';
import { isDigit, isLetter, isSpace } from './chars.js';

/** A variable's value, or undefined when it is not set (set-but-empty is ''). */
export type Lookup = (name: string) => string | undefined;

export type EscapeChar = '\\' | '`';

export interface LexOptions {
  escape?: EscapeChar;
  /** keep quote characters in the result */
  rawQuotes?: boolean;
  /** keep escape characters in the result */
  rawEscapes?: boolean;
  /** quotes are ordinary characters (heredoc bodies) */
  skipQuotes?: boolean;
  /** leave references to unset variables as written instead of expanding them to '' */
  skipUnset?: boolean;
}

/** `word` with variables expanded and quotes and escapes removed; spaces are kept. */
export function expandWord(word: string, lookup: Lookup, escape: EscapeChar = '\\'): string {
  return new ShellLex({ escape }).word(word, lookup);
}

/** `text` expanded and split into words on unquoted whitespace, the way a shell would. */
export function expandWords(text: string, lookup: Lookup, escape: EscapeChar = '\\'): string[] {
  return new ShellLex({ escape }).words(text, lookup);
}

export class ShellLex {
  constructor(private readonly options: LexOptions = {}) {}

  word(text: string, lookup: Lookup): string {
    return this.run(text, lookup)[0];
  }

  words(text: string, lookup: Lookup): string[] {
    return this.run(text, lookup)[1];
  }

  private run(text: string, lookup: Lookup): [string, string[]] {
    try {
      return new ShellWord(text, lookup, this.options).process();
    } catch (e) {
      if (!(e instanceof LexError)) throw e;
      throw new StackError(`failed to process "${text}": ${e.message}`, {
        kind: 'invalid',
        hint: e.hint,
      });
    }
  }
}

class LexError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const EOF = '';

/** Accumulates the words of ProcessWords: unquoted whitespace splits, quoted text never does. */
class Words {
  private buf = '';
  private readonly words: string[] = [];
  private inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  /** An empty quoted string makes no word, as in BuildKit (a shell would keep it). */
  result(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  private readonly escape: string;

  constructor(
    text: string,
    private readonly lookup: Lookup,
    private readonly options: LexOptions,
  ) {
    this.chars = Array.from(text);
    this.rawEscapes = options.rawEscapes ?? false;
    this.escape = options.escape ?? '\\';
  }

  process(): [string, string[]] {
    return this.processStopOn(EOF, this.rawEscapes);
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }

  private next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  /** Processes up to `stop` (consumed) or the end of input when `stop` is EOF. */
  private processStopOn(stop: string, rawEscapes: boolean): [string, string[]] {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      while (this.peek() !== EOF) {
        let ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return [result, words.result()];
        }
        if (ch === '$') {
          const value = this.processDollar();
          result += value;
          words.addString(value);
        } else if (ch === '<') {
          const value = this.processPossibleHeredoc();
          result += value;
          words.addRawString(value);
        } else if ((ch === "'" || ch === '"') && !this.options.skipQuotes) {
          const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += value;
          words.addRawString(value);
        } else {
          ch = this.next();
          if (ch === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(ch);
              result += ch;
            }
            // an escape at the very end escapes nothing and disappears
            ch = this.next();
            if (ch === EOF) break;
            words.addRawChar(ch);
          } else {
            words.addChar(ch);
          }
          result += ch;
        }
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return [result, words.result()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  /** Everything up to the next ' is literal; a single quote cannot be escaped inside. */
  private processSingleQuote(): string {
    let result = '';
    const open = this.next();
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  /** Expands $ inside; the escape only escapes ", $ and itself, as in sh. */
  private processDoubleQuote(): string {
    let result = '';
    const open = this.next();
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const peeked = this.peek();
      if (peeked === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        const close = this.next();
        if (this.options.rawQuotes) result += close;
        return result;
      }
      if (peeked === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue;
        if (after === '"' || after === '$' || after === this.escape) ch = this.next();
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const [value, set] = this.getEnv(name);
      if (!set && this.options.skipUnset) return `$${name}`;
      return value;
    }

    this.next();
    const first = this.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    const ch = this.next();
    if (ch === EOF) throw new LexError("syntax error: missing '}'");
    if (ch === '}') {
      const [value, set] = this.getEnv(name);
      if (!set && this.options.skipUnset) return `\${${name}}`;
      return value;
    }
    if (ch === '/') return this.processReplace(name);
    if (ch === ':') return this.processModifier(name, this.next(), true);
    return this.processModifier(name, ch, false);
  }

  /** ${name-word} ${name+word} ${name?word} ${name#pattern} ${name%pattern}, and the `:` forms. */
  private processModifier(name: string, op: string, nullIsUnset: boolean): string {
    const modifier = nullIsUnset ? `:${op}` : op;
    const patternOp = op === '#' || op === '%';
    if (nullIsUnset && patternOp) throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    let word = this.processBraceWord('}', patternOp, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    if (!set && this.options.skipUnset) return `\${${name}${modifier}${word}}`;
    switch (op) {
      case '-':
        return !set || (nullIsUnset && value === '') ? word : value;
      case '+':
        return !set || (nullIsUnset && value === '') ? '' : word;
      case '?':
        if (!set) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`, `set ${name} with ENV, ARG or --build-arg`);
        if (nullIsUnset && value === '') {
          throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`, `give ${name} a non-empty value`);
        }
        return value;
      case '#':
      case '%': {
        // #/% remove the shortest match, ##/%% the longest
        const greedy = word.startsWith(op);
        if (greedy) word = word.slice(1);
        return op === '%' ? trimSuffix(word, value, greedy) : trimPrefix(word, value, greedy);
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`, SUPPORTED_FORMS);
    }
  }

  /** ${name/pattern/replacement} and ${name//pattern/replacement} */
  private processReplace(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.next();
    const pattern = this.processBraceWord('/', true, "syntax error: missing '/' in ${}");
    const replacement = this.processBraceWord('}', true, "syntax error: missing '}'");
    const [value, set] = this.getEnv(name);
    if (!set && this.options.skipUnset) return `\${${name}/${pattern}/${replacement}}`;
    const re = shellPatternRegExp(pattern, true, false, replaceAll ? 'gu' : 'u');
    if (replaceAll) return value.replace(re, (match) => expandGoTemplate(replacement, match));
    const m = re.exec(value);
    return m ? value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length) : value;
  }

  private processBraceWord(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes)[0];
    } catch (e) {
      if (e instanceof LexError && this.peek() === EOF) throw new LexError(missing);
      throw e;
    }
  }

  /** A variable name, a run of digits (positional) or one special parameter character. */
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  /** `<<` keeps the blanks that follow it, so `<< EOF` stays one word for heredoc detection. */
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let space = '';
    while (this.peek() === '\t' || this.peek() === '\r' || this.peek() === ' ') space += this.next();
    return `<<${space}`;
  }

  private getEnv(name: string): [string, boolean] {
    const value = this.lookup(name);
    return value === undefined ? ['', false] : [value, true];
  }
}

const SUPPORTED_FORMS = 'the forms are ${VAR:-default} ${VAR-default} ${VAR:+alt} ${VAR+alt} ${VAR:?message} ${VAR#prefix} ${VAR%suffix} ${VAR/from/to}';

/** POSIX special parameters; never set in a Dockerfile, so they expand to ''. */
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/**
 * A shell wildcard pattern (`*`, `?`, `\` escapes; no bracket expressions) as a RegExp, for
 * the ${VAR#pattern}, ${VAR%pattern} and ${VAR/pattern/string} forms.
 */
function shellPatternRegExp(pattern: string, greedy: boolean, anchored: boolean, flags: string): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    let tok = chars[i]!;
    if (tok === '*') {
      out += greedy ? '.*' : '.*?';
      continue;
    }
    if (tok === '?') {
      out += '.';
      continue;
    }
    if (tok === '\\') {
      // inside ${} a } or / is escaped for the lexer's sake, not the pattern's
      if (chars[i + 1] === '}' || chars[i + 1] === '/') continue;
      tok = chars[++i] ?? EOF;
      if (tok !== '*' && tok !== '?' && tok !== '\\') {
        throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${tok}'`);
      }
      out += `\\${tok}`;
      continue;
    }
    out += '[]{}.+()|^$'.includes(tok) ? `\\${tok}` : tok;
  }
  return new RegExp(out, flags);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternRegExp(pattern, greedy, true, 'u').exec(value);
  return m ? value.slice(m[0].length) : value;
}

/**
 * A RegExp finds the leftmost match, not the shortest rightmost one, so the suffix forms
 * reverse both the value and the pattern (keeping escapes before the character they escape).
 */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array<string>(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = chars[i]!;
    if (tok === '\\' && i !== last) {
      out[last - i - 1] = tok;
      out[last - i] = chars[i + 1]!;
      i += 2;
    } else {
      out[last - i] = tok;
      i++;
    }
  }
  return out.join('');
}

/**
 * Go's Regexp.Expand for ${VAR//pattern/replacement}: `$$` is a dollar, `$0`/`${0}` the
 * match, any other `$name` refers to a group the pattern cannot have and expands to ''.
 */
function expandGoTemplate(template: string, match: string): string {
  let out = '';
  let rest = template;
  for (;;) {
    const at = rest.indexOf('$');
    if (at < 0) break;
    out += rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(rest);
    if (!ref) {
      out += '$';
      continue;
    }
    rest = rest.slice(ref[0].length);
    if ((ref[1] ?? ref[2]) === '0') out += match;
  }
  return out + rest;
}
