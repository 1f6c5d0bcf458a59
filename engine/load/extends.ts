/**
 * `extends`: a service starts from another service (in the same file or another one) and
 * its own attributes are merged on top with the same rules as `-f` files. A base from
 * another file has its relative paths resolved against that file's directory first.
 */
import path from 'node:path';
import { ErrorList, StackError } from '../errors.js';
import { mergeValues } from './merge.js';
import { isMap, type PlainMap } from './plain.js';
import { locate, withoutKey } from './source-map.js';
import { didYouMean } from '../validate/suggest.js';

export interface ExtendsContext {
  /** the `services` mapping of another stack file, interpolated and with resolved paths */
  loadServices(file: string): { root: PlainMap; services: PlainMap };
  errors: ErrorList;
}

interface FileScope {
  file: string;
  root: PlainMap;
  services: PlainMap;
}

export function applyExtends(scope: FileScope, ctx: ExtendsContext): void {
  const done = new Set<string>();
  for (const name of Object.keys(scope.services)) {
    resolveService(scope, name, ctx, [], done);
  }
}

function resolveService(scope: FileScope, name: string, ctx: ExtendsContext, stack: string[], done: Set<string>): PlainMap | undefined {
  const id = `${scope.file}#${name}`;
  const svc = scope.services[name];
  if (!isMap(svc) || svc.extends === undefined || done.has(id)) return isMap(svc) ? svc : undefined;
  const where = ['services', name, 'extends'];
  const ext = svc.extends;
  const baseName = typeof ext === 'string' ? ext : isMap(ext) && typeof ext.service === 'string' ? ext.service : undefined;
  if (baseName === undefined) return svc; // the schema reports the malformed value
  if (stack.includes(id)) {
    const names = [...stack, id].map((s) => s.split('#')[1]);
    ctx.errors.add(
      new StackError(`extends cycle: ${names.join(' -> ')}`, {
        location: locate(scope.root, where),
        hint: 'a service cannot extend itself, directly or through others',
      }),
    );
    return undefined;
  }
  let baseScope = scope;
  if (isMap(ext) && typeof ext.file === 'string' && path.resolve(ext.file) !== path.resolve(scope.file)) {
    try {
      const loaded = ctx.loadServices(ext.file);
      baseScope = { file: ext.file, root: loaded.root, services: loaded.services };
    } catch (e) {
      if (e instanceof StackError && !e.location) {
        ctx.errors.add(new StackError(e.message, { location: locate(scope.root, [...where, 'file']), hint: e.hint, cause: e }));
        return undefined;
      }
      throw e;
    }
  }
  if (!isMap(baseScope.services[baseName])) {
    ctx.errors.add(
      new StackError(`service "${name}" extends "${baseName}", which is not defined in ${path.basename(baseScope.file)}`, {
        location: locate(scope.root, typeof ext === 'string' ? where : [...where, 'service']),
        hint: didYouMean(baseName, Object.keys(baseScope.services)) ?? 'name a service defined in that file',
      }),
    );
    return undefined;
  }
  const base = resolveService(baseScope, baseName, ctx, [...stack, id], done);
  if (!base) return undefined;
  const merged = mergeValues(withoutKey(base, 'extends'), withoutKey(svc, 'extends'), ['services', name]) as PlainMap;
  scope.services[name] = merged;
  done.add(id);
  return merged;
}
