/**
 * A service's pod template: its container, the init containers of its dependencies, the
 * volumes they mount, and the pod-level settings of the service (hostname, extra_hosts,
 * dns, platform, grace period, sysctls, groups). Kubernetes' own additions that `up` has
 * no counterpart for are turned off: service links (`DB_PORT=tcp://...` variables that
 * clash with an app's own `DB_PORT`) and the service account token.
 */
import type { Service, StringMap } from '../model/types.js';
import { envConfigMap } from './config-objects.js';
import { serviceContainer } from './container.js';
import type { KubeContext } from './context.js';
import { initContainers, type ServiceRoles } from './dependencies.js';
import { serviceSelector, sortMetadata } from './labels.js';
import type { PodSpec, PodTemplateSpec } from './objects.js';
import { PodVolumes, serviceMounts } from './volumes.js';

export interface PodOptions {
  /** named volumes the StatefulSet claims per pod */
  claimTemplates?: ReadonlySet<string>;
  restartPolicy?: 'Never' | 'OnFailure';
  /** labels beyond the selector: the networks the pod is on */
  labels?: StringMap;
}

export function podTemplate(ctx: KubeContext, roles: ServiceRoles, service: Service, opts: PodOptions = {}): PodTemplateSpec {
  const pod = new PodVolumes();
  const oneShot = roles.jobs.has(service.name);
  const inline = (dep: Service) => serviceContainer(ctx, dep, { mounts: serviceMounts(ctx, dep, pod), envConfigMap: envConfigMap(ctx, dep), oneShot: true });
  const init = initContainers(ctx, roles, service, inline);
  const main = serviceContainer(ctx, service, {
    mounts: serviceMounts(ctx, service, pod, opts.claimTemplates),
    envConfigMap: envConfigMap(ctx, service),
    oneShot,
  });
  const labels = sortMetadata(service.labels);
  const own = sortMetadata(service.annotations, true);
  const annotations = { ...labels.annotations, ...own.annotations };
  for (const [key, rejected] of [['labels', labels.rejected], ['annotations', own.rejected]] as const) {
    for (const k of rejected) ctx.warnings.lossy(`services.${service.name}.${key}`, `"${k}" is not a valid Kubernetes label or annotation key: left out`);
  }
  const spec: PodSpec = {
    ...(init.length > 0 && { initContainers: init }),
    containers: [main],
    ...(pod.list.length > 0 && { volumes: pod.list }),
    ...(opts.restartPolicy && { restartPolicy: opts.restartPolicy }),
    enableServiceLinks: false,
    automountServiceAccountToken: false,
    ...podSettings(ctx, service),
  };
  return {
    metadata: {
      labels: { ...labels.labels, ...opts.labels, ...serviceSelector(ctx.project.name, service.name) },
      ...(Object.keys(annotations).length > 0 && { annotations }),
    },
    spec,
  };
}

const ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };

function podSettings(ctx: KubeContext, service: Service): Partial<PodSpec> {
  const at = (key: string) => `services.${service.name}.${key}`;
  const out: Partial<PodSpec> = {};
  if (service.hostname !== undefined) {
    if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(service.hostname) && service.hostname.length <= 63) out.hostname = service.hostname;
    else ctx.warnings.lossy(at('hostname'), `"${service.hostname}" is not a valid pod hostname (a lowercase DNS label): left out`);
  }
  const hosts = new Map<string, string[]>();
  for (const entry of service.extra_hosts ?? []) {
    const eq = entry.indexOf('=');
    const host = entry.slice(0, eq);
    const ip = entry.slice(eq + 1).replace(/^\[|\]$/g, '');
    if (ip === 'host-gateway') {
      ctx.warnings.lossy(at('extra_hosts'), `${host}=host-gateway has no Kubernetes equivalent (a pod has no host gateway): left out`);
      continue;
    }
    hosts.set(ip, [...(hosts.get(ip) ?? []), host]);
  }
  if (hosts.size > 0) out.hostAliases = [...hosts].map(([ip, hostnames]) => ({ ip, hostnames }));
  const dnsConfig: NonNullable<PodSpec['dnsConfig']> = {};
  // with the default ClusterFirst policy these add to the cluster's DNS, as `dns:` adds upstreams to compose's
  if (service.dns?.length) dnsConfig.nameservers = service.dns;
  if (service.dns_search?.length) dnsConfig.searches = service.dns_search;
  if (service.dns_opt?.length) {
    dnsConfig.options = service.dns_opt.map((o) => {
      const [name = '', value] = o.split(/:(.*)/s);
      return value === undefined || value === '' ? { name } : { name, value };
    });
  }
  if (Object.keys(dnsConfig).length > 0) out.dnsConfig = dnsConfig;
  const nodeSelector = placement(ctx, service);
  if (Object.keys(nodeSelector).length > 0) out.nodeSelector = nodeSelector;
  const grace = service.stop_grace_period ?? (service.stop_timeout !== undefined ? service.stop_timeout * 1000 : undefined);
  if (grace !== undefined) out.terminationGracePeriodSeconds = Math.ceil(grace / 1000);
  // `init: true` reaps zombies and relays signals; with a shared process namespace the pod's
  // pause process is PID 1 and reaps them, and the app gets signals as a non-init process
  if (service.init) out.shareProcessNamespace = true;
  const security: NonNullable<PodSpec['securityContext']> = {};
  const sysctls = Object.entries(service.sysctls ?? {});
  if (sysctls.length > 0) security.sysctls = sysctls.map(([name, value]) => ({ name, value }));
  const groups: number[] = [];
  for (const g of service.group_add ?? []) {
    if (/^\d+$/.test(g)) groups.push(Number(g));
    else ctx.warnings.lossy(at('group_add'), `"${g}": Kubernetes takes only numeric group ids: left out`);
  }
  if (groups.length > 0) security.supplementalGroups = groups;
  if (Object.keys(security).length > 0) out.securityContext = security;
  return out;
}

/** `platform` and swarm placement constraints on node labels, as a node selector. */
function placement(ctx: KubeContext, service: Service): StringMap {
  const out: StringMap = {};
  if (service.platform !== undefined) {
    const [os, arch] = service.platform.split('/');
    if (os) out['kubernetes.io/os'] = os;
    if (arch) out['kubernetes.io/arch'] = ARCH[arch] ?? arch;
  }
  const constraints = service.deploy?.placement?.constraints;
  (Array.isArray(constraints) ? constraints : []).forEach((c, i) => {
    const m = /^\s*node\.(labels\.(.+?)|platform\.(os|arch))\s*==\s*(.+?)\s*$/.exec(String(c));
    if (!m) {
      ctx.warnings.lossy(`services.${service.name}.deploy.placement.constraints.${i}`, `"${String(c)}" has no Kubernetes equivalent (only node.labels.K==V and node.platform): left out`);
      return;
    }
    const value = m[4]!;
    if (m[2] !== undefined) out[m[2]] = value;
    else if (m[3] === 'os') out['kubernetes.io/os'] = value;
    else out['kubernetes.io/arch'] = ARCH[value] ?? value;
  });
  for (const key of Object.keys(service.deploy?.placement ?? {})) {
    if (key !== 'constraints') ctx.warnings.lossy(`services.${service.name}.deploy.placement.${key}`, 'has no Kubernetes equivalent here: left out');
  }
  return out;
}
