/**
 * Relative paths in a stack file become absolute. Compose resolves them against the project
 * directory for every `-f` file, and against the declaring file's own directory for a
 * service taken from another file by `extends`; both callers use this one function with
 * the right base. Resolution is idempotent, so resolving twice is harmless.
 */
import { homedir } from 'node:os';
import path from 'node:path';
import { isMap, type PlainMap } from './plain.js';

export function resolvePath(base: string, p: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(homedir(), p.slice(1));
  return path.resolve(base, p);
}

/** A build context that is a URL or git reference stays as written. */
export function isRemoteContext(ctx: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/|github\.com\/|ssh:\/\/)/.test(ctx) || ctx.includes('.git#');
}

function isHostPath(src: string): boolean {
  return src.startsWith('.') || src.startsWith('/') || src.startsWith('~');
}

export function resolveServicePaths(service: PlainMap, base: string): void {
  const build = service.build;
  if (typeof build === 'string') {
    if (!isRemoteContext(build)) service.build = resolvePath(base, build);
  } else if (isMap(build)) {
    const ctx = typeof build.context === 'string' ? build.context : '.';
    if (!isRemoteContext(ctx)) build.context = resolvePath(base, ctx);
    const extra = build.additional_contexts;
    if (isMap(extra)) {
      for (const [k, v] of Object.entries(extra)) {
        if (typeof v === 'string' && isHostPath(v)) extra[k] = resolvePath(base, v);
      }
    } else if (Array.isArray(extra)) {
      extra.forEach((entry, i) => {
        if (typeof entry !== 'string') return;
        const eq = entry.indexOf('=');
        const v = entry.slice(eq + 1);
        if (eq > 0 && isHostPath(v)) extra[i] = `${entry.slice(0, eq)}=${resolvePath(base, v)}`;
      });
    }
  }
  const envFile = service.env_file;
  if (typeof envFile === 'string') service.env_file = resolvePath(base, envFile);
  else if (Array.isArray(envFile)) {
    envFile.forEach((e, i) => {
      if (typeof e === 'string') envFile[i] = resolvePath(base, e);
      else if (isMap(e) && typeof e.path === 'string') e.path = resolvePath(base, e.path);
    });
  }
  const labelFile = service.label_file;
  if (typeof labelFile === 'string') service.label_file = resolvePath(base, labelFile);
  else if (Array.isArray(labelFile)) {
    labelFile.forEach((e, i) => {
      if (typeof e === 'string') labelFile[i] = resolvePath(base, e);
    });
  }

  const ext = service.extends;
  if (isMap(ext) && typeof ext.file === 'string') ext.file = resolvePath(base, ext.file);

  const volumes = service.volumes;
  if (Array.isArray(volumes)) {
    volumes.forEach((v, i) => {
      if (typeof v === 'string') {
        const colon = v.indexOf(':');
        if (colon > 0 && isHostPath(v)) volumes[i] = resolvePath(base, v.slice(0, colon)) + v.slice(colon);
      } else if (isMap(v) && v.type === 'bind' && typeof v.source === 'string') {
        v.source = resolvePath(base, v.source);
      }
    });
  }
  const watch = isMap(service.develop) ? service.develop.watch : undefined;
  if (Array.isArray(watch)) {
    for (const rule of watch) if (isMap(rule) && typeof rule.path === 'string') rule.path = resolvePath(base, rule.path);
  }
}

/** `file:` of top-level secrets and configs. */
export function resolveFileSources(section: unknown, base: string): void {
  if (!isMap(section)) return;
  for (const def of Object.values(section)) {
    if (isMap(def) && typeof def.file === 'string') def.file = resolvePath(base, def.file);
  }
}

