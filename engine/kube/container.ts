/**
 * A service's container: image, command line, environment, ports, probes, resources,
 * security context, mounts. Kubernetes expands `$(VAR)` in command, args and env values;
 * the model's strings are final (compose's own `$$` is already undone), so every `$` is
 * doubled to reach the process unchanged.
 */
import { serviceImageName } from '../image/service-image.js';
import type { Service } from '../model/types.js';
import type { KubeContext } from './context.js';
import { cpuQuantity, byteQuantity } from './quantity.js';
import type { Container, VolumeMount } from './objects.js';
import { listenPorts } from './ports.js';
import { healthcheckProbes } from './probes.js';

type SecurityContext = NonNullable<Container['securityContext']>;
type Resources = NonNullable<Container['resources']>;

export interface ContainerParts {
  mounts: VolumeMount[];
  /** the ConfigMap holding the service's environment */
  envConfigMap?: string | undefined;
  /** a one-shot runs to completion: no probes, no ports */
  oneShot: boolean;
}

export function serviceContainer(ctx: KubeContext, service: Service, parts: ContainerParts): Container {
  const warn = (key: string, message: string) => ctx.warnings.lossy(`services.${service.name}.${key}`, message);
  const c: Container = { name: ctx.serviceName(service.name), image: serviceImage(ctx, service) };
  const pull = pullPolicy(ctx, service);
  if (pull) c.imagePullPolicy = pull;
  Object.assign(c, commandLine(service, warn));
  if (service.working_dir !== undefined) c.workingDir = service.working_dir;
  if (parts.envConfigMap !== undefined) c.envFrom = [{ configMapRef: { name: parts.envConfigMap } }];
  if (!parts.oneShot) {
    const ports = listenPorts(service);
    const hostPorts = new Map(service.ports.filter((p) => p.mode === 'host' && p.published !== undefined).map((p) => [p.target, Number(p.published!.split('-')[0])]));
    if (ports.length > 0) {
      c.ports = ports.map((p) => ({ containerPort: p.port, protocol: p.protocol, ...(hostPorts.has(p.port) && { hostPort: hostPorts.get(p.port)! }) }));
    }
    Object.assign(c, healthcheckProbes(service.healthcheck, warn));
  }
  const resources = containerResources(service, warn);
  if (resources) c.resources = resources;
  const security = securityContext(service, warn);
  if (security) c.securityContext = security;
  if (parts.mounts.length > 0) c.volumeMounts = parts.mounts;
  if (service.tty) c.tty = true;
  if (service.stdin_open) c.stdin = true;
  return c;
}

/** The service's image, or what `--push` put in its place; a locally built one comes with advice. */
export function serviceImage(ctx: KubeContext, service: Service): string {
  const replaced = ctx.options.images?.[service.name];
  if (replaced !== undefined) return replaced;
  const name = serviceImageName(ctx.project.name, service);
  if (service.build) {
    ctx.warnings.advise(`services.${service.name}.build`, `the image ${name} is built on this machine: the cluster must be able to pull it (push it to a registry the cluster reads, or load it into the nodes)`);
  }
  return name;
}

type PullPolicy = NonNullable<Container['imagePullPolicy']>;

const PULL_POLICIES: Record<string, PullPolicy> = { always: 'Always', never: 'Never', missing: 'IfNotPresent', if_not_present: 'IfNotPresent', build: 'IfNotPresent' };

function pullPolicy(ctx: KubeContext, service: Service): PullPolicy | undefined {
  const p = service.pull_policy;
  if (p !== undefined) return PULL_POLICIES[p] ?? 'Always'; // daily, weekly, every_<duration>: refresh, so pull
  // a built image loaded into the nodes (kind load, minikube image load) must not be pulled for :latest
  return service.build && ctx.options.images?.[service.name] === undefined ? 'IfNotPresent' : undefined;
}

function escape(args: readonly string[]): string[] {
  return args.map((a) => a.replaceAll('$', '$$$$'));
}

/** entrypoint -> command, command -> args; `entrypoint: []` with a command runs the command alone. */
function commandLine(service: Service, warn: (key: string, message: string) => void): Pick<Container, 'command' | 'args'> {
  const { entrypoint, command } = service;
  if (entrypoint === undefined || entrypoint === null) return command ? { args: escape(command) } : {};
  if (entrypoint.length > 0) return { command: escape(entrypoint), ...(command && command.length > 0 && { args: escape(command) }) };
  if (command && command.length > 0) return { command: escape(command) };
  warn('entrypoint', "clearing the image's entrypoint without a command has no Kubernetes equivalent: the image's entrypoint runs");
  return {};
}

function containerResources(service: Service, warn: (key: string, message: string) => void): Resources | undefined {
  const lim = service.deploy?.resources?.limits;
  const res = service.deploy?.resources?.reservations;
  const quotaCpus = service.cpu_quota && service.cpu_quota > 0 ? service.cpu_quota / (service.cpu_period || 100_000) : undefined;
  // docker's cpu_shares are relative weights on a base of 1024, the scale Kubernetes turns CPU requests into
  const sharesCpus = service.cpu_shares && service.cpu_shares > 0 ? service.cpu_shares / 1024 : undefined;
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  const cpuLimit = lim?.cpus || service.cpus || quotaCpus;
  if (cpuLimit) limits.cpu = cpuQuantity(cpuLimit);
  const memLimit = lim?.memory || service.mem_limit;
  if (memLimit) limits.memory = byteQuantity(memLimit);
  const cpuRequest = res?.cpus || sharesCpus;
  if (cpuRequest) requests.cpu = cpuQuantity(cpuRequest);
  const memRequest = res?.memory || service.mem_reservation;
  if (memRequest) requests.memory = byteQuantity(memRequest);
  for (const [k, r] of [['limits', lim], ['reservations', res]] as const) {
    if (r?.pids !== undefined) warn(`deploy.resources.${k}.pids`, 'a per-container pids limit has no Kubernetes equivalent (it is a kubelet setting): left out');
    if (r?.devices !== undefined || r?.generic_resources !== undefined) warn(`deploy.resources.${k}`, 'devices and generic resources have no Kubernetes equivalent here (use the device plugin\'s extended resource): left out');
  }
  if (Object.keys(limits).length === 0 && Object.keys(requests).length === 0) return undefined;
  return { ...(Object.keys(limits).length > 0 && { limits }), ...(Object.keys(requests).length > 0 && { requests }) };
}

const SELINUX_FIELDS: Record<string, 'user' | 'role' | 'type' | 'level'> = { user: 'user', role: 'role', type: 'type', level: 'level' };

function securityContext(service: Service, warn: (key: string, message: string) => void): SecurityContext | undefined {
  const sc: SecurityContext = {};
  if (service.user !== undefined && service.user !== '') {
    const m = /^(\d+)(?::(\d+))?$/.exec(service.user);
    if (m) {
      sc.runAsUser = Number(m[1]);
      if (m[2] !== undefined) sc.runAsGroup = Number(m[2]);
    } else {
      warn('user', `"${service.user}": Kubernetes takes only numeric user and group ids: left out, the image's user runs`);
    }
  }
  if (service.read_only) sc.readOnlyRootFilesystem = true;
  if (service.privileged) sc.privileged = true;
  const caps = (list: string[] | undefined) => (list ?? []).map((c) => c.toUpperCase().replace(/^CAP_/, ''));
  const add = caps(service.cap_add);
  const drop = caps(service.cap_drop);
  if (add.length > 0 || drop.length > 0) sc.capabilities = { ...(add.length > 0 && { add }), ...(drop.length > 0 && { drop }) };
  (service.security_opt ?? []).forEach((opt, i) => {
    const [key = '', value = ''] = opt.split(/[:=](.*)/s);
    if (key === 'no-new-privileges' && value !== 'false') sc.allowPrivilegeEscalation = false;
    else if (key === 'seccomp' && value === 'unconfined') sc.seccompProfile = { type: 'Unconfined' };
    else if (key === 'apparmor') sc.appArmorProfile = value === 'unconfined' ? { type: 'Unconfined' } : { type: 'Localhost', localhostProfile: value };
    else if (key === 'label' && SELINUX_FIELDS[value.split(':')[0]!] !== undefined) {
      const [field, ...rest] = value.split(':');
      sc.seLinuxOptions = { ...sc.seLinuxOptions, [SELINUX_FIELDS[field!]!]: rest.join(':') };
    } else warn(`security_opt.${i}`, `"${opt}" has no Kubernetes equivalent: left out`);
  });
  return Object.keys(sc).length > 0 ? sc : undefined;
}
