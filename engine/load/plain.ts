/** The loader's data tree: plain objects, arrays and scalars, as parsed from YAML. */

export type PlainMap = Record<string, unknown>;

export function isMap(v: unknown): v is PlainMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Assigns without letting a `__proto__` key reach the prototype. */
export function setKey(obj: PlainMap, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** An entry of compose's list form of a mapping: `K=V`, or `K` alone (no value: null). */
export function splitKeyValue(entry: string): [string, string | null] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, null] : [entry.slice(0, eq), entry.slice(eq + 1)];
}
