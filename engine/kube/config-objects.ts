/**
 * ConfigMaps and Secrets: a service's environment (env_file contents are already folded
 * into it by the loader), the project's `secrets:` (Secrets) and `configs:` (ConfigMaps),
 * and files bind-mounted one at a time (ConfigMaps). File contents are read now, on the
 * machine that generates, as `up` reads them on the machine that runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';
import { locateInProject } from '../load/loader.js';
import type { SecretSource, Service, StringMap } from '../model/types.js';
import type { KubeContext } from './context.js';
import { serviceSelector, sortMetadata } from './labels.js';
import { kubeName } from './names.js';

/** etcd keeps objects of at most 1 MiB: a ConfigMap's or Secret's data cannot be larger. */
const MAX_DATA = 1024 * 1024;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** Where a mounted file comes from: the object and the key in it. */
export interface FileSource {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  key: string;
}

/** The service's environment as a ConfigMap for `envFrom`; undefined when it sets no variable. */
export function envConfigMap(ctx: KubeContext, service: Service): string | undefined {
  const data: StringMap = {};
  for (const [k, v] of Object.entries(service.environment)) {
    if (v === null) continue; // unset under `up` too: a key without a value and no variable to take it from
    if (!DATA_KEY.test(k)) {
      ctx.warnings.lossy(`services.${service.name}.environment`, `the variable "${k}" cannot be a ConfigMap key (letters, digits, "-", "_", "."): left out`);
      continue;
    }
    data[k] = v;
  }
  if (Object.keys(data).length === 0) return undefined;
  const name = kubeName(`${service.name}-env`);
  if (!fits(ctx, `services.${service.name}.environment`, Object.values(data).reduce((n, v) => n + Buffer.byteLength(v), 0))) return undefined;
  ctx.add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: ctx.metadata(name, serviceSelector(ctx.project.name, service.name)), data }, `the environment of service "${service.name}"`);
  return name;
}

/** A `secrets:` entry as a Secret (made once however many services mount it); undefined when it cannot be. */
export function secretSource(ctx: KubeContext, key: string): FileSource | undefined {
  return projectFile(ctx, 'secrets', key);
}

/** A `configs:` entry as a ConfigMap. */
export function configSource(ctx: KubeContext, key: string): FileSource | undefined {
  return projectFile(ctx, 'configs', key);
}

/** A file bind-mounted on its own, as a ConfigMap named after its path in the project. */
export function bindFileSource(ctx: KubeContext, file: string, at: string): FileSource | undefined {
  const rel = path.relative(ctx.project.working_dir, file);
  const name = kubeName(rel.startsWith('..') || path.isAbsolute(rel) ? file : rel);
  const key = dataKey(path.basename(file));
  const source: FileSource = { kind: 'ConfigMap', name, key };
  if (ctx.has('ConfigMap', name)) return source;
  const content = readFileSync(file);
  if (!fits(ctx, at, content.length)) return undefined;
  ctx.add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: ctx.metadata(name), ...configMapData(key, content) }, `the file ${file}`);
  return source;
}

function projectFile(ctx: KubeContext, section: 'secrets' | 'configs', key: string): FileSource | undefined {
  const src = ctx.project[section][key];
  if (!src) return undefined; // the loader reports references to undefined secrets and configs
  const kind = section === 'secrets' ? 'Secret' : 'ConfigMap';
  const at = `${section}.${key}`;
  const dk = dataKey(key);
  if (src.external) {
    const name = kubeName(src.name);
    ctx.warnings.advise(at, `external: the ${kind} "${name}" with the key "${dk}" must exist in the namespace`);
    return { kind, name, key: dk };
  }
  const name = kubeName(key);
  const source: FileSource = { kind, name, key: dk };
  if (ctx.has(kind, name)) return source;
  if (src.driver !== undefined || src.template_driver !== undefined) {
    ctx.warnings.lossy(at, `${src.driver !== undefined ? 'driver' : 'template_driver'} has no Kubernetes equivalent: the ${kind} holds the content as given`);
  }
  const content = sourceContent(ctx, section, key, src);
  if (!fits(ctx, at, content.length)) return undefined;
  const labels = sortMetadata(src.labels).labels;
  const metadata = ctx.metadata(name, labels);
  const origin = `${section === 'secrets' ? 'secret' : 'config'} "${key}"`;
  if (kind === 'Secret') ctx.add({ apiVersion: 'v1', kind: 'Secret', metadata, type: 'Opaque', data: { [dk]: content.toString('base64') } }, origin);
  else ctx.add({ apiVersion: 'v1', kind: 'ConfigMap', metadata, ...configMapData(dk, content) }, origin);
  return source;
}

function sourceContent(ctx: KubeContext, section: 'secrets' | 'configs', key: string, src: SecretSource): Buffer {
  const fail = (field: string, message: string, hint: string) =>
    new StackError(`${section}.${key}.${field}: ${message}`, { kind: 'not-found', location: locateInProject(ctx.project, `${section}.${key}.${field}`), hint });
  if (src.file !== undefined) {
    if (!existsSync(src.file)) throw fail('file', `${src.file} not found`, 'create the file, or point `file:` at it');
    return readFileSync(src.file);
  }
  if (src.environment !== undefined) {
    const value = ctx.project.environment[src.environment];
    if (value === undefined) throw fail('environment', `the variable ${src.environment} is not set`, 'set it in the environment or in .env');
    return Buffer.from(value);
  }
  return Buffer.from(src.content ?? '');
}

/** Text as `data`, anything else as `binaryData`, so the bytes arrive unchanged. */
function configMapData(key: string, content: Buffer): { data: StringMap } | { binaryData: StringMap } {
  const text = content.toString('utf8');
  return Buffer.from(text, 'utf8').equals(content) ? { data: { [key]: text } } : { binaryData: { [key]: content.toString('base64') } };
}

function dataKey(name: string): string {
  return DATA_KEY.test(name) ? name : name.replace(/[^-._a-zA-Z0-9]/g, '_');
}

function fits(ctx: KubeContext, at: string, bytes: number): boolean {
  if (bytes <= MAX_DATA) return true;
  ctx.warnings.lossy(at, `${bytes} bytes is more than a ConfigMap or Secret holds (1 MiB): left out`);
  return false;
}
