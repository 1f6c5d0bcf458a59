/**
 * `stack kube generate`: a loaded project (the loader `up` uses: .env, interpolation,
 * profiles) as Kubernetes objects, and the warnings of what has no faithful equivalent.
 * Services are taken in start order; one-shots some dependent waits for appear only inside
 * those dependents' pods.
 */
import type { DependencyGraph } from '../graph/graph.js';
import { StackError } from '../errors.js';
import type { Project } from '../model/types.js';
import { KubeContext, type GenerateOptions } from './context.js';
import { serviceRoles } from './dependencies.js';
import { networkPlan, networkPolicies } from './network-policies.js';
import { kindRank, type KubeObject } from './objects.js';
import { listenPorts } from './ports.js';
import { serviceObjects } from './services.js';
import { reportUnmapped } from './unmapped.js';
import type { KubeWarning } from './warnings.js';
import { workload } from './workloads.js';

export type { GenerateOptions, PublishedServiceType } from './context.js';

export interface Manifests {
  /** in apply order: what pods mount and resolve first, then the workloads */
  objects: KubeObject[];
  warnings: KubeWarning[];
}

export function generateManifests(loaded: { project: Project; graph: DependencyGraph }, options: GenerateOptions = {}): Manifests {
  const { project, graph } = loaded;
  if (options.serviceType !== undefined && options.serviceType !== 'NodePort' && options.serviceType !== 'LoadBalancer') {
    throw new StackError(`service type "${String(options.serviceType)}" is not one published ports can have`, { hint: 'use NodePort or LoadBalancer' });
  }
  const wanted = options.services && options.services.length > 0 ? graph.select(options.services) : new Set(graph.nodes);
  const ctx = new KubeContext(project, graph, graph.levels(wanted).flat(), options);
  const roles = serviceRoles(ctx);
  const podServices = ctx.selected.filter((s) => !roles.inlined.has(s));
  const longRunning = podServices.filter((s) => !roles.jobs.has(s));
  const aliases = aliasesByService(ctx);
  const withService = new Set(longRunning.filter((s) => listenPorts(project.services[s]!).length > 0 || ctx.graph.dependents(s).some((e) => wanted.has(e.from)) || (aliases.get(s) ?? []).length > 0));
  const networks = networkPlan(ctx, podServices);
  const ownVolumes = volumesOwned(ctx);

  for (const name of ctx.selected) {
    const service = project.services[name]!;
    reportUnmapped(ctx, service);
    if (roles.inlined.has(name)) {
      const pods = ctx.graph.dependents(name).filter((e) => wanted.has(e.from) && e.condition === 'service_completed_successfully').map((e) => e.from);
      if (pods.length > 1 || pods.some((p) => (project.services[p]!.scale ?? project.services[p]!.deploy?.replicas ?? 1) > 1)) {
        ctx.warnings.advise(`services.${name}`, `runs as an init container of every pod of ${pods.join(', ')}, not once: it must be safe to run again`);
      }
      continue;
    }
    if (withService.has(name)) serviceObjects(ctx, service, aliases.get(name) ?? []);
    workload(ctx, service, { roles, withService, ownVolumes, networkLabels: networks.labels });
  }
  networkPolicies(ctx, networks, longRunning);
  for (const [key, users] of volumeUsers(ctx)) {
    if (users.length > 1 && !project.volumes[key]?.external) {
      ctx.warnings.advise(`volumes.${key}`, `used by ${users.join(', ')}: a ReadWriteOnce claim is shared only by pods on one node (use a storage class with ReadWriteMany)`);
    }
  }
  const objects = ctx.objects.sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.metadata.name.localeCompare(b.metadata.name));
  return { objects, warnings: ctx.warnings.items };
}

/** Names that resolve to a service under `up` besides its own: network aliases, container_name, links' aliases. */
function aliasesByService(ctx: KubeContext): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (service: string, alias: string) => {
    if (alias === service) return;
    const list = out.get(service) ?? [];
    if (!list.includes(alias)) out.set(service, [...list, alias]);
  };
  for (const name of ctx.selected) {
    const s = ctx.project.services[name]!;
    for (const n of Object.values(s.networks ?? {})) for (const a of n?.aliases ?? []) add(name, a);
    if (s.container_name !== undefined) add(name, s.container_name);
    for (const link of s.links ?? []) {
      const [target, alias] = link.split(':');
      if (target !== undefined && alias !== undefined && ctx.selected.includes(target)) add(target, alias);
    }
  }
  return out;
}

/** Named, not external volumes -> the generated services that mount them. */
function volumeUsers(ctx: KubeContext): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const name of ctx.selected) {
    for (const v of ctx.project.services[name]!.volumes) {
      if (v.type !== 'volume' || v.source === undefined) continue;
      const list = users.get(v.source) ?? [];
      if (!list.includes(name)) users.set(v.source, [...list, name]);
    }
  }
  return users;
}

/** Per service, the named volumes no other service uses: what a StatefulSet may claim per pod. */
function volumesOwned(ctx: KubeContext): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, users] of volumeUsers(ctx)) {
    if (users.length !== 1 || ctx.project.volumes[key]?.external) continue;
    out.set(users[0]!, [...(out.get(users[0]!) ?? []), key]);
  }
  return out;
}
