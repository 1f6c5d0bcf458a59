/**
 * Source positions for the plain data tree. The loader keeps the stack file as plain
 * objects and arrays (as compose-go keeps a map until the final conversion), and every
 * container remembers where its keys and values were written. Positions follow the
 * objects themselves, so they survive interpolation, merging and extends without any
 * path bookkeeping: a value copied from an override file carries the override's position.
 */
import type { Location } from '../errors.js';

export interface NodeLocations {
  /** where the mapping or sequence itself starts */
  self: Location;
  /** position of each mapping key */
  keys: Map<string, Location>;
  /** position of each value, by key (mappings) or index (sequences) */
  values: Map<string | number, Location>;
}

const registry = new WeakMap<object, NodeLocations>();

export type PathSegment = string | number;

export function setLocations(container: object, locations: NodeLocations): void {
  registry.set(container, locations);
}

export function locationsOf(container: object): NodeLocations | undefined {
  return registry.get(container);
}

/** Starts an empty record for a container built by the loader (merge, extends). */
export function newLocations(container: object, self: Location): NodeLocations {
  const locs: NodeLocations = { self, keys: new Map(), values: new Map() };
  registry.set(container, locs);
  return locs;
}

/** Copies the position of `from[fromKey]` onto `to[toKey]` (merging builds new containers). */
export function carryLocation(from: object, fromKey: PathSegment, to: object, toKey: PathSegment): void {
  const src = registry.get(from);
  if (!src) return;
  let dst = registry.get(to);
  if (!dst) dst = newLocations(to, src.self);
  const v = src.values.get(fromKey);
  if (v) dst.values.set(toKey, v);
  const k = typeof fromKey === 'string' ? src.keys.get(fromKey) : undefined;
  if (k && typeof toKey === 'string') dst.keys.set(toKey, k);
}

/**
 * The most specific known position for `path` under `root`: the value's own position if it
 * was recorded, else the nearest ancestor's. With `key: true`, the position of the last
 * segment's mapping key (what an "unknown key" error should point at).
 */
export function locate(root: unknown, path: readonly PathSegment[], opts: { key?: boolean } = {}): Location | undefined {
  let best: Location | undefined = isContainer(root) ? registry.get(root)?.self : undefined;
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    if (!isContainer(node)) break;
    const seg = path[i]!;
    const locs = registry.get(node);
    const last = i === path.length - 1;
    if (locs) {
      const keyLoc = typeof seg === 'string' ? locs.keys.get(seg) : undefined;
      const valueLoc = locs.values.get(Array.isArray(node) ? Number(seg) : seg);
      if (last && opts.key && keyLoc) return keyLoc;
      best = valueLoc ?? keyLoc ?? best;
    }
    node = Array.isArray(node) ? node[Number(seg)] : (node as Record<string, unknown>)[String(seg)];
    if (isContainer(node)) best = registry.get(node)?.self ?? best;
  }
  return best;
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

/** A shallow copy of a mapping without `key`, keeping the positions of the other keys. */
export function withoutKey<T extends Record<string, unknown>>(obj: T, key: string): T {
  const copy = { ...obj };
  delete copy[key];
  const locs = registry.get(obj);
  if (locs) registry.set(copy, { self: locs.self, keys: new Map(locs.keys), values: new Map(locs.values) });
  return copy;
}
