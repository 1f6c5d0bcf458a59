/**
 * Rules keyed by model path, the way compose-go keys its merge and cast tables:
 * `services.*.ports.*.target` — `*` matches any one key or list index.
 */
import type { PathSegment } from './source-map.js';

export type PathPattern = readonly string[];

export function pattern(text: string): PathPattern {
  return text.split('.');
}

export function matches(path: readonly PathSegment[], p: PathPattern): boolean {
  if (path.length !== p.length) return false;
  for (let i = 0; i < p.length; i++) {
    if (p[i] !== '*' && p[i] !== String(path[i])) return false;
  }
  return true;
}

interface TrieNode<T> {
  exact: Map<string, TrieNode<T>>;
  any?: TrieNode<T>;
  value?: T;
}

/**
 * A table of rules by path pattern, looked up on every node of the tree, so it is a trie:
 * cost follows the path's length, not the table's. A literal segment is preferred over `*`.
 */
export class PathTable<T> {
  private readonly root: TrieNode<T> = { exact: new Map() };
  private readonly texts: string[];

  constructor(rows: Record<string, T>) {
    this.texts = Object.keys(rows);
    for (const [text, value] of Object.entries(rows)) {
      let node = this.root;
      for (const seg of pattern(text)) {
        if (seg === '*') node = node.any ??= { exact: new Map() };
        else {
          let next = node.exact.get(seg);
          if (!next) node.exact.set(seg, (next = { exact: new Map() }));
          node = next;
        }
      }
      node.value = value;
    }
  }

  lookup(path: readonly PathSegment[]): T | undefined {
    return find(this.root, path, 0);
  }

  patterns(): string[] {
    return [...this.texts];
  }
}

function find<T>(node: TrieNode<T>, path: readonly PathSegment[], i: number): T | undefined {
  if (i === path.length) return node.value;
  const next = node.exact.get(String(path[i]));
  const hit = next && find(next, path, i + 1);
  if (hit !== undefined) return hit;
  return node.any && find(node.any, path, i + 1);
}

export function formatPath(path: readonly PathSegment[]): string {
  return path.map(String).join('.');
}
