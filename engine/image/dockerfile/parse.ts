/**
 * The Dockerfile's line grammar, after BuildKit's frontend/dockerfile/parser: parser
 * directives, comments, line continuations, builder flags, the per-instruction argument
 * shapes and heredocs. The result is untyped nodes; instructions.ts gives them meaning.
 *
 * BuildKit's quirks are kept on purpose, because a Dockerfile must mean here what it means
 * to `docker build`: comment lines vanish even in the middle of a continued instruction,
 * continuation lines keep their indentation, ENV/LABEL/ARG values keep their quotes until
 * expansion, and shell-form COPY/ADD sources are split on whitespace only.
 */

import { StackError, type Location } from '../../errors.js';
import { isSpace, trimLeftSpace, trimSpace } from './chars.js';
import { instructionError } from './dockerfile-error.js';
import { ShellLex, type EscapeChar } from './expand.js';

export interface Heredoc {
  /** the delimiter word, quotes removed */
  name: string;
  /** the lines between the instruction and the delimiter, with their line endings; leading tabs already removed for `<<-` */
  content: string;
  /** false when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): the body is taken literally */
  expand: boolean;
  /** written `<<-` */
  chomp: boolean;
}

/** One ENV or LABEL assignment, the value still quoted and unexpanded. */
export interface RawPair {
  key: string;
  value: string;
  /** the old `ENV key value with spaces` form */
  legacy: boolean;
}

export interface RawNode {
  /** the instruction keyword as written (any case) */
  keyword: string;
  location: Location;
  endLine: number;
  /** the instruction with continuation lines joined and comments removed, trimmed */
  original: string;
  /** `--name[=value]` words before the arguments, quotes and escapes resolved */
  flags: string[];
  /**
   * The arguments as the instruction's line parser splits them: one string for shell forms
   * and single-value instructions, the elements of the JSON array for exec forms, words for
   * FROM/EXPOSE/ARG and shell-form COPY/ADD/VOLUME, and [type, ...command] for HEALTHCHECK.
   */
  args: string[];
  /** ENV and LABEL */
  pairs?: RawPair[];
  /** the arguments were a JSON array of strings */
  json: boolean;
  heredocs: Heredoc[];
  /** the instruction an ONBUILD registers */
  inner?: RawNode;
}

export interface RawDockerfile {
  escape: EscapeChar;
  /** the `# syntax=` directive, recorded but not acted on */
  syntax?: string;
  nodes: RawNode[];
}

/** Splits `text` into instructions. Throws StackError on malformed input. */
export function parseRaw(text: string, file: string): RawDockerfile {
  const lines = splitLines(text);
  const d = new Directives(file);
  const nodes: RawNode[] = [];
  let next = 0;

  while (next < lines.length) {
    let raw = lines[next]!;
    if (next === 0) raw = raw.replace(/^\uFEFF/, '');
    next++;
    const startLine = next;
    const untrimmed = trimNewline(raw);
    const col = untrimmed.length - trimLeftSpace(untrimmed).length + 1;
    let [piece, ended] = trimContinuation(processLine(d, raw, true, startLine), d);
    if (ended && piece === '') continue;

    let line = piece;
    const firstLen = piece.length;
    while (!ended && next < lines.length) {
      const rawNext = lines[next]!;
      next++;
      const processed = processLine(d, rawNext, false, next);
      // a comment line inside a continued instruction is dropped, not joined
      if (isComment(rawNext)) continue;
      if (trimLeftSpace(processed) === '') continue;
      [piece, ended] = trimContinuation(processed, d);
      line += piece;
    }

    const origin: Origin = { line: startLine, col, firstLen };
    const node = newNode(line, d, origin);

    if (canContainHeredoc(node) && line.includes('<<')) {
      const target = node.inner ?? node;
      for (const heredoc of heredocsFromLine(line, node)) {
        let content = '';
        let terminated = false;
        while (next < lines.length) {
          const body = lines[next]!;
          next++;
          let terminator = trimNewline(body);
          if (heredoc.chomp) terminator = terminator.replace(/^\t+/, '');
          if (terminator === heredoc.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) {
          throw instructionError(
            `unterminated heredoc <<${heredoc.chomp ? '-' : ''}${heredoc.name}`,
            node,
            `end the heredoc with a line containing only "${heredoc.name}"`,
          );
        }
        target.heredocs.push({ ...heredoc, content: heredoc.chomp ? chompHeredoc(content) : content });
      }
    }

    node.endLine = next;
    if (node.inner) node.inner.endLine = next;
    nodes.push(node);
  }

  if (nodes.length === 0) {
    throw new StackError('the Dockerfile has no instructions', {
      kind: 'invalid',
      location: { file, line: Math.max(1, lines.length), col: 1 },
      hint: 'a Dockerfile starts with FROM <image>',
    });
  }
  return { escape: d.escape, ...(d.syntax === undefined ? {} : { syntax: d.syntax }), nodes };
}

/** The heredoc a word like `<<EOF`, `<<-"EOF"` or `3<<EOF` opens, if it is one. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const m = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/.exec(word);
  const rest = m?.[3];
  if (!m || !rest) return undefined;
  const none = () => undefined;
  const plain = new ShellLex({ skipUnset: true }).words(rest, none);
  if (plain.length !== 1) return undefined;
  // a quote that the lexer consumed means part of the delimiter was quoted
  const raw = new ShellLex({ skipUnset: true, rawQuotes: true }).words(rest, none);
  const quotes = (s: string) => s.replace(/[^'"]/g, '').length;
  return { name: plain[0]!, expand: quotes(plain[0]!) === quotes(raw[0] ?? ''), chomp: m[2] === '-' };
}

/** Where a node's text starts: the keyword's column, and how much of the text is on its first line. */
interface Origin {
  line: number;
  col: number;
  firstLen: number;
}

class Directives {
  escape: EscapeChar = '\\';
  syntax: string | undefined;
  continuation = continuationRegExp('\\');
  private done = false;
  private readonly seen = new Set<string>();

  constructor(readonly file: string) {}

  /** Directives are `# name=value` comments before anything else, blank lines included. */
  consider(line: string, lineNo: number): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/.exec(trimLeftSpace(line.slice(1)));
    const name = m?.[1]?.toLowerCase();
    if (!m || (name !== 'escape' && name !== 'syntax' && name !== 'check')) {
      this.done = true;
      return false;
    }
    const location = { file: this.file, line: lineNo, col: 1 };
    if (this.seen.has(name)) {
      throw new StackError(`only one ${name} parser directive can be used`, { kind: 'invalid', location, hint: 'remove the repeated directive' });
    }
    this.seen.add(name);
    const value = m[2]!;
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new StackError(`invalid escape token '${value}' does not match \` or \\`, {
          kind: 'invalid',
          location,
          hint: 'use "# escape=\\" (the default) or "# escape=`"',
        });
      }
      this.escape = value;
      this.continuation = continuationRegExp(value);
    } else if (name === 'syntax') {
      this.syntax = value;
    }
    return true;
  }
}

/**
 * The escape character last on a line (trailing blanks allowed) continues it, unless it is
 * itself escaped; a line holding only the escape character joins nothing.
 */
function continuationRegExp(escape: EscapeChar): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function trimContinuation(line: string, d: Directives): [string, boolean] {
  return d.continuation.test(line) ? [line.replace(d.continuation, '$1'), false] : [line, true];
}

function processLine(d: Directives, raw: string, stripLeft: boolean, lineNo: number): string {
  let line = trimNewline(raw);
  if (stripLeft) line = trimLeftSpace(line);
  d.consider(line, lineNo);
  return isComment(line) ? '' : line;
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

/** Lines with their endings, as bufio.Scanner with BuildKit's scanLines yields them. */
function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function chompHeredoc(content: string): string {
  return content.replace(/(?<=^|\n)\t+/g, '');
}

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);

function canContainHeredoc(node: RawNode): boolean {
  const target = node.keyword.toLowerCase() === 'onbuild' && node.inner ? node.inner : node;
  return HEREDOC_INSTRUCTIONS.has(target.keyword.toLowerCase()) && !target.json;
}

function heredocsFromLine(line: string, node: RawNode): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = new ShellLex({ rawQuotes: true, rawEscapes: true, skipUnset: true }).words(line, () => undefined);
  } catch {
    // BuildKit ignores a line it cannot split here; the instruction simply has no heredocs
    return [];
  }
  const docs: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    let heredoc;
    try {
      heredoc = parseHeredocWord(word);
    } catch (e) {
      throw instructionError(`bad heredoc delimiter ${word}`, node, 'write the delimiter as <<EOF, <<"EOF" or <<-EOF', e);
    }
    if (heredoc) docs.push(heredoc);
  }
  return docs;
}

/** A line parser's failure; parseRaw adds the instruction and its location. */
class LineError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

interface Parsed {
  args: string[];
  json?: boolean;
  pairs?: RawPair[];
  inner?: RawNode;
}

type LineParser = (rest: string, d: Directives, origin: Origin) => Parsed;

const WHITESPACE = /[\t\v\f\r ]+/;

function newNode(line: string, d: Directives, origin: Origin): RawNode {
  const original = trimSpace(line);
  const lead = line.length - trimLeftSpace(line).length;
  const location = locate(d.file, origin, lead);
  const [keyword, flags, rest] = splitCommand(original, d, { location, original });
  const parser = DISPATCH[keyword.toLowerCase()] ?? (() => ({ args: [] }));
  let parsed: Parsed;
  try {
    // the arguments are a suffix of `original`, so their offset in `line` is known
    parsed = parser(rest, d, shift(origin, lead + original.length - rest.length));
  } catch (e) {
    if (e instanceof LineError) throw instructionError(e.message, { location, original }, e.hint);
    throw e;
  }
  return {
    keyword,
    location,
    endLine: origin.line,
    original,
    flags,
    args: parsed.args,
    ...(parsed.pairs ? { pairs: parsed.pairs } : {}),
    json: parsed.json ?? false,
    heredocs: [],
    ...(parsed.inner ? { inner: parsed.inner } : {}),
  };
}

/** The origin of the text that starts `offset` characters into the text at `origin`. */
function shift(origin: Origin, offset: number): Origin {
  if (offset < origin.firstLen) return { line: origin.line, col: origin.col + offset, firstLen: origin.firstLen - offset };
  // past the first physical line the exact column is lost with the joined continuation
  return { line: origin.line, col: origin.col, firstLen: 0 };
}

function locate(file: string, origin: Origin, offset: number): Location {
  const o = shift(origin, offset);
  return { file, line: o.line, col: o.col };
}

function splitCommand(line: string, d: Directives, where: { location: Location; original: string }): [string, string[], string] {
  const m = WHITESPACE.exec(line);
  if (!m) return [line, [], ''];
  try {
    const [rest, flags] = extractBuilderFlags(line.slice(m.index + m[0].length), d.escape);
    return [line.slice(0, m.index), flags, trimSpace(rest)];
  } catch (e) {
    if (e instanceof LineError) throw instructionError(e.message, where, e.hint);
    throw e;
  }
}

const enum Phase {
  Spaces,
  Word,
  Quote,
}

/** Leading `--name[=value]` words; stops at the first word not starting with `--`, or after a bare `--`. */
function extractBuilderFlags(line: string, escape: EscapeChar): [string, string[]] {
  const words: string[] = [];
  let phase = Phase.Spaces;
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = line[pos] ?? '';
    if (phase === Phase.Spaces) {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || line[pos + 1] !== '-') return [line.slice(pos), words];
      phase = Phase.Word;
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === Phase.Word) {
      if (isSpace(ch)) {
        phase = Phase.Spaces;
        if (word === '--') return [line.slice(pos), words];
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = Phase.Quote;
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      phase = Phase.Word;
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === line.length) {
        phase = Phase.Word;
        continue;
      }
      ch = line[++pos]!;
    }
    word += ch;
  }
  return ['', words];
}

/** Words split on unquoted whitespace, quotes and escapes kept for expansion to resolve. */
export function parseWords(rest: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  let phase = Phase.Spaces;
  let quote = '';
  let blankOK = false;
  let word = '';
  for (let pos = 0; pos <= rest.length; pos++) {
    let ch = rest[pos] ?? '';
    if (phase === Phase.Spaces) {
      if (pos === rest.length) break;
      if (isSpace(ch)) continue;
      phase = Phase.Word;
    }
    if (pos === rest.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === Phase.Word) {
      if (isSpace(ch)) {
        phase = Phase.Spaces;
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = Phase.Quote;
      }
      if (ch === escape) {
        // an escape at the very end of the line is dropped
        if (pos + 1 === rest.length) continue;
        word += ch;
        ch = rest[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = Phase.Word;
    // single quotes escape nothing
    if (ch === escape && quote !== "'") {
      if (pos + 1 === rest.length) {
        phase = Phase.Word;
        continue;
      }
      word += ch;
      ch = rest[++pos]!;
    }
    word += ch;
  }
  return words;
}

/** `KEY=value ...`, or the legacy `KEY value with spaces` when the first word has no `=`. */
function parseNameVal(kind: string): LineParser {
  return (rest, d) => {
    const words = parseWords(rest, d.escape);
    if (words.length === 0) return { args: [] };
    if (!words[0]!.includes('=')) {
      const m = WHITESPACE.exec(rest);
      if (!m) throw new LineError(`${kind} must have two arguments`, `write ${kind} name=value`);
      return { args: [], pairs: [{ key: rest.slice(0, m.index), value: rest.slice(m.index + m[0].length), legacy: true }] };
    }
    const pairs = words.map((word) => {
      const eq = word.indexOf('=');
      if (eq < 0) {
        const message = `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`;
        throw new LineError(message, 'quote values that contain spaces: name="a b"');
      }
      return { key: word.slice(0, eq), value: word.slice(eq + 1), legacy: false };
    });
    return { args: [], pairs };
  };
}

function parseWhitespaceDelimited(rest: string): Parsed {
  return { args: rest === '' ? [] : rest.split(WHITESPACE) };
}

function parseString(rest: string): Parsed {
  return { args: rest === '' ? [] : [rest] };
}

/** The elements of a JSON array of strings, or undefined when `rest` is not a JSON array at all. */
function parseJSON(rest: string): string[] | undefined {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v): v is string => typeof v === 'string')) {
    throw new LineError('when using JSON array syntax, arrays must be comprised of strings only', 'quote every element: ["executable", "--port", "80"]');
  }
  return value;
}

function parseMaybeJSON(rest: string): Parsed {
  if (rest === '') return { args: [] };
  const list = parseJSON(rest);
  return list ? { args: list, json: true } : { args: [rest] };
}

function parseMaybeJSONToList(rest: string): Parsed {
  const list = parseJSON(rest);
  return list ? { args: list, json: true } : parseWhitespaceDelimited(rest);
}

function parseHealthConfig(rest: string): Parsed {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return { args: [] };
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const cmd = parseMaybeJSON(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json ?? false };
}

function parseSubCommand(rest: string, d: Directives, origin: Origin): Parsed {
  if (rest === '') return { args: [] };
  return { args: [], inner: newNode(rest, d, origin) };
}

const DISPATCH: Record<string, LineParser> = {
  add: parseMaybeJSONToList,
  arg: (rest, d) => ({ args: parseWords(rest, d.escape) }),
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: parseNameVal('ENV'),
  expose: parseWhitespaceDelimited,
  from: parseWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: parseNameVal('LABEL'),
  maintainer: parseString,
  onbuild: parseSubCommand,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};
