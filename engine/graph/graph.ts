/**
 * The service dependency graph. Edges come from `depends_on` (with its condition,
 * `required` and `restart`), `links`, `network_mode: service:x` and `volumes_from`.
 * Levels group services that can start together (every dependency in an earlier level);
 * stop order is the reverse. Cycles are errors that name the whole cycle.
 */
import { StackError, type Location } from '../errors.js';
import type { DependencyCondition, Project } from '../model/types.js';
import { didYouMean } from '../validate/suggest.js';

export type EdgeKind = 'depends_on' | 'links' | 'network_mode' | 'volumes_from';

export interface Edge {
  /** the dependent service */
  from: string;
  /** the service it needs */
  to: string;
  kind: EdgeKind;
  condition: DependencyCondition;
  required: boolean;
  restart: boolean;
}

export type EdgeLocator = (edge: Edge) => Location | undefined;

export class DependencyGraph {
  private readonly out = new Map<string, Edge[]>();
  private readonly in = new Map<string, Edge[]>();

  private constructor(readonly nodes: readonly string[], edges: readonly Edge[]) {
    for (const n of nodes) {
      this.out.set(n, []);
      this.in.set(n, []);
    }
    for (const e of edges) {
      this.out.get(e.from)?.push(e);
      this.in.get(e.to)?.push(e);
    }
  }

  /** Builds the graph of the project's active services; edges to unknown services are left out (the loader reports them). */
  static fromProject(project: Project, locateEdge?: EdgeLocator): DependencyGraph {
    const names = Object.keys(project.services).sort();
    const known = new Set(names);
    const edges: Edge[] = [];
    const add = (e: Edge) => {
      if (known.has(e.to) && !edges.some((x) => x.from === e.from && x.to === e.to && x.kind === e.kind)) edges.push(e);
    };
    for (const name of names) {
      const s = project.services[name]!;
      for (const [to, d] of Object.entries(s.depends_on)) add({ from: name, to, kind: 'depends_on', ...d });
      const implicit = { condition: 'service_started' as const, required: true, restart: false };
      for (const link of s.links ?? []) add({ from: name, to: link.split(':')[0]!, kind: 'links', ...implicit });
      if (s.network_mode?.startsWith('service:')) add({ from: name, to: s.network_mode.slice(8), kind: 'network_mode', ...implicit });
      for (const vf of s.volumes_from ?? []) {
        if (!vf.startsWith('container:')) add({ from: name, to: vf.split(':')[0]!, kind: 'volumes_from', ...implicit });
      }
    }
    const graph = new DependencyGraph(names, edges);
    const cycle = graph.findCycle();
    if (cycle) {
      // point at the dependency that closes the circle
      const closing = graph.out.get(cycle[cycle.length - 2]!)!.find((e) => e.to === cycle[cycle.length - 1]);
      throw new StackError(`dependency cycle: ${cycle.join(' -> ')}`, {
        location: closing && locateEdge?.(closing),
        hint: 'services cannot depend on each other in a circle: remove one of these dependencies',
      });
    }
    return graph;
  }

  /** Edges from `name` to the services it needs. */
  dependencies(name: string): readonly Edge[] {
    return this.out.get(name) ?? [];
  }

  /** Edges from services that need `name`. */
  dependents(name: string): readonly Edge[] {
    return this.in.get(name) ?? [];
  }

  /** Start order: level 0 has no dependencies; every service's dependencies are in earlier levels. */
  levels(within: Iterable<string> = this.nodes): string[][] {
    const set = new Set(within);
    const level = new Map<string, number>();
    const visit = (n: string): number => {
      const known = level.get(n);
      if (known !== undefined) return known;
      let l = 0;
      for (const e of this.dependencies(n)) if (set.has(e.to)) l = Math.max(l, visit(e.to) + 1);
      level.set(n, l);
      return l;
    };
    const out: string[][] = [];
    for (const n of [...set].sort()) {
      const l = visit(n);
      (out[l] ??= []).push(n);
    }
    return out.filter((l) => l !== undefined);
  }

  /** Stop order: dependents before what they depend on. */
  stopLevels(within: Iterable<string> = this.nodes): string[][] {
    return this.levels(within).reverse();
  }

  /** The named services plus everything they transitively need. */
  select(names: readonly string[]): Set<string> {
    const out = new Set<string>();
    const stack = [...names];
    for (const n of names) {
      if (!this.out.has(n)) {
        throw new StackError(`no such service: ${n}`, {
          kind: 'not-found',
          hint: didYouMean(n, this.nodes) ?? (this.nodes.length > 0 ? `services: ${this.nodes.join(', ')}` : 'the project has no services'),
        });
      }
    }
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (out.has(n)) continue;
      out.add(n);
      for (const e of this.dependencies(n)) stack.push(e.to);
    }
    return out;
  }

  /** A cycle as a closed walk (`[a, b, a]`), or undefined. */
  findCycle(): string[] | undefined {
    const state = new Map<string, 'active' | 'done'>();
    const path: string[] = [];
    const visit = (n: string): string[] | undefined => {
      state.set(n, 'active');
      path.push(n);
      for (const e of this.dependencies(n)) {
        const s = state.get(e.to);
        if (s === 'active') return [...path.slice(path.indexOf(e.to)), e.to];
        if (s === undefined) {
          const c = visit(e.to);
          if (c) return c;
        }
      }
      path.pop();
      state.set(n, 'done');
      return undefined;
    };
    for (const n of this.nodes) {
      if (state.has(n)) continue;
      const c = visit(n);
      if (c) return c;
    }
    return undefined;
  }
}
