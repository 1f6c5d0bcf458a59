/**
 * `depends_on` on Kubernetes, which starts every pod at once. A one-shot service (one a
 * dependent waits to complete, `service_completed_successfully`) runs as an init container
 * of each dependent, after its own dependencies and before the dependent: in order, to
 * completion, and a failure keeps the dependent from starting, as under `up`. A service
 * that must not be restarted (`restart: "no"`) and that nobody waits for is a Job.
 * `service_started` and `service_healthy` become init containers that wait until the
 * dependency's Service has a ready pod: readiness is the healthcheck, so "ready" is
 * "healthy" where there is one and "started" where there is none.
 */
import type { Edge } from '../graph/graph.js';
import type { Service } from '../model/types.js';
import type { KubeContext } from './context.js';
import { DEFAULT_WAIT_IMAGE } from './context.js';
import { kubeName } from './names.js';
import type { Container } from './objects.js';
import { serviceAddress } from './services.js';

export interface ServiceRoles {
  /** one-shots some dependent waits to complete: init containers of those dependents */
  inlined: Set<string>;
  /** run to completion once, with nobody waiting: Jobs */
  jobs: Set<string>;
}

export function serviceRoles(ctx: KubeContext): ServiceRoles {
  const selected = new Set(ctx.selected);
  const roles: ServiceRoles = { inlined: new Set(), jobs: new Set() };
  for (const name of ctx.selected) {
    const waiters = completionWaiters(ctx, name, selected);
    if (waiters.length > 0) roles.inlined.add(name);
    else if (runsOnce(ctx.project.services[name]!)) roles.jobs.add(name);
  }
  return roles;
}

function completionWaiters(ctx: KubeContext, name: string, selected: ReadonlySet<string>): string[] {
  return ctx.graph.dependents(name).filter((e) => selected.has(e.from) && e.condition === 'service_completed_successfully').map((e) => e.from);
}

/** `restart: "no"` (or deploy.restart_policy, which replaces it, saying `none`), or a job mode. */
export function runsOnce(service: Service): boolean {
  const mode = service.deploy?.mode;
  if (mode === 'replicated-job' || mode === 'global-job') return true;
  const condition = service.deploy?.restart_policy?.condition ?? (service.restart === 'no' ? 'none' : undefined);
  return condition === 'none';
}

/** Builds an inlined one-shot's container into the pod being made (its mounts join the pod's volumes). */
export type InlineContainer = (service: Service) => Container;

/**
 * The init containers of a pod whose main container is `service`: for each dependency,
 * in start order, either the one-shot itself (after its own dependencies) or a wait.
 * `names` holds the pod's container names, so a dependency reached twice runs once.
 */
export function initContainers(ctx: KubeContext, roles: ServiceRoles, service: Service, inline: InlineContainer, names: Set<string> = new Set([ctx.serviceName(service.name)])): Container[] {
  const out: Container[] = [];
  for (const edge of orderedDependencies(ctx, service.name)) {
    const dep = ctx.project.services[edge.to]!;
    if (roles.inlined.has(dep.name)) {
      // a one-shot only some dependents wait for runs in their pods; the others need not wait for it
      if (edge.condition !== 'service_completed_successfully') continue;
      const name = ctx.serviceName(dep.name);
      if (names.has(name)) continue;
      names.add(name);
      out.push(...initContainers(ctx, roles, dep, inline, names), inline(dep));
    } else if (!roles.jobs.has(dep.name)) {
      const wait = waitContainer(ctx, dep);
      if (names.has(wait.name)) continue;
      names.add(wait.name);
      out.push(wait);
    }
  }
  return out;
}

/** Dependencies among the generated services, by start level then name. */
function orderedDependencies(ctx: KubeContext, name: string): Edge[] {
  const rank = new Map(ctx.selected.map((s, i) => [s, i]));
  return ctx.graph
    .dependencies(name)
    .filter((e) => rank.has(e.to))
    .sort((a, b) => rank.get(a.to)! - rank.get(b.to)!);
}

/**
 * Waits until the dependency's Service has a ready pod: a TCP connection through its
 * ClusterIP (kube-proxy rejects it while no pod is ready), or, for a headless Service, its
 * name resolving (DNS returns only ready pods; busybox's nc says "bad address" while not).
 */
function waitContainer(ctx: KubeContext, dep: Service): Container {
  const { name, tcpPort } = serviceAddress(ctx, dep);
  const script = tcpPort !== undefined
    ? `until nc -z -w 2 ${name} ${tcpPort}; do echo "waiting for ${name}:${tcpPort}"; sleep 1; done`
    : `while nc -w 1 ${name} 1 </dev/null 2>&1 | grep -q "bad address"; do echo "waiting for ${name}"; sleep 1; done`;
  return {
    name: kubeName(`wait-${name}`),
    image: ctx.options.waitImage ?? DEFAULT_WAIT_IMAGE,
    command: ['sh', '-c', script],
    securityContext: {
      runAsUser: 65534,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
