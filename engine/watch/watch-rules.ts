/**
 * A service's `develop.watch` rules, checked once and made ready to match paths: which
 * files a rule sees (its `ignore` and `include` in .dockerignore syntax relative to the
 * rule's `path`, the build context's .dockerignore for `rebuild`, editor temp files and
 * `.git` always left out), where they land (`target`), and what runs after a sync.
 * Everything a user can get wrong is an error naming the rule: `services.web.develop.watch[0]`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { split as shellSplit } from 'shlex';
import { StackError } from '../errors.js';
import { locateInProject } from '../load/loader.js';
import { IgnoreMatcher, parseDockerignore } from '../image/context/dockerignore.js';
import type { Project, Service, WatchRule } from '../model/types.js';

export type WatchAction = WatchRule['action'];

export interface WatchExec {
  command: string[];
  user?: string;
  privileged: boolean;
  workingDir?: string;
  environment: Record<string, string>;
}

export interface CompiledRule {
  service: string;
  index: number;
  /** `services.web.develop.watch[0]`, for messages */
  name: string;
  /** absolute host path: a directory, or one file */
  path: string;
  /** whether `path` is a directory (a file rule syncs that file to `target` itself) */
  isDir: boolean;
  action: WatchAction;
  /** absolute container path, for the sync actions */
  target?: string;
  initialSync: boolean;
  exec?: WatchExec;
  /** whether the rule leaves out `abs` (a host path under `path`); `dir`: it is a directory */
  ignores(abs: string, dir: boolean): boolean;
}

/**
 * The patterns compose's watcher always leaves out (compose-go's ephemeral path matcher):
 * swap, backup and lock files of vim, emacs, kate and JetBrains IDEs, Go's umask probe,
 * and .git.
 */
const ALWAYS_IGNORED = [
  '**/.git',
  '**/4913',
  '**/*~',
  '**/.*.swp',
  '**/.*.swx',
  '**/.*.swo',
  '**/.*.swn',
  '**/.#*',
  '**/#*#',
  '**/.*.kate-swp',
  '**/*___jb_old___',
  '**/*___jb_tmp___',
  '**/*-go-tmp-umask',
];
const always = new IgnoreMatcher(ALWAYS_IGNORED);

const SYNCS: ReadonlySet<WatchAction> = new Set(['sync', 'sync+restart', 'sync+exec']);

export function isSyncAction(action: WatchAction): boolean {
  return SYNCS.has(action);
}

/** The rules of `services` (every service of the project with rules when empty). */
export function compileWatchRules(project: Project, services: readonly string[] = []): CompiledRule[] {
  const names = services.length > 0 ? services : Object.keys(project.services).sort();
  const out: CompiledRule[] = [];
  for (const name of names) {
    const service = project.services[name];
    if (!service) throw new StackError(`no such service: ${name}`, { kind: 'not-found' });
    (service.develop?.watch ?? []).forEach((rule, i) => out.push(compileRule(project, service, rule, i)));
  }
  return out;
}

function compileRule(project: Project, service: Service, rule: WatchRule, index: number): CompiledRule {
  const name = `services.${service.name}.develop.watch[${index}]`;
  const dotted = `services.${service.name}.develop.watch.${index}`;
  const fail = (message: string, hint?: string, kind: 'invalid' | 'not-found' = 'invalid') =>
    new StackError(`${name}: ${message}`, { kind, path: dotted, location: locateInProject(project, dotted), hint });
  let isDir: boolean;
  try {
    isDir = statSync(rule.path).isDirectory();
  } catch {
    throw fail(`path ${rule.path} does not exist`, 'paths are relative to the project directory', 'not-found');
  }
  if (rule.action === 'rebuild' && !service.build) {
    throw fail(`action rebuild needs a build section in service "${service.name}"`, 'add `build:` to the service, or use sync or restart');
  }
  let target: string | undefined;
  if (isSyncAction(rule.action)) {
    if (rule.target === undefined || rule.target === '') throw fail(`action ${rule.action} needs a target`, 'the container path the files are copied to, e.g. target: /app');
    if (!rule.target.startsWith('/')) throw fail(`target ${rule.target} is not an absolute path`);
    target = path.posix.normalize(rule.target);
  }
  let exec: WatchExec | undefined;
  if (rule.action === 'sync+exec') {
    exec = execOf(rule.exec, fail);
  }
  const matcher = (what: string, patterns: readonly string[] | undefined) => {
    if (patterns === undefined) return undefined;
    try {
      return new IgnoreMatcher(patterns);
    } catch (e) {
      throw fail(`${what}: ${(e as Error).message}`);
    }
  };
  const ignore = matcher('ignore', rule.ignore);
  const include = matcher('include', rule.include);
  const context = rule.action === 'rebuild' ? contextIgnores(service) : undefined;
  const root = rule.path;
  const ignores = (abs: string, dir: boolean): boolean => {
    const rel = path.relative(root, abs).split(path.sep).join('/');
    if (rel.startsWith('..') || path.isAbsolute(rel)) return true;
    const relOrName = rel === '' ? path.basename(abs) : rel;
    if (always.matches(relOrName)) return true;
    if (rel !== '' && ignore?.matches(rel)) return true;
    // a directory stays watched: what it holds may be included
    if (include && !dir && !include.matches(relOrName)) return true;
    if (context) {
      const inContext = path.relative(context.root, abs).split(path.sep).join('/');
      if (inContext !== '' && !inContext.startsWith('..') && context.matcher.matches(inContext)) return true;
    }
    return false;
  };
  return {
    service: service.name,
    index,
    name,
    path: root,
    isDir,
    action: rule.action,
    ...(target !== undefined && { target }),
    initialSync: rule.initial_sync === true,
    ...(exec && { exec }),
    ignores,
  };
}

function contextIgnores(service: Service): { root: string; matcher: IgnoreMatcher } | undefined {
  const root = service.build!.context;
  const dockerfile = service.build!.dockerfile !== undefined ? path.resolve(root, service.build!.dockerfile) : undefined;
  const file = [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), path.join(root, '.dockerignore')].find((f) => existsSync(f));
  if (!file) return undefined;
  return { root, matcher: new IgnoreMatcher(parseDockerignore(readFileSync(file, 'utf8'))) };
}

function execOf(raw: Record<string, unknown> | undefined, fail: (message: string, hint?: string) => StackError): WatchExec {
  const command = raw?.command;
  const args = typeof command === 'string' ? shellSplit(command) : Array.isArray(command) ? command.map(String) : [];
  if (args.length === 0) throw fail('action sync+exec needs exec.command', 'for example exec: { command: kill -HUP 1 }');
  const environment: Record<string, string> = {};
  const env = raw?.environment;
  if (Array.isArray(env)) {
    for (const item of env) {
      const s = String(item);
      const eq = s.indexOf('=');
      if (eq > 0) environment[s.slice(0, eq)] = s.slice(eq + 1);
    }
  } else if (env !== null && typeof env === 'object') {
    for (const [k, v] of Object.entries(env)) if (v !== null && v !== undefined) environment[k] = String(v);
  }
  return {
    command: args,
    ...(typeof raw?.user === 'string' && { user: raw.user }),
    privileged: raw?.privileged === true,
    ...(typeof raw?.working_dir === 'string' && { workingDir: raw.working_dir }),
    environment,
  };
}
