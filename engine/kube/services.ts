/**
 * Services, so names resolve as they do under `up`. A service with known ports gets a
 * ClusterIP Service of its name; one without (a database whose file lists no port, which
 * still answers on every port under `up`) a headless Service, whose name resolves to the
 * ready pods' addresses, every port reachable, as compose's DNS answers. Network aliases,
 * `container_name` and `links` aliases get Services of their own over the same pods.
 * Published ports leave the cluster through a second Service, NodePort or LoadBalancer;
 * those published on a loopback address stay inside (`kubectl port-forward` reaches them).
 */
import type { Service } from '../model/types.js';
import type { KubeContext, PublishedServiceType } from './context.js';
import { serviceSelector } from './labels.js';
import { kubeName } from './names.js';
import type { ServiceObject, ServicePort } from './objects.js';
import { kubeProtocol, listenPorts, portNames, type ListenPort } from './ports.js';

/** How a dependent reaches a service: its Service name, and a TCP port that answers once a pod is ready. */
export interface ServiceAddress {
  name: string;
  /** absent for a headless Service: there readiness shows in DNS */
  tcpPort?: number;
}

export function serviceAddress(ctx: KubeContext, service: Service): ServiceAddress {
  const name = ctx.serviceName(service.name);
  if (isHeadless(service)) return { name };
  const tcp = listenPorts(service).find((p) => p.protocol === 'TCP');
  return tcp ? { name, tcpPort: tcp.port } : { name };
}

function isHeadless(service: Service): boolean {
  return listenPorts(service).length === 0 || service.deploy?.endpoint_mode === 'dnsrr';
}

/** The Services of a long-running service: its own, one per alias, and the published one. */
export function serviceObjects(ctx: KubeContext, service: Service, aliases: readonly string[]): void {
  const name = ctx.serviceName(service.name);
  const selector = serviceSelector(ctx.project.name, service.name);
  const ports = listenPorts(service);
  const spec: NonNullable<ServiceObject['spec']> = isHeadless(service)
    ? { clusterIP: 'None', selector, ...(ports.length > 0 && { ports: servicePorts(ports) }) }
    : { type: 'ClusterIP', selector, ports: servicePorts(ports) };
  if (name !== service.name) {
    ctx.warnings.lossy(`services.${service.name}`, `the name "${service.name}" is not a valid Kubernetes name: the Service is "${name}", and "${service.name}" does not resolve in the cluster`);
  }
  ctx.add({ apiVersion: 'v1', kind: 'Service', metadata: ctx.metadata(name, selector), spec }, `service "${service.name}"`);
  for (const alias of aliases) {
    const aliasName = kubeName(alias);
    if (aliasName === name) continue;
    if (aliasName !== alias) ctx.warnings.lossy(`services.${service.name}`, `the alias "${alias}" is not a valid Kubernetes name: its Service is "${aliasName}", and "${alias}" does not resolve in the cluster`);
    ctx.add({ apiVersion: 'v1', kind: 'Service', metadata: ctx.metadata(aliasName, selector), spec }, `alias "${alias}" of service "${service.name}"`);
  }
  const published = publishedPorts(ctx, service);
  if (published.length > 0) {
    const type: PublishedServiceType = ctx.options.serviceType ?? 'LoadBalancer';
    const names = portNames(published.map((p) => ({ port: p.port, protocol: p.protocol, ...(p.name !== undefined && { name: p.name }) })));
    const servicePortsOut: ServicePort[] = published.map((p, i) => {
      const nodePort = type === 'NodePort' && p.port >= 30000 && p.port <= 32767 ? { nodePort: p.port } : {};
      return { name: names[i]!, port: p.port, targetPort: p.target, protocol: p.protocol, ...nodePort };
    });
    if (type === 'NodePort' && published.some((p) => p.port < 30000 || p.port > 32767)) {
      ctx.warnings.advise(`services.${service.name}.ports`, 'published ports outside 30000-32767 cannot be node ports: the cluster picks them (`kubectl get service` shows which)');
    }
    const pubName = kubeName(`${service.name}-published`);
    ctx.add({ apiVersion: 'v1', kind: 'Service', metadata: ctx.metadata(pubName, selector), spec: { type, selector, ports: servicePortsOut } }, `the published ports of service "${service.name}"`);
  }
}

function servicePorts(ports: readonly ListenPort[]): ServicePort[] {
  const names = portNames(ports);
  return ports.map((p, i) => ({
    ...(ports.length > 1 || p.name !== undefined ? { name: names[i]! } : {}),
    port: p.port,
    targetPort: p.port,
    protocol: p.protocol,
    ...(p.appProtocol !== undefined && { appProtocol: p.appProtocol }),
  }));
}

export interface PublishedPort {
  /** where it is reached: the published port (the first of a range), else the target */
  port: number;
  target: number;
  protocol: ListenPort['protocol'];
  name?: string;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** Ports published beyond the host (`mode: host` ports are the container's hostPort instead). */
export function publishedPorts(ctx: KubeContext, service: Service): PublishedPort[] {
  const out: PublishedPort[] = [];
  service.ports.forEach((p, i) => {
    if (p.mode === 'host') return;
    const at = `services.${service.name}.ports.${i}`;
    if (p.host_ip !== undefined && LOOPBACK.test(p.host_ip)) {
      const local = p.published?.split('-')[0] ?? String(p.target);
      ctx.warnings.advise(at, `published on ${p.host_ip} only: it stays inside the cluster (reach it with \`kubectl port-forward service/${ctx.serviceName(service.name)} ${local}:${p.target}\`)`);
      return;
    }
    if (p.host_ip !== undefined && p.host_ip !== '0.0.0.0' && p.host_ip !== '::') {
      ctx.warnings.lossy(at, `host_ip ${p.host_ip} has no Kubernetes equivalent: the port is published on every address of the Service`);
    }
    const port = p.published !== undefined ? Number(p.published.split('-')[0]) : p.target;
    const protocol = kubeProtocol(p.protocol);
    if (out.some((o) => o.port === port && o.protocol === protocol)) return;
    out.push({ port, target: p.target, protocol, ...(p.name !== undefined && { name: p.name }) });
  });
  return out;
}
