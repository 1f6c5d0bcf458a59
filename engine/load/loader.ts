/**
 * The front half of the pipeline in one readable function, in compose's order:
 * discover files -> environment -> project name -> per file: parse, interpolate, resolve
 * paths, extends, merge -> validate -> profiles -> normalize -> cross-references -> graph.
 * Data stays a plain tree until normalization; errors of one phase are gathered and
 * thrown together, each with its file:line:col.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorList, StackError, type Location } from '../errors.js';
import { DependencyGraph, type Edge } from '../graph/graph.js';
import { normalizeProject } from '../model/normalize.js';
import type { Project, StringMap } from '../model/types.js';
import { checkReferences } from '../validate/rules.js';
import { validateSchema } from '../validate/schema.js';
import { checkProjectName, discoverFiles, normalizeProjectName } from './discover.js';
import { parseDotenv } from './dotenv.js';
import { applyExtends } from './extends.js';
import { interpolateTree } from './interpolate.js';
import { mergeValues } from './merge.js';
import { resolveFileSources, resolvePath, resolveServicePaths } from './paths.js';
import { isMap, type PlainMap } from './plain.js';
import { locate } from './source-map.js';
import { substitute, TemplateError, type Lookup } from './template.js';
import { parseStackYaml, type SourceDocument } from './yaml-source.js';

export interface LoadOptions {
  /** where the command runs; defaults to process.cwd() */
  cwd?: string;
  /** `-f` files in order; `-` reads standard input */
  files?: readonly string[];
  /** `-p` */
  projectName?: string;
  /** `--project-directory` */
  projectDirectory?: string;
  /** `--env-file`, replacing the project's `.env` */
  envFiles?: readonly string[];
  /** `--profile`; defaults to STACK_PROFILES / COMPOSE_PROFILES */
  profiles?: readonly string[];
  /** services named on the command line: they are enabled whatever their profiles */
  services?: readonly string[];
  /** the process environment; defaults to process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** `--no-interpolate` */
  interpolate?: boolean;
  /** reads `-f -` */
  readStdin?: () => string;
}

export interface LoadedProject {
  project: Project;
  graph: DependencyGraph;
  warnings: string[];
}

const SECTIONS = ['networks', 'volumes', 'secrets', 'configs'] as const;

export function loadProject(options: LoadOptions = {}): LoadedProject {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const processEnv = options.env ?? process.env;
  const warnings: string[] = [];
  const errors = new ErrorList();

  const discovered = discoverFiles(cwd, options.files, processEnv);
  warnings.push(...discovered.warnings);
  const files = discovered.files;
  const projectDir = options.projectDirectory
    ? path.resolve(cwd, options.projectDirectory)
    : files[0] === '-' ? cwd : path.dirname(files[0]!);

  const environment = loadEnvironment(projectDir, cwd, options.envFiles, processEnv);
  const session = new Session(cwd, options, errors, warnings);
  const documents = files.flatMap((f) => session.parse(f));
  const name = projectName(options, environment, documents, projectDir, session.interpolate ? (n) => environment[n] : undefined);
  environment.COMPOSE_PROJECT_NAME = name;

  const merged = session.loadTree(documents, projectDir, environment, []);
  if (session.sawVersion) warnings.push('the top-level `version` is obsolete and ignored');

  for (const e of validateSchema(merged)) errors.add(e);
  errors.throwIfAny();
  if (!isMap(merged.services) || Object.keys(merged.services).length === 0) {
    if (!isMap(merged.services)) merged.services = {};
    warnings.push('the project defines no services');
  }

  const disabled = applyProfiles(merged, activeProfiles(options, environment), options.services ?? []);
  const project = normalizeProject(
    { name, workingDir: projectDir, configFiles: files, data: merged, environment, lookup: (n) => environment[n], disabled: [...disabled.keys()] },
    errors,
  );
  checkReferences(project, { root: merged, disabled, errors, warnings });
  errors.throwIfAny();
  sources.set(project, merged);

  const graph = DependencyGraph.fromProject(project, (e: Edge) =>
    locate(merged, e.kind === 'depends_on' ? ['services', e.from, 'depends_on', e.to] : ['services', e.from, e.kind], { key: true }),
  );
  return { project, graph, warnings: [...new Set(warnings)] };
}

/** each loaded project's merged data, whose nodes the source map knows */
const sources = new WeakMap<Project, unknown>();

/**
 * Where a node of the project's stack file is (`services.web.develop.watch.1`), for errors
 * found after loading (a watch rule's path that does not exist, say); undefined for a
 * project not made by loadProject.
 */
export function locateInProject(project: Project, dotted: string): Location | undefined {
  const root = sources.get(project);
  if (root === undefined) return undefined;
  return locate(root, dotted.split('.').map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg)));
}

type Located = SourceDocument & { abs: string };

/**
 * State shared by the main files and everything they reach through `include` and
 * `extends`: the error list, warnings, and the files already read.
 */
class Session {
  readonly interpolate: boolean;
  sawVersion = false;
  private readonly extendCache = new Map<string, { root: PlainMap; services: PlainMap }>();

  constructor(
    private readonly cwd: string,
    private readonly options: LoadOptions,
    private readonly errors: ErrorList,
    private readonly warnings: string[],
  ) {
    this.interpolate = options.interpolate !== false;
  }

  parse(file: string): Located[] {
    const text = file === '-' ? (this.options.readStdin ? this.options.readStdin() : readFileSync(0, 'utf8')) : readFileSync(file, 'utf8');
    return parseStackYaml(text, this.display(file)).map((d) => ({ ...d, abs: file }));
  }

  display(file: string): string {
    return file === '-' ? '(stdin)' : displayPath(this.cwd, file);
  }

  /** Interpolates, resolves paths, applies `include` and `extends`, and merges the documents in order. */
  loadTree(documents: readonly Located[], projectDir: string, environment: StringMap, chain: readonly string[]): PlainMap {
    const lookup: Lookup = (n) => environment[n];
    let merged: PlainMap = {};
    for (const doc of documents) {
      const data = doc.data;
      if ('version' in data) this.sawVersion = true;
      delete data.version;
      delete data.name;
      this.prepare(data, projectDir, lookup);
      if (data.include !== undefined) this.applyInclude(doc, projectDir, environment, [...chain, doc.abs]);
      if (isMap(data.services)) {
        const loadServices = (file: string) => this.extendedFile(file, lookup);
        applyExtends({ file: doc.abs, root: data, services: data.services }, { loadServices, errors: this.errors });
      }
      merged = mergeValues(merged, data, []) as PlainMap;
    }
    return merged;
  }

  private prepare(data: PlainMap, baseDir: string, lookup: Lookup): void {
    if (this.interpolate) {
      const { missing } = interpolateTree(data, lookup, this.errors);
      for (const m of missing) this.warnings.push(`the "${m}" variable is not set; using an empty string`);
    }
    for (const section of SECTIONS) {
      const entries = data[section];
      if (!isMap(entries)) continue;
      for (const [k, v] of Object.entries(entries)) if (v === null) entries[k] = {};
    }
    if (isMap(data.services)) for (const svc of Object.values(data.services)) if (isMap(svc)) resolveServicePaths(svc, baseDir);
    resolveFileSources(data.secrets, baseDir);
    resolveFileSources(data.configs, baseDir);
  }

  /** A file reached through `extends: {file}`, read once, its paths relative to its own directory. */
  private extendedFile(file: string, lookup: Lookup): { root: PlainMap; services: PlainMap } {
    const cached = this.extendCache.get(file);
    if (cached) return cached;
    if (!existsSync(file)) {
      throw new StackError(`extends: file ${file} not found`, { kind: 'not-found', hint: 'the path is relative to the file that declares `extends`' });
    }
    let root: PlainMap = {};
    for (const d of this.parse(file)) {
      this.prepare(d.data, path.dirname(file), lookup);
      root = mergeValues(root, d.data, []) as PlainMap;
    }
    const entry = { root, services: isMap(root.services) ? root.services : {} };
    this.extendCache.set(file, entry);
    return entry;
  }

  /**
   * `include`: each entry is a project of its own (its directory, its `.env` or `env_file`,
   * the including environment winning), whose resources join this file's. A resource
   * defined on both sides differently is a conflict, as in compose.
   */
  private applyInclude(doc: Located, projectDir: string, environment: StringMap, chain: readonly string[]): void {
    const data = doc.data;
    const entries = data.include;
    delete data.include;
    if (!Array.isArray(entries)) return; // the schema reports the shape
    entries.forEach((raw, i) => {
      const entry = typeof raw === 'string' ? { path: raw } : isMap(raw) ? raw : undefined;
      if (!entry) return;
      const paths = (Array.isArray(entry.path) ? entry.path : [entry.path]).filter((p): p is string => typeof p === 'string');
      if (paths.length === 0) return;
      const files = paths.map((p) => resolvePath(projectDir, p));
      const fail = (message: string, hint: string) => this.errors.add(new StackError(message, { location: locate(entries, [i]), hint }));
      const missing = files.find((f) => !existsSync(f));
      if (missing) return fail(`included file ${missing} not found`, 'include paths are relative to the project directory');
      if (chain.includes(files[0]!)) {
        return fail(`include cycle: ${[...chain, files[0]!].map((f) => this.display(f)).join(' -> ')}`, 'a file cannot include itself, directly or through others');
      }
      const dir = typeof entry.project_directory === 'string' ? resolvePath(projectDir, entry.project_directory) : path.dirname(files[0]!);
      const envFiles = entry.env_file === undefined ? [] : (Array.isArray(entry.env_file) ? entry.env_file : [entry.env_file]).map((f) => resolvePath(projectDir, String(f)));
      const fromFiles = loadEnvironment(dir, projectDir, envFiles.length > 0 ? envFiles : undefined, {});
      const included = this.loadTree(files.flatMap((f) => this.parse(f)), dir, { ...fromFiles, ...environment }, chain);
      for (const section of ['services', ...SECTIONS] as const) {
        const incoming = included[section];
        if (!isMap(incoming)) continue;
        const target = isMap(data[section]) ? data[section] : (data[section] = {});
        for (const [key, value] of Object.entries(incoming)) {
          if (key in target && JSON.stringify(target[key]) !== JSON.stringify(value)) {
            this.errors.add(
              new StackError(`${section}.${key} is defined both here and in the included ${this.display(files[0]!)}`, {
                location: locate(data, [section, key], { key: true }),
                kind: 'conflict',
                hint: 'rename one of them, or remove it from one file',
              }),
            );
            continue;
          }
          target[key] = value;
        }
      }
    });
  }
}

/** Process environment over the project's `.env` (or the `--env-file`s, in order). */
function loadEnvironment(projectDir: string, cwd: string, envFiles: readonly string[] | undefined, processEnv: Readonly<Record<string, string | undefined>>): StringMap {
  const fromProcess: StringMap = {};
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) fromProcess[k] = v;
  const env: StringMap = {};
  const lookup: Lookup = (n) => fromProcess[n] ?? env[n];
  const explicit = envFiles && envFiles.length > 0;
  const list = explicit ? envFiles.map((f) => path.resolve(cwd, f)) : [path.join(projectDir, '.env')];
  for (const file of list) {
    if (!existsSync(file)) {
      if (explicit) throw new StackError(`env file ${file} not found`, { kind: 'not-found', hint: 'check the path given with --env-file' });
      continue;
    }
    for (const [k, v] of parseDotenv(readFileSync(file, 'utf8'), displayPath(cwd, file), lookup)) {
      if (v !== undefined) env[k] = v;
    }
  }
  return { ...env, ...fromProcess };
}

function projectName(
  options: LoadOptions,
  environment: StringMap,
  documents: readonly SourceDocument[],
  projectDir: string,
  lookup: Lookup | undefined,
): string {
  if (options.projectName !== undefined) return checkProjectName(options.projectName, '-p');
  const fromEnv = environment.STACK_PROJECT_NAME ?? environment.COMPOSE_PROJECT_NAME;
  if (fromEnv) return checkProjectName(fromEnv, environment.STACK_PROJECT_NAME ? 'STACK_PROJECT_NAME' : 'COMPOSE_PROJECT_NAME');
  for (const doc of [...documents].reverse()) {
    const raw = doc.data.name;
    if (typeof raw !== 'string' || raw === '') continue;
    let value = raw;
    if (lookup) {
      try {
        value = substitute(raw, lookup).value;
      } catch (e) {
        if (e instanceof TemplateError) throw new StackError(`name: ${e.message}`, { location: locate(doc.data, ['name']), hint: e.hint });
        throw e;
      }
    }
    const n = normalizeProjectName(value);
    if (n === '') throw new StackError(`the project name ${JSON.stringify(value)} has no usable characters`, { location: locate(doc.data, ['name']), hint: 'use lowercase letters, digits, dashes and underscores' });
    return n;
  }
  const n = normalizeProjectName(path.basename(projectDir));
  if (n === '') {
    throw new StackError(`cannot derive a project name from the directory ${projectDir}`, { hint: 'set one with -p or a top-level `name:`' });
  }
  return n;
}

function activeProfiles(options: LoadOptions, environment: StringMap): Set<string> {
  if (options.profiles && options.profiles.length > 0) return new Set(options.profiles);
  const fromEnv = environment.STACK_PROFILES ?? environment.COMPOSE_PROFILES ?? '';
  return new Set(fromEnv.split(',').map((s) => s.trim()).filter(Boolean));
}

/** Removes services whose profiles are all inactive; returns them with their profiles. */
function applyProfiles(data: PlainMap, active: Set<string>, named: readonly string[]): Map<string, string[]> {
  const disabled = new Map<string, string[]>();
  const services = isMap(data.services) ? data.services : {};
  for (const [name, svc] of Object.entries(services)) {
    const profiles = isMap(svc) && Array.isArray(svc.profiles) ? svc.profiles.map(String) : [];
    if (profiles.length === 0 || named.includes(name) || active.has('*') || profiles.some((p) => active.has(p))) continue;
    disabled.set(name, profiles);
    delete services[name];
  }
  return disabled;
}

function displayPath(cwd: string, file: string): string {
  const rel = path.relative(cwd, file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}
