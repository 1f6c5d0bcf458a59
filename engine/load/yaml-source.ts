/**
 * Reads a stack file into plain data, recording every node's position (source-map.ts).
 * Anchors, aliases and `<<` merge keys are resolved here; compose's `!reset` and
 * `!override` tags become Tagged markers that the merge step consumes.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import { StackError, type Location } from '../errors.js';
import { newLocations } from './source-map.js';
import { setKey, type PlainMap } from './plain.js';

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

const MAX_ALIAS_DEPTH = 100;

/** Parses YAML text; each `---` document is one layer, as compose reads them. */
export function parseStackYaml(text: string, file: string): SourceDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, version: '1.2' });
  const at = (offset: number): Location => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const out: SourceDocument[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      throw new StackError(`invalid YAML: ${firstLine(e.message)}`, {
        location: at(e.pos[0]),
        hint: yamlHint(e.code),
      });
    }
    if (doc.contents === null) continue;
    const reader = new Reader(doc, at);
    const data = reader.read(doc.contents, 0);
    if (data === null || data === undefined) continue;
    if (typeof data !== 'object' || Array.isArray(data) || data instanceof Tagged) {
      throw new StackError('the top level of a stack file must be a mapping', {
        location: at(doc.contents.range?.[0] ?? 0),
        hint: 'start the file with `services:`',
      });
    }
    out.push({ file, data: data as PlainMap });
  }
  return out;
}

class Reader {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly at: (offset: number) => Location,
  ) {}

  read(node: Node | null, depth: number): unknown {
    if (node === null) return null;
    if (depth > MAX_ALIAS_DEPTH) {
      throw new StackError('YAML aliases nest too deeply', { location: this.pos(node) });
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) throw new StackError(`unknown YAML alias *${node.source}`, { location: this.pos(node) });
      return this.read(target as Node, depth + 1);
    }
    const value = this.readUntagged(node, depth);
    const tag = node.tag;
    if (tag === '!reset' || tag === '!override') return new Tagged(tag, value);
    return value;
  }

  private readUntagged(node: Node, depth: number): unknown {
    if (isScalar(node)) return node.value;
    if (isSeq(node)) {
      const arr: unknown[] = [];
      const locs = newLocations(arr, this.pos(node));
      node.items.forEach((item, i) => {
        arr.push(this.read(item as Node | null, depth));
        locs.values.set(i, item ? this.pos(item as Node) : locs.self);
      });
      return arr;
    }
    if (isMap(node)) {
      const obj: PlainMap = {};
      const locs = newLocations(obj, this.pos(node));
      const mergeSources: Node[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = this.keyOf(keyNode);
        const valueNode = pair.value as Node | null;
        if (key === '<<' && keyNode && isScalar(keyNode) && !keyNode.type?.startsWith('QUOTE')) {
          if (valueNode && isSeq(valueNode)) mergeSources.push(...(valueNode.items as Node[]));
          else if (valueNode) mergeSources.push(valueNode);
          continue;
        }
        const keyLoc = keyNode ? this.pos(keyNode) : locs.self;
        setKey(obj, key, this.read(valueNode, depth));
        locs.keys.set(key, keyLoc);
        locs.values.set(key, valueNode ? this.pos(valueNode) : keyLoc);
      }
      // YAML merge keys: explicit keys win, then earlier sources win over later ones
      for (const src of mergeSources) {
        const merged = this.read(src, depth + 1);
        if (typeof merged !== 'object' || merged === null || Array.isArray(merged)) {
          throw new StackError('a `<<` merge key needs a mapping (or a list of mappings) to merge', {
            location: this.pos(src),
          });
        }
        for (const [k, v] of Object.entries(merged as PlainMap)) {
          if (Object.hasOwn(obj, k)) continue;
          setKey(obj, k, v);
          locs.keys.set(k, this.pos(src));
          locs.values.set(k, this.pos(src));
        }
      }
      return obj;
    }
    return null;
  }

  private keyOf(keyNode: Node | null): string {
    if (keyNode === null) return '';
    if (isAlias(keyNode)) return this.keyOf(keyNode.resolve(this.doc) as Node);
    if (isScalar(keyNode)) {
      const v = keyNode.value;
      if (v === null) return 'null';
      if (typeof v === 'object') return String(v);
      return String(v);
    }
    throw new StackError('mapping keys must be plain values, not mappings or lists', {
      location: this.pos(keyNode),
    });
  }

  private pos(node: Node): Location {
    return this.at(node.range?.[0] ?? 0);
  }
}

function firstLine(msg: string): string {
  return msg.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function yamlHint(code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping: remove or rename the repeated key';
    case 'TAB_AS_INDENT':
      return 'YAML indentation must use spaces, not tabs';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
    case 'UNEXPECTED_TOKEN':
      return 'check the indentation and the `key: value` syntax on this line and the one above';
    case 'BLOCK_AS_IMPLICIT_KEY':
      return 'a key may be missing its `:` or a value is indented under the wrong key';
    default:
      return undefined;
  }
}
