/**
 * The model as a compose document, for `stack config`: the same keys users wrote, in
 * canonical long form, durations in Go notation and sizes in bytes, keys sorted so the
 * output is stable and diffable. Empty lists and mappings are left out, as compose does.
 */
import type { Project, Service } from './types.js';
import { formatDuration } from './units.js';

const DURATION_KEYS = new Set(['interval', 'timeout', 'start_period', 'start_interval', 'stop_grace_period', 'delay', 'window']);

export function toComposeDocument(project: Project): Record<string, unknown> {
  const doc: Record<string, unknown> = { name: project.name };
  doc.services = sortedMap(project.services, serviceDocument);
  for (const key of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    if (Object.keys(project[key]).length > 0) doc[key] = sortedMap(project[key], (v) => clean(v));
  }
  Object.assign(doc, project.extensions);
  return doc;
}

function serviceDocument(s: Service): unknown {
  const { name: _name, extra, extensions, ...typed } = s;
  return clean({ ...typed, ...extra, ...extensions });
}

function sortedMap<T>(m: Record<string, T>, f: (v: T) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(m).sort()) out[k] = f(m[k]!);
  return out;
}

/** Sorted keys, no empty collections, durations as text. */
function clean(v: unknown, key = ''): unknown {
  if (typeof v === 'number' && DURATION_KEYS.has(key)) return formatDuration(v);
  if (Array.isArray(v)) return v.map((x) => clean(x));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      if (Array.isArray(x) && x.length === 0 && k !== 'command' && k !== 'entrypoint') continue;
      if (x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0 && k !== 'networks') continue;
      out[k] = clean(x, k);
    }
    return out;
  }
  return v;
}
