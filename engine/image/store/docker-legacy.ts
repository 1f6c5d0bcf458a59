/**
 * The legacy per-layer metadata `docker save` (docker 20.10, image/tarexport) writes beside
 * each `<v1 id>/layer.tar`: `VERSION` and a v1 image `json`, and the v1 ids that name
 * those dirs. docker load no longer reads them, but older tools do, so they are produced
 * as moby does: the same Go struct field order and omitempty rules, the same JSON escaping,
 * and ids hashed the same way (`v1.CreateID`: the v1 image plus `layer_id` = the chain id
 * and `parent`, keys sorted).
 */
import { sha256 } from './digest.js';

export interface LegacyLayer {
  /** the v1 id: 64 hex digits, the layer's dir name in the archive */
  id: string;
  json: string;
}

/** Fields of moby's container.Config in struct order; `true` marks `omitempty`. */
const CONTAINER_CONFIG_FIELDS: ReadonlyArray<[string, boolean, unknown]> = [
  ['Hostname', false, ''],
  ['Domainname', false, ''],
  ['User', false, ''],
  ['AttachStdin', false, false],
  ['AttachStdout', false, false],
  ['AttachStderr', false, false],
  ['ExposedPorts', true, null],
  ['Tty', false, false],
  ['OpenStdin', false, false],
  ['StdinOnce', false, false],
  ['Env', false, null],
  ['Cmd', false, null],
  ['Healthcheck', true, null],
  ['ArgsEscaped', true, false],
  ['Image', false, ''],
  ['Volumes', false, null],
  ['WorkingDir', false, ''],
  ['Entrypoint', false, null],
  ['NetworkDisabled', true, false],
  ['MacAddress', true, ''],
  ['OnBuild', false, null],
  ['Labels', false, null],
  ['StopSignal', true, ''],
  ['StopTimeout', true, null],
  ['Shell', true, null],
];

/** V1Image's string fields after `created`, in struct order, all omitempty. */
const V1_TAIL_FIELDS = ['docker_version', 'author'] as const;
const V1_PLATFORM_FIELDS = ['architecture', 'variant', 'os'] as const;

type Json = Record<string, unknown>;

/** The legacy dirs for an image, bottom layer first. */
export function legacyLayers(configBytes: Buffer, diffIds: readonly string[]): LegacyLayer[] {
  const config = JSON.parse(configBytes.toString('utf8')) as Json;
  const os = typeof config.os === 'string' ? config.os : '';
  const out: LegacyLayer[] = [];
  let chain = '';
  let parent = '';
  diffIds.forEach((diffId, i) => {
    chain = i === 0 ? diffId : sha256(`${chain} ${diffId}`);
    // lower layers stand for the empty-config images of pre-1.10 docker; the top one is the image
    const top = i === diffIds.length - 1;
    const v1 = top ? v1Image(config) : { created: '1970-01-01T00:00:00Z', container_config: containerConfig(undefined) };
    const idInput = { ...v1, layer_id: chain, ...(parent && { parent }) };
    const id = sha256(goJson(sortKeys(idInput))).slice('sha256:'.length);
    const withOs = top || !os ? v1 : { ...v1, os };
    out.push({ id, json: goJson(orderV1({ id, ...(parent && { parent: parent.slice('sha256:'.length) }), ...withOs })) });
    parent = `sha256:${id}`;
  });
  return out;
}

/** moby's V1Image view of an image config: what its Go struct keeps, in its order. */
function v1Image(config: Json): Json {
  const v1: Json = {};
  for (const k of ['comment'] as const) if (isSet(config[k])) v1[k] = config[k];
  v1.created = goTime(config.created);
  if (isSet(config.container)) v1.container = config.container;
  v1.container_config = containerConfig(config.container_config);
  for (const k of V1_TAIL_FIELDS) if (isSet(config[k])) v1[k] = config[k];
  if (config.config !== undefined && config.config !== null) v1.config = containerConfig(config.config);
  for (const k of V1_PLATFORM_FIELDS) if (isSet(config[k])) v1[k] = config[k];
  return v1;
}

function orderV1(v1: Json): Json {
  const order = ['id', 'parent', 'comment', 'created', 'container', 'container_config', ...V1_TAIL_FIELDS, 'config', ...V1_PLATFORM_FIELDS];
  const out: Json = {};
  for (const k of order) if (k in v1) out[k] = v1[k];
  return out;
}

function containerConfig(value: unknown): Json {
  const src = (value && typeof value === 'object' ? value : {}) as Json;
  const out: Json = {};
  for (const [field, omitEmpty, zero] of CONTAINER_CONFIG_FIELDS) {
    let v = src[field] ?? zero;
    // Go's strslice takes a bare string for a one-element list
    if ((field === 'Cmd' || field === 'Entrypoint' || field === 'Shell') && typeof v === 'string') v = [v];
    // Go maps marshal with sorted keys; set-like maps hold empty structs
    if ((field === 'Labels' || field === 'Volumes' || field === 'ExposedPorts') && v && typeof v === 'object') {
      v = sortKeys(field === 'Labels' ? (v as Json) : Object.fromEntries(Object.keys(v).map((k) => [k, {}])));
    }
    if (omitEmpty && isEmpty(v)) continue;
    out[field] = v;
  }
  return out;
}

function isSet(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

function sortKeys(o: Json): Json {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A timestamp as Go's time.Time marshals it: RFC 3339, fraction without trailing zeros. */
function goTime(value: unknown): string {
  const m = typeof value === 'string' ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(value) : null;
  if (!m) return '0001-01-01T00:00:00Z';
  const frac = (m[2] ?? '').replace(/0+$/, '');
  return `${m[1]}${frac ? `.${frac}` : ''}${m[3]}`;
}

/** JSON as Go's encoding/json writes it: compact, with <, >, & and U+2028/9 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
