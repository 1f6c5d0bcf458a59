/**
 * Merging stack files (`-f a.yaml -f b.yaml`, extends) with compose's rules. The rules are
 * a table keyed by path, as in compose-go's override package: adding an attribute with a
 * special rule is adding a row. Everything else merges structurally: mappings key by key,
 * sequences appended, scalars replaced. `!reset` removes a value, `!override` replaces it.
 * Merging builds new containers and carries each value's source position with it.
 */
import { carryLocation, locationsOf, newLocations, type PathSegment } from './source-map.js';
import { PathTable } from './path-pattern.js';
import { Tagged } from './yaml-source.js';
import { isMap, setKey, splitKeyValue, type PlainMap } from './plain.js';

type Rule =
  | { kind: 'replace' }
  | { kind: 'dict' } // list (`K=V`) or mapping forms, merged as a mapping
  | { kind: 'unique'; key: (item: unknown) => string } // sequence appended, later entry wins per key
  | { kind: 'mapOf'; fromList: (name: string) => unknown } // list of names or mapping, merged as a mapping
  | { kind: 'build' }
  | { kind: 'logging' }
  | { kind: 'ulimit' };

const replace: Rule = { kind: 'replace' };
const dict: Rule = { kind: 'dict' };
const uniqueBy = (key: (item: unknown) => string): Rule => ({ kind: 'unique', key });

const byValue = (item: unknown): string => (typeof item === 'object' ? JSON.stringify(item) : String(item));

export const MERGE_RULES = new PathTable<Rule>({
  'services.*.command': replace,
  'services.*.entrypoint': replace,
  'services.*.healthcheck.test': replace,
  'services.*.environment': dict,
  'services.*.labels': dict,
  'services.*.annotations': dict,
  'services.*.sysctls': dict,
  'services.*.deploy.labels': dict,
  'services.*.build.args': dict,
  'services.*.build.labels': dict,
  'services.*.build.additional_contexts': dict,
  'networks.*.labels': dict,
  'volumes.*.labels': dict,
  'secrets.*.labels': dict,
  'configs.*.labels': dict,
  'services.*.volumes.*.volume.labels': dict,
  'services.*.extra_hosts': uniqueBy(byValue),
  'services.*.build.extra_hosts': uniqueBy(byValue),
  'services.*.build.tags': uniqueBy(byValue),
  'services.*.build.platforms': uniqueBy(byValue),
  'services.*.cap_add': uniqueBy(byValue),
  'services.*.cap_drop': uniqueBy(byValue),
  'services.*.dns': uniqueBy(byValue),
  'services.*.dns_opt': uniqueBy(byValue),
  'services.*.dns_search': uniqueBy(byValue),
  'services.*.expose': uniqueBy(byValue),
  'services.*.profiles': uniqueBy(byValue),
  'services.*.links': uniqueBy(byValue),
  'services.*.external_links': uniqueBy(byValue),
  'services.*.group_add': uniqueBy(byValue),
  'services.*.security_opt': uniqueBy(byValue),
  'services.*.tmpfs': uniqueBy(byValue),
  'services.*.volumes_from': uniqueBy(byValue),
  'services.*.networks.*.aliases': uniqueBy(byValue),
  'services.*.networks.*.link_local_ips': uniqueBy(byValue),
  'services.*.label_file': uniqueBy(byValue),
  'services.*.env_file': uniqueBy((i) => (isMap(i) ? String(i.path) : String(i))),
  'services.*.ports': uniqueBy(portKey),
  'services.*.volumes': uniqueBy(volumeTargetKey),
  'services.*.devices': uniqueBy(deviceKey),
  'services.*.secrets': uniqueBy(mountKey('/run/secrets/')),
  'services.*.configs': uniqueBy(mountKey('/')),
  'networks.*.ipam.config': uniqueBy((i) => (isMap(i) ? String(i.subnet ?? byValue(i)) : byValue(i))),
  'services.*.depends_on': {
    kind: 'mapOf',
    fromList: () => ({ condition: 'service_started', required: true }),
  },
  'services.*.networks': { kind: 'mapOf', fromList: () => null },
  'services.*.build': { kind: 'build' },
  'services.*.logging': { kind: 'logging' },
  'services.*.ulimits.*': { kind: 'ulimit' },
});

/** Merges `override` onto `base`; neither is modified. `undefined` means "absent". */
export function mergeValues(base: unknown, override: unknown, path: PathSegment[] = []): unknown {
  if (override instanceof Tagged) {
    return override.tag === '!reset' ? undefined : stripTags(override.value);
  }
  if (override === undefined) return base === undefined ? undefined : mergeValues(undefined, base, path);
  const rule = MERGE_RULES.lookup(path);
  if (rule) {
    switch (rule.kind) {
      case 'replace':
        return stripTags(override);
      case 'dict':
        if (isDictLike(base) && isDictLike(override)) return mergeMaps(base === undefined ? undefined : toDict(base), toDict(override), path);
        break;
      case 'unique':
        if (Array.isArray(override) && (base === undefined || Array.isArray(base))) {
          return uniqueSequence(base ?? [], override, rule.key);
        }
        break;
      case 'mapOf':
        if (isNameListOrMap(base) && isNameListOrMap(override)) {
          return mergeMaps(base === undefined ? undefined : toMapOf(base, rule.fromList), toMapOf(override, rule.fromList), path);
        }
        break;
      case 'build': {
        const asMap = (v: unknown) => (typeof v === 'string' ? { context: v } : v);
        return mergeStructural(asMap(base), asMap(override), path);
      }
      case 'logging':
        if (isMap(base) && isMap(override) && base.driver !== undefined && override.driver !== undefined && base.driver !== override.driver) {
          return mergeValues(undefined, override, path);
        }
        break;
      case 'ulimit':
        if (!isMap(base) || !isMap(override)) return stripTags(override);
        break;
    }
  }
  return mergeStructural(base, override, path);
}

function mergeStructural(base: unknown, override: unknown, path: PathSegment[]): unknown {
  if (isMap(override)) return mergeMaps(isMap(base) ? base : undefined, override, path);
  if (Array.isArray(override)) {
    const prefix = Array.isArray(base) ? base : [];
    return concat(prefix, override, path);
  }
  return override;
}

function mergeMaps(base: PlainMap | undefined, override: PlainMap, path: PathSegment[]): PlainMap {
  const out: PlainMap = {};
  const self = (base && locationsOf(base)?.self) ?? locationsOf(override)?.self;
  if (self) newLocations(out, self);
  if (base) {
    for (const k of Object.keys(base)) {
      if (Object.hasOwn(override, k)) continue;
      const v = mergeValues(undefined, base[k], [...path, k]);
      if (v !== undefined) {
        setKey(out, k, v);
        carryLocation(base, k, out, k);
      }
    }
  }
  for (const k of Object.keys(override)) {
    const v = mergeValues(base?.[k], override[k], [...path, k]);
    if (v === undefined) continue; // !reset
    setKey(out, k, v);
    carryLocation(override, k, out, k);
  }
  return out;
}

function concat(base: unknown[], override: unknown[], path: PathSegment[]): unknown[] {
  const out: unknown[] = [];
  const self = locationsOf(base)?.self ?? locationsOf(override)?.self;
  if (self) newLocations(out, self);
  const push = (from: unknown[], i: number) => {
    const v = mergeValues(undefined, from[i], [...path, out.length]);
    if (v === undefined) return;
    carryLocation(from, i, out, out.length);
    out.push(v);
  };
  base.forEach((_, i) => push(base, i));
  override.forEach((_, i) => push(override, i));
  return out;
}

function uniqueSequence(base: unknown[], override: unknown[], key: (item: unknown) => string): unknown[] {
  const out: unknown[] = [];
  const self = locationsOf(base)?.self ?? locationsOf(override)?.self;
  if (self) newLocations(out, self);
  const index = new Map<string, number>();
  for (const from of [base, override]) {
    from.forEach((raw, i) => {
      const item = stripTags(raw);
      const k = key(item);
      const at = index.get(k) ?? out.length;
      if (at === out.length) index.set(k, at);
      out[at] = item;
      carryLocation(from, i, out, at);
    });
  }
  return out;
}

/** `[K=V, K2]` or `{K: V}` to a mapping. */
function toDict(v: unknown): PlainMap {
  return listToMap(v, splitKeyValue);
}

/** `[a, b]` or `{a: ..., b: ...}` to a mapping, list entries valued by `fromList`. */
function toMapOf(v: unknown, fromList: (name: string) => unknown): PlainMap {
  return listToMap(v, (s) => [s, fromList(s)]);
}

/** A list as a mapping, each entry becoming a key that keeps the entry's position. */
function listToMap(v: unknown, entry: (item: string) => [string, unknown]): PlainMap {
  if (isMap(v)) return v;
  const out: PlainMap = {};
  const locs = locationsOf(v as object);
  if (locs) newLocations(out, locs.self);
  (v as unknown[]).forEach((item, i) => {
    const [k, value] = entry(String(item));
    setKey(out, k, value);
    carryLocation(v as object, i, out, k);
    const l = locs?.values.get(i);
    if (l) locationsOf(out)?.keys.set(k, l);
  });
  return out;
}

export function stripTags(v: unknown): unknown {
  if (v instanceof Tagged) return v.tag === '!reset' ? undefined : stripTags(v.value);
  if (Array.isArray(v) || isMap(v)) return mergeValues(undefined, v, []);
  return v;
}


function isDictLike(v: unknown): boolean {
  return v === undefined || isMap(v) || (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null));
}

function isNameListOrMap(v: unknown): boolean {
  return v === undefined || isMap(v) || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
}

function portKey(item: unknown): string {
  if (isMap(item)) return `${item.host_ip ?? ''}:${item.published ?? ''}:${item.target ?? ''}/${item.protocol ?? 'tcp'}`;
  return String(item);
}

function volumeTargetKey(item: unknown): string {
  if (isMap(item)) return String(item.target ?? byValue(item));
  const parts = String(item).split(':');
  return parts.length >= 2 ? parts[1]! : parts[0]!;
}

function deviceKey(item: unknown): string {
  if (isMap(item)) return String(item.target ?? item.source ?? byValue(item));
  const parts = String(item).split(':');
  return parts[1] ?? parts[0]!;
}

function mountKey(defaultDir: string) {
  return (item: unknown): string => {
    if (isMap(item)) {
      const target = item.target ?? item.source;
      const t = String(target ?? '');
      return t.startsWith('/') ? t : defaultDir + t;
    }
    return defaultDir + String(item);
  };
}
