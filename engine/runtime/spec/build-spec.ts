/**
 * The service, its image and what the other drivers prepared (rootfs, network namespace,
 * cgroup, mounts, /etc files), turned into the config.json an OCI runtime executes. Pure
 * apart from the documented reads: the image's /etc/passwd and /etc/group (inside the
 * rootfs), the seccomp profile, device nodes named by `devices:` (and /dev when privileged),
 * and the host facts of host.ts (overridable). The same input gives the same spec.
 */

import path from 'node:path';
import { StackError } from '../../errors.js';
import type { Service } from '../../model/types.js';
import type { LinuxResources, OciMount, OciSpec } from '../oci-spec.js';
import { resolveArgv, withInit } from './argv.js';
import { capabilitySets, resolveCapabilities } from './capabilities.js';
import { DEFAULT_DEVICE_RULES, serviceDevices } from './devices.js';
import { buildEnv } from './env.js';
import { hostFacts, type HostFacts } from './host.js';
import type { ImageConfig } from './image-config.js';
import type { EtcFiles } from '../etc-files.js';
import { assembleMounts, baseMounts, etcMounts, INIT_PATH, initMount } from './mounts.js';
import { planNamespaces, type JoinableNamespace, type NetworkChoice } from './namespaces.js';
import { buildRlimits } from './rlimits.js';
import { convertSeccompProfile, DEFAULT_SECCOMP_PROFILE, loadSeccompProfile } from './seccomp.js';
import { parseSecurityOpts } from './security-opt.js';
import { buildSysctls } from './sysctls.js';
import { parseTmpfs } from './tmpfs.js';
import { resolveUser } from './user.js';

export interface SpecInput {
  service: Service;
  image: ImageConfig;
  /** absolute path of the mounted rootfs (root.path) */
  rootfs: string;
  /** already decided by the caller (container name, `hostname:`, or the host's for network host) */
  hostname: string;
  /** host files bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf */
  etcFiles: EtcFiles;
  /** volume, bind and tmpfs mounts prepared by the volume layer, in order */
  mounts: OciMount[];
  /** none = a fresh network namespace with only lo */
  network: NetworkChoice;
  /** true on cgroup v2 (unified) hosts, where containers get a private cgroup namespace */
  cgroupNamespace: boolean;
  cgroupsPath: string;
  resources: LinuxResources;
  /** catatonit/tini on the host: mounted read-only at /run/stack-init and run as pid 1 */
  init?: { hostPath: string } | undefined;
  /** the default docker-format seccomp profile; /usr/share/containers/seccomp.json if unset */
  seccompProfile?: string | undefined;
  annotations?: Record<string, string> | undefined;
  /** namespace paths to join for `pid|ipc|uts: service:x` */
  sharedNamespaces?: Partial<Record<JoinableNamespace, string>> | undefined;
  /** pins the host facts (tests; or a caller that already read them) */
  host?: Partial<HostFacts> | undefined;
}

export interface BuiltSpec {
  spec: OciSpec;
  /** things the user should know that do not stop the container (a capped ulimit, ...) */
  warnings: string[];
}

/** docker's lists (moby oci/defaults.go): kernel interfaces that leak host state or allow harm. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function buildSpec(input: SpecInput): BuiltSpec {
  const { service, image } = input;
  const host: HostFacts = { ...hostFacts(), ...input.host };
  const privileged = service.privileged === true;
  const warnings: string[] = [];
  const security = parseSecurityOpts(service.security_opt, service.name);

  let args = resolveArgv(service, image);
  if (input.init) args = withInit(args, INIT_PATH);

  // An empty `user:` falls back to the image's USER, as docker's config merge does.
  const user = resolveUser(input.rootfs, { user: service.user || image.User, groupAdd: service.group_add, service: service.name });
  const env = buildEnv({ image: image.Env, service: service.environment, hostname: input.hostname, tty: service.tty, home: user.home });

  const caps = resolveCapabilities({ capAdd: service.cap_add, capDrop: service.cap_drop, privileged, lastCap: host.lastCap, service: service.name });
  warnings.push(...caps.warnings);
  const capabilities = capabilitySets(caps.caps, user.uid);

  const rlimits = buildRlimits(service.ulimits, host.hardLimits, service.name);
  warnings.push(...rlimits.warnings);

  const ns = planNamespaces({
    pid: service.pid,
    ipc: service.ipc,
    uts: service.uts,
    cgroup: service.cgroup,
    userns_mode: service.userns_mode,
    network: input.network,
    cgroupNamespace: input.cgroupNamespace,
    shared: input.sharedNamespaces,
    service: service.name,
  });

  const tmpfs = (service.tmpfs ?? []).map((t, i) => parseTmpfs(t, service.name, i));
  const mounts = assembleMounts(
    [...baseMounts({ privileged, shmSize: service.shm_size, ipc: ns.shm }), ...etcMounts(input.etcFiles)],
    [...tmpfs, ...input.mounts],
    input.init ? [initMount(input.init.hostPath)] : [],
  );

  const devices = serviceDevices(service.devices, service.name, privileged);
  warnings.push(...devices.warnings);
  const resources: LinuxResources = {
    ...input.resources,
    devices: [...(privileged ? [] : DEFAULT_DEVICE_RULES), ...devices.rules, ...(input.resources.devices ?? [])],
  };

  const cwd = service.working_dir ?? (image.WorkingDir || '/');
  if (!path.posix.isAbsolute(cwd)) {
    throw new StackError(`service ${service.name}: working directory "${cwd}" must be an absolute path`, {
      path: `services.${service.name}.working_dir`,
    });
  }

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: service.tty === true,
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length > 0 && { additionalGids: user.additionalGids }) },
      args,
      env,
      cwd,
      capabilities,
      rlimits: rlimits.rlimits,
      noNewPrivileges: security.noNewPrivileges,
      ...(service.oom_score_adj !== undefined && { oomScoreAdj: service.oom_score_adj }),
    },
    root: { path: input.rootfs, readonly: service.read_only === true },
    // runc refuses a hostname without a UTS namespace of the container's own.
    ...(ns.isolated.has('uts') && { hostname: input.hostname }),
    mounts,
    linux: {
      namespaces: ns.namespaces,
      cgroupsPath: input.cgroupsPath,
      resources,
      ...(devices.devices.length > 0 && { devices: devices.devices }),
    },
  };

  const sysctl = buildSysctls(service.sysctls, ns.isolated, service.name, service.domainname);
  if (Object.keys(sysctl).length > 0) spec.linux.sysctl = sysctl;

  if (!privileged && !security.unmaskSystemPaths) {
    spec.linux.maskedPaths = [...MASKED_PATHS];
    spec.linux.readonlyPaths = [...READONLY_PATHS];
  }

  // docker turns seccomp off for privileged containers: all caps and a syscall filter conflict.
  if (!privileged && security.seccomp.kind !== 'unconfined') {
    const profile =
      security.seccomp.kind === 'profile'
        ? loadSeccompProfile(security.seccomp.path)
        : loadSeccompProfile(input.seccompProfile ?? DEFAULT_SECCOMP_PROFILE, true);
    spec.linux.seccomp = convertSeccompProfile(profile, { caps: capabilities.bounding, arch: host.arch, kernelRelease: host.kernelRelease });
  }

  const annotations = { ...service.annotations, ...input.annotations };
  if (Object.keys(annotations).length > 0) spec.annotations = annotations;
  return { spec, warnings };
}
