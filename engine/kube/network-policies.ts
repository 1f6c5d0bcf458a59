/**
 * Networks. A cluster network is flat: every pod reaches every other. Where a project puts
 * its services on more than one network, the separation is the point (a database on a
 * backend network the front end is not on), so each network becomes a label on the pods
 * attached to it and a NetworkPolicy letting in traffic only from pods on the same network;
 * ports published beyond the host stay open to all. A project on one network gets no
 * policies: isolating it would also shut out what users add beside it (an Ingress).
 */
import type { StringMap } from '../model/types.js';
import type { KubeContext } from './context.js';
import { networkLabel, projectLabels, serviceSelector } from './labels.js';
import { kubeName } from './names.js';
import { kubeProtocol } from './ports.js';
import { publishedPorts } from './services.js';

export interface NetworkPlan {
  /** per service with pods of its own: the network labels of its pods */
  labels: Map<string, StringMap>;
  networks: string[];
}

/** The networks of the services that have pods; policies only when there are several. */
export function networkPlan(ctx: KubeContext, podServices: readonly string[]): NetworkPlan {
  const byService = new Map<string, string[]>();
  for (const name of podServices) byService.set(name, Object.keys(ctx.project.services[name]!.networks ?? {}));
  const networks = [...new Set([...byService.values()].flat())].sort();
  const labels = new Map<string, StringMap>();
  if (networks.length < 2) return { labels, networks: [] };
  for (const [name, nets] of byService) labels.set(name, Object.fromEntries(nets.map((n) => [networkLabel(kubeName(n)), 'true'])));
  return { labels, networks };
}

export function networkPolicies(ctx: KubeContext, plan: NetworkPlan, podServices: readonly string[]): void {
  const project = projectLabels(ctx.project.name);
  for (const network of plan.networks) {
    const def = ctx.project.networks[network];
    if (def?.external) ctx.warnings.lossy(`networks.${network}`, 'external: pods outside the project are not let in to the project\'s pods on it');
    if (def?.internal) ctx.warnings.lossy(`networks.${network}.internal`, 'the pods on it can still reach outside the cluster (only incoming traffic is limited to the network)');
    const on = { ...project, [networkLabel(kubeName(network))]: 'true' };
    const name = kubeName(`network-${network}`);
    ctx.add({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: ctx.metadata(name),
      spec: { podSelector: { matchLabels: on }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: on } }] }] },
    }, `network "${network}"`);
  }
  if (plan.networks.length === 0) return;
  for (const name of podServices) {
    const service = ctx.project.services[name]!;
    const open = [
      ...publishedPorts(ctx, service).map((p) => ({ port: p.target, protocol: p.protocol })),
      ...service.ports.filter((p) => p.mode === 'host').map((p) => ({ port: p.target, protocol: kubeProtocol(p.protocol) })),
    ];
    if (open.length === 0) continue;
    ctx.add({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: ctx.metadata(kubeName(`${name}-published`)),
      spec: { podSelector: { matchLabels: serviceSelector(ctx.project.name, name) }, policyTypes: ['Ingress'], ingress: [{ ports: open }] },
    }, `the published ports of service "${name}"`);
  }
}
