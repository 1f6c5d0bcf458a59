/**
 * The service keys `kube generate` has no faithful Kubernetes equivalent for, each a lossy
 * warning naming the key and what happens instead. Keys mapped elsewhere (ports, volumes,
 * resources, security, ...) warn there about the values they cannot carry.
 */
import type { Service } from '../model/types.js';
import type { KubeContext } from './context.js';
import { runsOnce } from './dependencies.js';

/** key -> why it is left out, for keys that are dropped whenever they are set. */
const DROPPED: Partial<Record<keyof Service, string>> = {
  cpuset: 'pinning to CPUs is a kubelet policy (static CPU manager), not a pod setting',
  pids_limit: 'a per-container pids limit is a kubelet setting',
  oom_kill_disable: 'the OOM killer is not configurable per pod',
  oom_score_adj: 'the kubelet sets the OOM score from the QoS class',
  memswap_limit: 'swap is a kubelet setting',
  mem_swappiness: 'swap is a kubelet setting',
  storage_opt: 'storage driver options are not configurable per pod',
  ulimits: 'rlimits are the container runtime\'s defaults, not a pod setting',
  devices: 'host devices need a device plugin on Kubernetes',
  volumes_from: 'pods cannot mount another pod\'s volumes',
  external_links: 'there are no containers outside the project to link to; use a Service of type ExternalName',
  mac_address: 'pods get their addresses from the cluster network',
  domainname: 'a pod\'s domain is its namespace\'s',
  cgroup_parent: 'the kubelet places pods in its own cgroups',
  userns_mode: 'user namespaces are `hostUsers: false` on Kubernetes, which this does not set',
  runtime: 'a runtime is a RuntimeClass of the cluster, which this does not assume',
};

const HOST_NAMESPACES = ['pid', 'ipc', 'uts', 'cgroup'] as const;

export function reportUnmapped(ctx: KubeContext, service: Service): void {
  const warn = (key: string, message: string) => ctx.warnings.lossy(`services.${service.name}.${key}`, message);
  for (const [key, why] of Object.entries(DROPPED)) {
    const value = service[key as keyof Service];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) warn(key, `has no Kubernetes equivalent (${why}): left out`);
  }
  const mode = service.network_mode;
  if (mode !== undefined && mode !== 'bridge' && mode !== 'default') {
    const why = mode === 'host' ? 'the pod keeps its own network; hostNetwork would put it on one node\'s network'
      : mode === 'none' ? 'every pod is on the cluster network'
      : 'containers of different pods cannot share a network namespace';
    warn('network_mode', `"${mode}" has no faithful Kubernetes equivalent (${why}): left out`);
  }
  for (const ns of HOST_NAMESPACES) {
    const value = service[ns];
    if (value !== undefined && value !== 'private' && value !== 'shareable') warn(ns, `"${value}" has no faithful Kubernetes equivalent (namespaces are the pod's own): left out`);
  }
  if (service.logging?.driver !== undefined || service.logging?.options !== undefined) {
    warn('logging', 'logging drivers have no Kubernetes equivalent (the node keeps container logs; `kubectl logs` reads them): left out');
  }
  const signal = service.stop_signal?.toUpperCase().replace(/^SIG/, '');
  if (signal !== undefined && signal !== 'TERM' && signal !== '15') {
    warn('stop_signal', `${service.stop_signal} has no Kubernetes equivalent in the stable API (pods are stopped with SIGTERM): left out`);
  }
  if (service.restart?.startsWith('on-failure') && !runsOnce(service)) {
    warn('restart', 'on-failure: pods of a Deployment are restarted whatever their exit code');
  }
  const policy = service.deploy?.restart_policy;
  if (policy && !runsOnce(service)) {
    for (const k of ['delay', 'window', 'max_attempts'] as const) {
      if (policy[k] !== undefined) warn(`deploy.restart_policy.${k}`, 'has no Kubernetes equivalent for long-running pods (the kubelet backs off on its own): left out');
    }
  }
  if (service.deploy?.rollback_config !== undefined) warn('deploy.rollback_config', 'has no Kubernetes equivalent (roll back with `kubectl rollout undo`): left out');
  for (const [network, settings] of Object.entries(service.networks ?? {})) {
    for (const k of ['ipv4_address', 'ipv6_address', 'mac_address', 'link_local_ips', 'driver_opts', 'interface_name'] as const) {
      if (settings?.[k] !== undefined) warn(`networks.${network}.${k}`, 'has no Kubernetes equivalent (pods get their addresses from the cluster network): left out');
    }
  }
  for (const key of Object.keys(service.extra)) warn(key, 'has no Kubernetes equivalent here: left out');
}
