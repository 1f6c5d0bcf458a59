/**
 * Validation against schemas/compose.schema.json with ajv, compiled once per process.
 * ajv reports every failing branch of a `oneOf`; users need the one cause that matters,
 * in plain words, at the node's file:line:col. rewrite() does that translation.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { StackError } from '../errors.js';
import { DIST, PACKAGE_ROOT } from '../program-files.js';
import { locate, type PathSegment } from '../load/source-map.js';
import { suggest } from './suggest.js';

/**
 * The validator is compiled from the schema at build time (scripts/compile-schema.mjs)
 * into dist/schemas/compose-validator.cjs: compiling at run time would cost every command
 * tens of milliseconds.
 */
const VALIDATOR_MODULE = path.join(DIST, 'schemas/compose-validator.cjs');

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= createRequire(VALIDATOR_MODULE)(VALIDATOR_MODULE) as ValidateFunction;
  return compiled;
}

export const SCHEMA_FILE = path.join(PACKAGE_ROOT, 'schemas/compose.schema.json');

export function loadSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
}

/** Validates `data`; returns one StackError per distinct problem, positioned in `root`'s source. */
export function validateSchema(data: unknown): StackError[] {
  const validate = validator();
  if (validate(data)) return [];
  return rewrite(validate.errors ?? [], data);
}

interface Issue {
  path: PathSegment[];
  /** the offending mapping key, for unknown-key errors */
  key?: string;
  message: string;
  hint?: string;
}

export function rewrite(errors: readonly ErrorObject[], root: unknown): StackError[] {
  const issues = pickCauses(errors);
  const seen = new Set<string>();
  const out: StackError[] = [];
  for (const issue of issues) {
    // an unknown key is reported on the mapping that holds it: `services.web: unknown key "enviroment"`
    const pathText = formatModelPath(issue.path);
    const id = `${pathText}\0${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const location =
      issue.key === undefined ? locate(root, issue.path) : locate(root, [...issue.path, issue.key], { key: true });
    const modelPath = formatModelPath(issue.key === undefined ? issue.path : [...issue.path, issue.key]);
    const prefix = pathText === '' ? 'top level' : pathText;
    out.push(new StackError(`${prefix}: ${issue.message}`, { location, path: modelPath, hint: issue.hint }));
  }
  return out;
}

/**
 * For each oneOf/anyOf, keep the errors of the branch the value was meant for: a branch
 * that failed below the value's own level (an unknown key, a wrong nested type) matched
 * the value's shape, so its errors are the cause; when every branch failed on the type of
 * the value itself, say which types would do.
 */
function pickCauses(errors: readonly ErrorObject[]): Issue[] {
  let pool = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const alternatives = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => depth(b.instancePath) - depth(a.instancePath));
  const merged: Issue[] = [];
  for (const alt of alternatives) {
    const p = alt.instancePath;
    const inside = pool.filter((e) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    if (inside.length === 0) continue;
    const required = inside.filter((e) => e.keyword === 'required' && e.instancePath === p);
    if (required.length === inside.length && required.length > 1) {
      // every branch wants a different key: say which keys would do
      pool = pool.filter((e) => !inside.includes(e));
      const keys = [...new Set(required.map((e) => String(e.params.missingProperty)))];
      merged.push({ path: toPath(p), message: `needs one of the keys ${keys.join(', ')}` });
      continue;
    }
    const shallow = (e: ErrorObject) => e.instancePath === p && (e.keyword === 'type' || e.keyword === 'const');
    const specific = inside.filter((e) => !shallow(e));
    if (specific.length > 0) {
      pool = pool.filter((e) => !(inside.includes(e) && shallow(e)));
      // a branch that failed only on the value's type is not the cause when another branch got further
      continue;
    }
    const types = new Set<string>();
    for (const e of inside) {
      if (e.keyword === 'type') for (const t of String(e.params.type).split(',')) types.add(t);
      if (e.keyword === 'const') types.add(JSON.stringify(e.params.allowedValue));
    }
    pool = pool.filter((e) => !inside.includes(e));
    merged.push({ path: toPath(p), message: `must be ${joinAlternatives([...types].map(typeName))}` });
  }
  return [...merged, ...pool.map(describe)];
}

function describe(e: ErrorObject): Issue {
  const path = toPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const parent = (e.parentSchema ?? {}) as { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown> };
      const known = Object.keys(parent.properties ?? {});
      if (known.length === 0) {
        return {
          path,
          key,
          message: `${JSON.stringify(key)} is not a valid name`,
          hint: 'names may contain letters, digits, ".", "_" and "-" only',
        };
      }
      const suggestion = suggest(key, known);
      return {
        path,
        key,
        message: `unknown key ${JSON.stringify(key)}`,
        hint: suggestion ? `did you mean "${suggestion}"?` : `allowed keys here: ${known.join(', ')}; custom keys must start with "x-"`,
      };
    }
    case 'type': {
      if (/duration/.test(e.schemaPath)) return { path, message: `must be a duration written as text, like "30s" or "1m30s"` };
      const parent = (e.parentSchema ?? {}) as { enum?: unknown[] };
      if (parent.enum) return { path, message: `must be one of ${parent.enum.map(String).join(', ')}` };
      return { path, message: `must be ${joinAlternatives(String(params.type).split(',').map(typeName))}` };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const suggestion = typeof e.data === 'string' ? suggest(e.data, allowed) : undefined;
      return {
        path,
        message: `${JSON.stringify(e.data)} is not one of ${allowed.join(', ')}`,
        hint: suggestion ? `did you mean "${suggestion}"?` : undefined,
      };
    }
    case 'pattern':
      return { path, message: patternMessage(e) };
    case 'required':
      return { path, message: `missing required key ${JSON.stringify(params.missingProperty)}` };
    case 'uniqueItems':
      return { path, message: `has a duplicate entry (items ${params.j} and ${params.i} are the same)`, hint: 'remove the repeated entry' };
    case 'minProperties':
    case 'maxProperties':
    case 'minItems':
    case 'maxItems':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    default:
      return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

function patternMessage(e: ErrorObject): string {
  const schemaRef = e.schemaPath;
  const value = JSON.stringify(e.data);
  if (/duration/.test(schemaRef)) return `${value} is not a duration (write it like 30s, 1m30s or 500ms)`;
  if (/byte|size/.test(schemaRef)) return `${value} is not a size (write it like 512m, 1g or 1024)`;
  return `${value} does not have the expected format`;
}

function typeName(t: string): string {
  switch (t) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean (true or false)';
    case 'null':
      return 'empty';
    default:
      return t;
  }
}

function joinAlternatives(items: string[]): string {
  const uniq = [...new Set(items)];
  if (uniq.length <= 1) return uniq[0] ?? 'something else';
  return `${uniq.slice(0, -1).join(', ')} or ${uniq[uniq.length - 1]}`;
}

function toPath(instancePath: string): PathSegment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function depth(instancePath: string): number {
  return instancePath === '' ? 0 : instancePath.split('/').length;
}

/** `services.web.ports[0]` */
export function formatModelPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}
