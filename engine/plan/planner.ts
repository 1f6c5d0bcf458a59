/**
 * `up`'s plan: the desired services (config hash, replicas) against the containers that
 * exist (their labels and state), as actions per container. Pure, so `up --dry-run` prints
 * exactly what `up` would do, and the rules are tested without containers:
 * - a container whose config hash differs is recreated (unless --no-recreate), every one
 *   with --force-recreate;
 * - an unchanged container is kept if running, started if stopped;
 * - missing replicas are created, surplus ones removed (highest numbers first, as compose);
 * - containers of services no longer in the project are orphans: removed with
 *   --remove-orphans, else reported.
 */

export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';

export interface ObservedContainer {
  id: string;
  service: string;
  number: number;
  oneoff: boolean;
  configHash: string;
  state: ContainerState;
}

export interface DesiredService {
  name: string;
  replicas: number;
  configHash: string;
}

export type Action =
  | { kind: 'create'; service: string; number: number }
  | { kind: 'recreate'; service: string; number: number; id: string; reason: string }
  | { kind: 'start'; service: string; number: number; id: string }
  | { kind: 'keep'; service: string; number: number; id: string }
  | { kind: 'remove'; service: string; number: number; id: string; reason: 'orphan' | 'scale' };

export interface PlanOptions {
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  /** services of the project that are not selected: their containers are left alone, not orphans */
  known?: readonly string[];
}

export interface Plan {
  /** actions per desired service, in replica order */
  services: Map<string, Action[]>;
  /** orphan removals (only with removeOrphans) */
  orphans: Action[];
  warnings: string[];
}

export function plan(desired: readonly DesiredService[], observed: readonly ObservedContainer[], opts: PlanOptions = {}): Plan {
  const services = new Map<string, Action[]>();
  const warnings: string[] = [];
  const serviceContainers = observed.filter((c) => !c.oneoff);
  for (const want of desired) {
    const mine = serviceContainers.filter((c) => c.service === want.name).sort((a, b) => a.number - b.number);
    const actions: Action[] = [];
    const kept = mine.slice(0, want.replicas);
    for (const c of kept) {
      const changed = c.configHash !== want.configHash;
      if (opts.forceRecreate || (changed && !opts.noRecreate)) {
        actions.push({ kind: 'recreate', service: want.name, number: c.number, id: c.id, reason: opts.forceRecreate ? 'forced' : 'configuration changed' });
      } else if (c.state === 'running') {
        actions.push({ kind: 'keep', service: want.name, number: c.number, id: c.id });
      } else {
        actions.push({ kind: 'start', service: want.name, number: c.number, id: c.id });
      }
    }
    // new replicas take the lowest free numbers
    const used = new Set(kept.map((c) => c.number));
    let next = 1;
    for (let i = kept.length; i < want.replicas; i++) {
      while (used.has(next)) next++;
      used.add(next);
      actions.push({ kind: 'create', service: want.name, number: next });
    }
    for (const c of mine.slice(want.replicas).reverse()) actions.push({ kind: 'remove', service: want.name, number: c.number, id: c.id, reason: 'scale' });
    services.set(want.name, actions);
  }
  const known = new Set([...desired.map((d) => d.name), ...(opts.known ?? [])]);
  const orphanContainers = serviceContainers.filter((c) => !known.has(c.service));
  const orphans: Action[] = [];
  if (orphanContainers.length > 0) {
    if (opts.removeOrphans) {
      for (const c of orphanContainers) orphans.push({ kind: 'remove', service: c.service, number: c.number, id: c.id, reason: 'orphan' });
    } else {
      const names = [...new Set(orphanContainers.map((c) => c.service))].sort();
      warnings.push(`found containers of services not in the stack file (${names.join(', ')}); run with --remove-orphans to remove them`);
    }
  }
  return { services, orphans, warnings };
}

/** One line per action, for `up --dry-run`. */
export function describePlan(p: Plan, containerName: (service: string, number: number) => string): string[] {
  const lines: string[] = [];
  const describe = (a: Action): string => {
    const name = 'id' in a ? a.id : containerName(a.service, a.number);
    switch (a.kind) {
      case 'create':
        return `create   ${name}`;
      case 'recreate':
        return `recreate ${name} (${a.reason})`;
      case 'start':
        return `start    ${name}`;
      case 'keep':
        return `keep     ${name} (running, up to date)`;
      case 'remove':
        return `remove   ${name} (${a.reason === 'orphan' ? 'orphan' : 'scaled down'})`;
    }
  };
  for (const actions of p.services.values()) for (const a of actions) lines.push(describe(a));
  for (const a of p.orphans) lines.push(describe(a));
  return lines;
}
