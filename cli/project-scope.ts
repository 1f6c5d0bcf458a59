/**
 * What the commands acting on a project's existing containers share (logs, exec, start,
 * stop, restart, kill, rm, top, stats): the project of the stack file, its graph, the
 * services named on the command line checked against it, and their containers, found by
 * their labels.
 */
import { StackError } from '../engine/errors.js';
import type { DependencyGraph } from '../engine/graph/graph.js';
import { loadProject } from '../engine/index.js';
import type { Project } from '../engine/model/types.js';
import { LABELS, projectRecords } from '../engine/reconcile/project-containers.js';
import { Reconciler } from '../engine/reconcile/reconciler.js';
import type { ContainerRecord } from '../engine/runtime/containers.js';
import { enginePaths } from '../engine/runtime/paths.js';
import type { CommandContext } from './command.js';
import { loadOptionsFrom } from './commands/config.js';

export interface ProjectScope {
  project: Project;
  graph: DependencyGraph;
  reconciler: Reconciler;
  /** the services named on the command line; empty for all */
  services: string[];
}

/** Loads the project; a named service it does not have is a `not-found` error with a suggestion. */
export function openProject(ctx: CommandContext, services: readonly string[]): ProjectScope {
  const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx, { services }));
  for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
  graph.select(services);
  return { project, graph, reconciler: new Reconciler(enginePaths(ctx.env)), services: [...services] };
}

export interface ContainerSelection {
  /** one-off containers (`stack run`) too */
  oneOff?: boolean;
  /** only the container with this number */
  index?: number;
}

/**
 * The project's containers of the scope's services (all of the project's services when
 * none was named: containers of services no longer in the stack file are left out, as
 * compose does), ordered by service and number, one-off containers last.
 */
export function scopeContainers(scope: ProjectScope, opts: ContainerSelection = {}): ContainerRecord[] {
  const wanted = new Set(scope.services.length > 0 ? scope.services : Object.keys(scope.project.services));
  const oneOff = (r: ContainerRecord) => r.labels[LABELS.oneoff] === 'True';
  const number = (r: ContainerRecord) => Number(r.labels[LABELS.number] ?? 0);
  return projectRecords(scope.reconciler.containers, scope.project.name)
    .filter((r) => wanted.has(r.labels[LABELS.service] ?? '') && (opts.oneOff || !oneOff(r)) && (opts.index === undefined || number(r) === opts.index))
    .sort((a, b) => Number(oneOff(a)) - Number(oneOff(b)) || (a.labels[LABELS.service] ?? '').localeCompare(b.labels[LABELS.service] ?? '') || number(a) - number(b) || a.id.localeCompare(b.id));
}

/** `--index N`: a positive container number, which needs exactly one service. */
export function indexOption(value: unknown, services: readonly string[]): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new StackError(`--index ${String(value)}: expected a container number (1, 2, ...)`);
  if (services.length !== 1) throw new StackError('--index needs exactly one service', { hint: 'name the service whose replica you mean' });
  return n;
}
