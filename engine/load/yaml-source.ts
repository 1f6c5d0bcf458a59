/**
 * Reads a stack file into plain data, recording every node's position (source-map.ts).
 * Anchors, aliases and `<<` merge keys are resolved here; compose's `!reset` and
 * `!override` tags become Tagged markers that the merge step consumes.
 *
 * The parser is js-yaml. It builds plain values but knows nothing of positions, so its
 * `listener` records one Frame per node (the offsets where the node opens and closes,
 * its kind and js-yaml's value), and the data tree is rebuilt from those frames: the
 * containers are ours (with their positions registered), scalars are js-yaml's.
 */
import { FAILSAFE_SCHEMA, Type, YAMLException, loadAll, type State } from 'js-yaml';
import { StackError, type Location } from '../errors.js';
import { locationsOf, newLocations, setLocations } from './source-map.js';
import { isMap, setKey, type PlainMap } from './plain.js';

export type ComposeTag = '!reset' | '!override';

/** A value written with `!reset` or `!override` in the YAML source. */
export class Tagged {
  constructor(
    readonly tag: ComposeTag,
    readonly value: unknown,
  ) {}
}

export interface SourceDocument {
  file: string;
  data: PlainMap;
}

/** how many aliases may nest inside the node an alias names */
const MAX_ALIAS_DEPTH = 100;
/** how many nodes alias expansion may create in one file (against "billion laughs") */
const MAX_ALIAS_NODES = 1_000_000;

/** Parses YAML text; each `---` document is one layer, as compose reads them. */
export function parseStackYaml(text: string, file: string): SourceDocument[] {
  // js-yaml drops a byte order mark; drop it here too so that offsets agree
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const reader = new Reader(text, file);
  const roots = reader.parse();
  const out: SourceDocument[] = [];
  for (const root of roots) {
    const data = root.value;
    if (data === null || data === undefined) continue;
    if (!isMap(data)) {
      throw new StackError('the top level of a stack file must be a mapping', {
        location: reader.loc(root),
        hint: 'start the file with `services:`',
      });
    }
    out.push({ file, data });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Schema: YAML 1.2 core scalars (as the `yaml` package resolves them), plus YAML 1.1
// octals (`mode: 0440`, as compose's Go YAML library reads them), no timestamps.

const core = (name: string) => `tag:yaml.org,2002:${name}`;
const INT = /^[-+]?[0-9]+$/;
const INT_OCT = /^0o[0-7]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const INT_OCT_11 = /^0[0-7]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;

/** Whether a plain scalar may be a number: it starts with a digit, a sign or a dot. */
function numeric(s: string): boolean {
  const c = s.charCodeAt(0);
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e;
}

const nullType = new Type(core('null'), {
  kind: 'scalar',
  resolve: (s: string | null) =>
    s === null || s.length === 0 || (s.length <= 4 && (s === '~' || s === 'null' || s === 'Null' || s === 'NULL')),
  construct: () => null,
});
const boolType = new Type(core('bool'), {
  kind: 'scalar',
  resolve: (s: string | null) =>
    s !== null &&
    (s.length === 4 ? s === 'true' || s === 'True' || s === 'TRUE' : s.length === 5 && (s === 'false' || s === 'False' || s === 'FALSE')),
  construct: (s: string) => s === 'true' || s === 'True' || s === 'TRUE',
});
const intType = new Type(core('int'), {
  kind: 'scalar',
  resolve: (s: string | null) => s !== null && numeric(s) && (INT.test(s) || INT_OCT.test(s) || INT_HEX.test(s)),
  construct: (s: string) => {
    if (INT_OCT_11.test(s)) return Number.parseInt(s, 8);
    if (INT_OCT.test(s)) return Number.parseInt(s.slice(2), 8);
    if (INT_HEX.test(s)) return Number.parseInt(s.slice(2), 16);
    return Number.parseInt(s, 10);
  },
});
const floatType = new Type(core('float'), {
  kind: 'scalar',
  resolve: (s: string | null) => s !== null && numeric(s) && (FLOAT.test(s) || FLOAT_EXP.test(s) || FLOAT_SPECIAL.test(s)),
  construct: (s: string) => {
    if (!FLOAT_SPECIAL.test(s)) return Number.parseFloat(s);
    if (/nan$/i.test(s)) return Number.NaN;
    return s.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  },
});

const KINDS = ['scalar', 'sequence', 'mapping'] as const;
const composeTags = (['!reset', '!override'] as const).flatMap((tag) =>
  KINDS.map((kind) => new Type(tag, { kind, construct: (data: unknown) => new Tagged(tag, data ?? '') })),
);
// Other tags (`!Ref x`, `!!timestamp ...`) keep the plain value, as the `yaml` package did.
const otherTags = ['!', 'tag:yaml.org,2002:'].flatMap((prefix) =>
  KINDS.map((kind) => new Type(prefix, { kind, multi: true, construct: (data: unknown) => data ?? '' })),
);

const SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [nullType, boolType, intType, floatType],
  explicit: [...composeTags, ...otherTags],
});

// ---------------------------------------------------------------------------------------

type Kind = 'scalar' | 'sequence' | 'mapping' | null;

/**
 * One js-yaml composeNode call, as seen by the listener. A frame's value is built when it
 * closes (its children are closed by then), and the children are dropped right after.
 */
interface Frame {
  /** offset where js-yaml opened the node: before any separating space, comments, properties */
  start: number;
  /** 0-based line of `start`, and the offset where that line starts */
  line: number;
  lineStart: number;
  /** offset where the node was closed */
  end: number;
  kind: Kind;
  /** the node's tag; '?' for a plain scalar that no implicit type claimed */
  tag: string | null;
  anchor: string | null;
  /** js-yaml's value for the node */
  result: unknown;
  children: Frame[] | undefined;
  /** offset of the node's content (after space, comments and properties), once computed */
  content: number;
  location: Location | undefined;
  /** where the properties (`&a`, `!tag`) start, for nodes that have nothing else */
  propLocation: Location | undefined;
  /** our value for the node */
  value: unknown;
  /** how many aliases nest in the value */
  aliasDepth: number;
}

interface ParserState extends State {
  tag: string | null;
  anchor: string | null;
}

interface SeqItem {
  frame: Frame | undefined;
  /** the value of a single-pair mapping written in a flow sequence (`[a: b]`) */
  pairValue?: Frame | undefined;
  loc: Location;
}

interface MergeSource {
  value: unknown;
  loc: Location;
  aliasDepth: number;
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const COLON = 0x3a;
const QUESTION = 0x3f;
const DASH = 0x2d;
const STAR = 0x2a;
const BANG = 0x21;
const AMP = 0x26;

class Reader {
  /** anchored nodes by the object js-yaml made for them: js-yaml resolves an alias to that object */
  private readonly anchored = new Map<unknown, Frame>();
  private aliasNodes = 0;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  /** Runs js-yaml and returns the root frame of each document, built. */
  parse(): Frame[] {
    const roots: Frame[] = [];
    const stack: Frame[] = [];
    const listener = (event: 'open' | 'close', s: State): void => {
      const state = s as ParserState;
      if (event === 'open') {
        const frame: Frame = {
          start: state.position,
          line: state.line,
          lineStart: state.lineStart,
          end: -1,
          kind: null,
          tag: null,
          anchor: null,
          result: null,
          children: undefined,
          content: -1,
          location: undefined,
          propLocation: undefined,
          value: null,
          aliasDepth: 0,
        };
        const parent = stack[stack.length - 1];
        if (parent) (parent.children ??= []).push(frame);
        else roots.push(frame);
        stack.push(frame);
      } else {
        const frame = stack.pop()!;
        frame.end = state.position;
        frame.kind = (state.kind as Kind) ?? null;
        frame.tag = state.tag;
        frame.anchor = state.anchor;
        const result = state.result;
        frame.result = result;
        this.build(frame);
        frame.children = undefined;
        if (state.anchor !== null && typeof result === 'object' && result !== null && !this.anchored.has(result)) {
          this.anchored.set(result, frame);
        }
      }
    };
    try {
      loadAll(this.text, null, { schema: SCHEMA, listener });
    } catch (e) {
      if (e instanceof YAMLException) throw this.syntaxError(e);
      throw e;
    }
    return roots;
  }

  // -------------------------------------------------------------------------------------
  // building values

  /** Sets a closed node's value; aliases yield fresh copies of the node they name. */
  private build(f: Frame): void {
    const r = f.result;
    const children = f.children;
    const only = children?.length === 1 ? children[0]! : undefined;
    if (f.kind === 'scalar') {
      f.value = r;
    } else if (only && only.kind === f.kind && only.result === r) {
      // js-yaml read the node through a block mapping attempt that found no key: the
      // child is the node itself (`- [a, b]`, `- *alias`, `key:\n  {a: b}`)
      f.value = only.value;
      f.aliasDepth = only.aliasDepth;
    } else if (f.kind === 'sequence' || f.kind === 'mapping') {
      const inner = r instanceof Tagged ? r.value : r;
      if (only && only.kind === f.kind && only.result === inner) {
        // as above, with a tag on the outer node (`key: !override\n  [a]`)
        f.value = new Tagged((r as Tagged).tag, only.value);
        f.aliasDepth = only.aliasDepth;
      } else {
        const built = f.kind === 'mapping' ? this.mapping(f) : this.sequence(f, inner);
        f.value = r instanceof Tagged ? new Tagged(r.tag, built) : built;
      }
    } else if (this.isAlias(f)) {
      this.alias(f);
    } else {
      // an empty node: null, or '' under a tag (`key: !reset`)
      f.value = r;
    }
  }

  private isAlias(f: Frame): boolean {
    return f.kind === null && this.text.charCodeAt(this.contentOf(f)) === STAR;
  }

  private alias(f: Frame): void {
    const r = f.result;
    if (typeof r !== 'object' || r === null) {
      f.value = r;
      return;
    }
    // not yet closed: the alias is inside the node it names
    const target = this.anchored.get(r);
    if (!target) throw new StackError('YAML aliases nest too deeply', { location: this.loc(f) });
    f.aliasDepth = target.aliasDepth + 1;
    if (f.aliasDepth > MAX_ALIAS_DEPTH) {
      throw new StackError('YAML aliases nest too deeply', { location: this.loc(f) });
    }
    f.value = this.copy(target.value, f);
  }

  /** A deep copy of an anchored value, with its own copies of the position records. */
  private copy(v: unknown, at: Frame): unknown {
    if (++this.aliasNodes > MAX_ALIAS_NODES) {
      throw new StackError(`YAML aliases expand to more than ${MAX_ALIAS_NODES.toLocaleString('en-US')} nodes`, {
        location: this.loc(at),
        hint: 'an alias repeats the whole node it names; use fewer nested aliases',
      });
    }
    if (typeof v !== 'object' || v === null) return v;
    if (v instanceof Tagged) return new Tagged(v.tag, this.copy(v.value, at));
    let out: unknown[] | PlainMap;
    if (Array.isArray(v)) {
      out = v.map((x) => this.copy(x, at));
    } else {
      out = {};
      for (const k of Object.keys(v)) setKey(out, k, this.copy((v as PlainMap)[k], at));
    }
    const locs = locationsOf(v);
    if (locs) setLocations(out, { self: locs.self, keys: new Map(locs.keys), values: new Map(locs.values) });
    return out;
  }

  private mapping(f: Frame): PlainMap {
    const obj: PlainMap = {};
    const locs = newLocations(obj, this.loc(f));
    const children = f.children ?? [];
    let merges: MergeSource[] | undefined;
    let depth = 0;
    for (let i = 0; i < children.length; i++) {
      const k = children[i]!;
      const next = children[i + 1];
      let v: Frame | undefined;
      if (next && this.gapHas(k.end, next.start, COLON)) {
        v = next;
        i++;
      } else if (!next && isEmpty(k) && !this.gapHas(i > 0 ? children[i - 1]!.end : f.start, k.start, QUESTION)) {
        continue; // js-yaml's last look for another key (at a `---`, say)
      }
      const keyLoc = isEmpty(k) ? this.rawLoc(k) : this.loc(k);
      const valueLoc = v && !isEmpty(v) ? this.loc(v) : keyLoc;
      if (v && v.aliasDepth > depth) depth = v.aliasDepth;
      if (k.kind === 'scalar' && k.tag === '?' && k.result === '<<') {
        // YAML merge key: a mapping, or a list of mappings, merged in below
        merges ??= [];
        if (!v) continue;
        const mv = v.value;
        if (Array.isArray(mv) && !this.isAlias(v)) {
          const itemLocs = locationsOf(mv);
          mv.forEach((value, n) => merges!.push({ value, loc: itemLocs?.values.get(n) ?? valueLoc, aliasDepth: v.aliasDepth }));
        } else {
          merges.push({ value: mv, loc: valueLoc, aliasDepth: v.aliasDepth });
        }
        continue;
      }
      const key = this.keyOf(k);
      setKey(obj, key, v ? v.value : null);
      locs.keys.set(key, keyLoc);
      locs.values.set(key, valueLoc);
    }
    // YAML merge keys: explicit keys win, then earlier sources win over later ones
    if (merges) {
      for (const src of merges) {
        const merged = src.value;
        if (!isMap(merged)) {
          throw new StackError('a `<<` merge key needs a mapping (or a list of mappings) to merge', {
            location: src.loc,
          });
        }
        for (const k of Object.keys(merged)) {
          if (Object.hasOwn(obj, k)) continue;
          setKey(obj, k, merged[k]);
          locs.keys.set(k, src.loc);
          locs.values.set(k, src.loc);
        }
      }
    }
    f.aliasDepth = depth;
    return obj;
  }

  private sequence(f: Frame, jsValue: unknown): unknown[] {
    const arr: unknown[] = [];
    const locs = newLocations(arr, this.loc(f));
    let depth = 0;
    for (const item of this.items(f, jsValue)) {
      let v: unknown = null;
      if (item.pairValue) {
        // `[a: b]`: a single-pair mapping
        const k = item.frame!;
        const pair: PlainMap = {};
        const pairLocs = newLocations(pair, this.loc(k));
        const key = this.keyOf(k);
        setKey(pair, key, item.pairValue.value);
        pairLocs.keys.set(key, this.loc(k));
        pairLocs.values.set(key, isEmpty(item.pairValue) ? this.loc(k) : this.loc(item.pairValue));
        if (item.pairValue.aliasDepth > depth) depth = item.pairValue.aliasDepth;
        v = pair;
      } else if (item.frame) {
        v = item.frame.value;
        if (item.frame.aliasDepth > depth) depth = item.frame.aliasDepth;
      }
      locs.values.set(arr.length, item.loc);
      arr.push(v);
    }
    f.aliasDepth = depth;
    return arr;
  }

  /** The entries of a sequence node, with their positions. */
  private items(f: Frame, jsValue: unknown): SeqItem[] {
    const children = f.children ?? [];
    const at = (c: Frame): Location => (isEmpty(c) ? this.rawLoc(c) : this.loc(c));
    if (!Array.isArray(jsValue) || children.length === jsValue.length) {
      return children.map((c) => ({ frame: c, loc: at(c) }));
    }
    const out: SeqItem[] = [];
    if (this.text.charCodeAt(this.contentOf(f)) !== DASH) {
      // flow sequence with `key: value` entries
      for (let i = 0; i < children.length; i++) {
        const c = children[i]!;
        const next = children[i + 1];
        if (next && this.gapHas(c.end, next.start, COLON)) {
          out.push({ frame: c, pairValue: next, loc: at(c) });
          i++;
        } else {
          out.push({ frame: c, loc: at(c) });
        }
      }
      return out;
    }
    // block sequence with empty entries (`-` and nothing else): js-yaml reads no node for them
    let from = f.start;
    for (const c of children) {
      const dashes = this.dashes(from, c.start);
      for (let d = 0; d < dashes.length - 1; d++) out.push({ frame: undefined, loc: this.afterDash(dashes[d]!) });
      out.push({ frame: c, loc: at(c) });
      from = c.end;
    }
    for (const d of this.dashes(from, f.end)) out.push({ frame: undefined, loc: this.afterDash(d) });
    return out;
  }

  private keyOf(k: Frame): string {
    let r = k.value;
    if (r instanceof Tagged) r = r.value;
    if (k.kind === 'mapping' || k.kind === 'sequence' || (typeof r === 'object' && r !== null)) {
      throw new StackError('mapping keys must be plain values, not mappings or lists', { location: this.loc(k) });
    }
    if (r === null || r === undefined) return 'null';
    return String(r);
  }

  // -------------------------------------------------------------------------------------
  // positions

  /** Where a node starts: its first character after space, comments and `&anchor`/`!tag`. */
  loc(f: Frame): Location {
    if (f.location === undefined) this.contentOf(f);
    if (f.propLocation && f.kind === null && !this.isAliasAt(f.content)) return f.propLocation;
    return f.location!;
  }

  /** Where js-yaml opened a node, for nodes with no content at all. */
  private rawLoc(f: Frame): Location {
    return { file: this.file, line: f.line + 1, col: f.start - f.lineStart + 1 };
  }

  private isAliasAt(offset: number): boolean {
    return this.text.charCodeAt(offset) === STAR;
  }

  private contentOf(f: Frame): number {
    if (f.content >= 0) return f.content;
    const text = this.text;
    const n = text.length;
    let i = f.start;
    let line = f.line;
    let lineStart = f.lineStart;
    let props = false;
    for (;;) {
      // separating space, line breaks and comments
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === SPACE || c === TAB) i++;
        else if (c === LF || c === CR) {
          i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
          line++;
          lineStart = i;
        } else if (c === HASH) {
          while (i < n && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
        } else break;
      }
      const c = text.charCodeAt(i);
      if (c !== BANG && c !== AMP) break;
      // a property: remember where the first one is, then skip it
      if (!props) {
        props = true;
        f.propLocation = { file: this.file, line: line + 1, col: i - lineStart + 1 };
      }
      if (c === BANG && text.charCodeAt(i + 1) === 0x3c) {
        while (i < n && text.charCodeAt(i) !== 0x3e) i++;
        i++;
      } else {
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (d === SPACE || d === TAB || d === LF || d === CR) break;
          if (c === AMP && (d === 0x2c || d === 0x5b || d === 0x5d || d === 0x7b || d === 0x7d)) break;
          i++;
        }
      }
    }
    f.content = i;
    f.location = { file: this.file, line: line + 1, col: i - lineStart + 1 };
    return i;
  }

  /** Whether the separators between two nodes include the indicator `ch` (outside comments). */
  private gapHas(from: number, to: number, ch: number): boolean {
    const text = this.text;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === ch) return true;
      if (c === HASH) while (i < to && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
    }
    return false;
  }

  /** Offsets of the `-` entry indicators between two nodes of a block sequence. */
  private dashes(from: number, to: number): number[] {
    const text = this.text;
    const out: number[] = [];
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c === DASH) out.push(i);
      else if (c === HASH) while (i < to && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
    }
    return out;
  }

  /** The position just after a `-` indicator and the spaces after it on its line. */
  private afterDash(offset: number): Location {
    const text = this.text;
    let i = offset + 1;
    while (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB) i++;
    return this.locAt(i);
  }

  /** offsets where lines start, for the rare positions not found from a node (built on demand) */
  private lineStarts: number[] | undefined;

  private locAt(offset: number): Location {
    const text = this.text;
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: offset - starts[lo]! + 1 };
  }

  // -------------------------------------------------------------------------------------
  // errors

  private syntaxError(e: YAMLException): StackError {
    const reason = e.reason ?? firstLine(e.message);
    const mark = e.mark;
    const location: Location | undefined = mark ? { file: this.file, line: mark.line + 1, col: mark.column + 1 } : undefined;
    const alias = /^unidentified alias "(.*)"$/.exec(reason);
    if (alias && mark) {
      const name = alias[1]!;
      return new StackError(`unknown YAML alias *${name}`, {
        location: { ...location!, col: Math.max(1, mark.column + 1 - name.length - 1) },
      });
    }
    const message =
      reason === 'duplicated mapping key' && mark
        ? `duplicate key ${JSON.stringify(keyTextAt(this.text, mark.position))}`
        : reason;
    return new StackError(`invalid YAML: ${message}`, { location, hint: yamlHint(reason) });
  }
}

/** A node with no content, tag or anchor (`key:` with nothing after it). */
function isEmpty(f: Frame): boolean {
  return f.kind === null && f.result === null && f.tag === null && f.anchor === null;
}

function keyTextAt(text: string, offset: number): string {
  const eol = text.indexOf('\n', offset);
  const line = text.slice(offset, eol === -1 ? undefined : eol).replace(/\r$/, '');
  return line.split(/:(\s|$)/)[0]!.trim().replace(/^["']|["']$/g, '');
}

function firstLine(msg: string): string {
  return msg.split('\n')[0]!.replace(/ \(\d+:\d+\)$/, '');
}

function yamlHint(reason: string): string | undefined {
  if (reason === 'duplicated mapping key') {
    return 'each key may appear once in a mapping: remove or rename the repeated key';
  }
  if (reason.startsWith('tab characters')) return 'YAML indentation must use spaces, not tabs';
  if (reason.startsWith('can not read a block mapping entry')) {
    return 'a key may be missing its `:` or a value is indented under the wrong key';
  }
  if (
    /^(bad indentation|end of the stream or a document separator|can not read an implicit mapping pair|missed comma|incomplete explicit mapping pair|a whitespace character is expected|unexpected end of the (stream|document) within|expected the node content)/.test(
      reason,
    )
  ) {
    return 'check the indentation and the `key: value` syntax on this line and the one above';
  }
  return undefined;
}
