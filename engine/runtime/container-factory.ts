/**
 * From a service of the model to a created container: cgroup parent, volumes, /etc files,
 * the OCI spec (built once the rootfs is mounted, so the user resolves against the image's
 * own /etc/passwd), then conmon and the runtime. Each part is produced by its own module
 * and handed to the next; a failure undoes the container.
 */
import { rmSync, statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { createCgroupManager, type CgroupManager } from '../cgroups/cgroup-manager.js';
import { limitsFromService, toLinuxResources } from '../cgroups/resources.js';
import type { Project, Service } from '../model/types.js';
import { prepareMounts } from '../volumes/service-mounts.js';
import { VolumeStore } from '../volumes/volume-store.js';
import type { StdinMode } from './conmon.js';
import { Containers, type ContainerRecord } from './containers.js';
import { writeEtcFiles } from './etc-files.js';
import { chooseRuntime, type RuntimeChoice } from './oci-runtime.js';
import { containerDirs, type EnginePaths } from './paths.js';
import { buildSpec } from './spec/build-spec.js';
import type { ImageConfig } from './spec/image-config.js';
import type { JoinableNamespace, NetworkChoice } from './spec/namespaces.js';
import type { OciMount } from './oci-spec.js';
import { StackError } from '../errors.js';
import { resolveHealthcheck } from '../supervisor/healthcheck-config.js';
import { formatRestartPolicy, servicePolicy } from '../supervisor/restart-policy.js';

export interface ImageRef {
  /** extracted layer directories, topmost first */
  layers: string[];
  config: ImageConfig;
}

/** What sets a one-off container (`stack run`) apart from the service's numbered ones. */
export interface OneOff {
  /** replaces `<project>-<service>-<number>` and `container_name` */
  name: string;
  /** over the service's; a one-off gets no container number label, as compose numbers none */
  labels: Record<string, string>;
  /** 'once' when a client attaches stdin for the container's life and its end ends the input */
  stdin?: StdinMode;
  /** the network DNS answers the service's name and aliases for it too, not only its own name (compose's --use-aliases) */
  useAliases?: boolean;
}

export interface ServiceContainerRequest {
  project: Project;
  service: Service;
  image: ImageRef;
  /** container number within the service (1, 2, ... for replicas) */
  number: number;
  /**
   * the network namespace the network layer prepared; `network_mode` host, none,
   * service:x and container:x are resolved here and take precedence
   */
  network: NetworkChoice;
  addresses?: string[];
  /** the networks' DNS servers, which forward to the service's own `dns` entries; without them, those entries are used directly */
  nameservers?: string[];
  /** labels over the service's (compose's bookkeeping: config hash, one-off, ...) */
  labels?: Record<string, string>;
  /** what `host-gateway` in extra_hosts stands for: the primary network's gateway */
  hostGateway?: string;
  runtime?: RuntimeChoice;
  oneOff?: OneOff;
}

export interface CreatedContainer {
  record: ContainerRecord;
  warnings: string[];
}

/** catatonit, as podman uses; tini as docker's docker-init is */
const INIT_BINARIES = ['/usr/libexec/podman/catatonit', '/usr/bin/catatonit', '/usr/bin/tini-static', '/usr/bin/tini'];

export class ContainerFactory {
  readonly containers: Containers;
  readonly cgroups: CgroupManager;
  readonly volumes: VolumeStore;
  /** projects whose cgroup parent this process already made */
  private readonly ensured = new Set<string>();

  constructor(private readonly paths: EnginePaths, cgroups: CgroupManager = createCgroupManager()) {
    this.containers = new Containers(paths);
    this.cgroups = cgroups;
    this.volumes = new VolumeStore(paths);
  }

  /** compose's container name: `<project>-<service>-<n>`, or `container_name`. */
  static containerName(project: string, service: Service, number: number): string {
    return service.container_name ?? `${project}-${service.name}-${number}`;
  }

  async create(req: ServiceContainerRequest): Promise<CreatedContainer> {
    const { project, service } = req;
    const name = req.oneOff?.name ?? ContainerFactory.containerName(project.name, service, req.number);
    const id = name;
    const runtime = req.runtime ?? chooseRuntime(service.runtime, this.cgroups.layout);
    const warnings: string[] = runtime.notice ? [runtime.notice] : [];
    // everything that can be refused is decided before anything is made
    const resources = toLinuxResources(limitsFromService(service));
    const network = this.networkFor(project, service, req.network);
    const sharedNamespaces: Partial<Record<JoinableNamespace, string>> = {};
    for (const ns of ['pid', 'ipc', 'uts'] as const) {
      const mode = service[ns];
      if (mode && /^(service|container):/.test(mode)) sharedNamespaces[ns] = this.namespaceOf(project, mode, ns);
    }
    const inherited = this.volumesFrom(project, service);
    const init = service.init ? INIT_BINARIES.find((b) => existsOnHost(b)) : undefined;
    if (service.init && !init) warnings.push(`service "${service.name}" asks for init, but neither catatonit nor tini is installed`);
    const hostname = service.hostname ?? (network.kind === 'host' ? osHostname() : id.slice(0, 63));
    const restart = formatRestartPolicy(servicePolicy(service));
    const healthcheck = resolveHealthcheck(service, req.image.config, (w) => warnings.push(w));
    const stdin: StdinMode | undefined = req.oneOff?.stdin ?? (service.stdin_open ? 'open' : undefined);

    if (!this.ensured.has(project.name)) {
      this.cgroups.ensureProject(project.name);
      this.ensured.add(project.name);
    }
    let mounts: ReturnType<typeof prepareMounts> | undefined;
    try {
      mounts = prepareMounts({ project, service, store: this.volumes, imageLayers: req.image.layers });
      const volumeMounts = [...inherited, ...mounts.mounts];
      const etcFiles = writeEtcFiles(path.join(containerDirs(this.paths, id).state, 'etc'), {
        hostname,
        ...(service.domainname !== undefined && { domainname: service.domainname }),
        ...(req.addresses && { addresses: req.addresses }),
        ...(service.extra_hosts && { extraHosts: service.extra_hosts }),
        ...(req.hostGateway !== undefined && { hostGateway: req.hostGateway }),
        ...((req.nameservers?.length || service.dns) && { dns: req.nameservers?.length ? req.nameservers : service.dns! }),
        ...(service.dns_search && { dnsSearch: service.dns_search }),
        ...(service.dns_opt && { dnsOptions: service.dns_opt }),
      });
      const record = await this.containers.create({
        id,
        name,
        runtime,
        rootfs: { kind: 'overlay', lower: req.image.layers },
        labels: {
          'com.docker.compose.project': project.name,
          'com.docker.compose.service': service.name,
          ...(!req.oneOff && { 'com.docker.compose.container-number': String(req.number) }),
          ...service.labels,
          ...req.labels,
          ...req.oneOff?.labels,
        },
        stopSignal: service.stop_signal ?? req.image.config.StopSignal ?? 'SIGTERM',
        stopGracePeriod: service.stop_grace_period ?? 10_000,
        volumeMounts,
        ...(stdin && { stdin }),
        ...(restart !== 'no' && { restart }),
        ...(healthcheck && { healthcheck }),
        spec: (rootfs) => {
          const built = buildSpec({
            service,
            image: req.image.config,
            rootfs,
            hostname,
            etcFiles,
            mounts: volumeMounts,
            network,
            sharedNamespaces,
            cgroupNamespace: this.cgroups.layout.mode === 'unified',
            cgroupsPath: this.cgroups.containerPath(project.name, id),
            resources,
            init: init ? { hostPath: init } : undefined,
            annotations: { 'com.docker.compose.project': project.name, 'com.docker.compose.service': service.name },
          });
          warnings.push(...built.warnings);
          return built.spec;
        },
      });
      return { record, warnings };
    } catch (e) {
      // Containers.create undoes its own work; what was made before it goes here
      if (!existsOnHost(path.join(containerDirs(this.paths, id).state, 'container.json'))) {
        rmSync(containerDirs(this.paths, id).state, { recursive: true, force: true });
      }
      for (const v of mounts?.volumes ?? []) if (this.volumes.get(v)?.anonymous) this.volumes.remove(v);
      throw e;
    }
  }

  /**
   * Removes the container, killing it if it runs. With `volumes`, its anonymous volumes go
   * too, as with docker's `rm -v`, except one another container still mounts (`volumes_from`).
   */
  async remove(id: string, opts: { volumes?: boolean } = {}): Promise<void> {
    let anonymous: string[] = [];
    if (opts.volumes) {
      try {
        anonymous = this.anonymousVolumes(this.containers.record(id));
      } catch {
        // no record: nothing says which volumes it had
      }
    }
    await this.containers.remove(id, { force: true });
    if (anonymous.length === 0) return;
    const mounted = new Set<string>();
    for (const other of this.containers.list()) {
      try {
        for (const name of this.anonymousVolumes(this.containers.record(other))) mounted.add(name);
      } catch {
        // removed meanwhile
      }
    }
    for (const name of anonymous) if (!mounted.has(name)) this.volumes.remove(name);
  }

  private anonymousVolumes(record: ContainerRecord): string[] {
    return record.volumeMounts
      .map((m) => (m.source !== undefined ? this.volumes.nameOf(m.source) : undefined))
      .filter((n): n is string => n !== undefined && this.volumes.get(n)?.anonymous === true);
  }

  /** `network_mode`: host, none, or the namespace of another running container. */
  private networkFor(project: Project, service: Service, prepared: NetworkChoice): NetworkChoice {
    const mode = service.network_mode;
    if (mode === undefined || mode === 'bridge' || mode === 'default') return prepared;
    if (mode === 'host') return { kind: 'host' };
    if (mode === 'none') return { kind: 'none' };
    if (/^(service|container):/.test(mode)) return { kind: 'netns', path: this.namespaceOf(project, mode, 'net') };
    throw new StackError(`service "${service.name}": network_mode "${mode}" is not supported`, {
      kind: 'unsupported',
      hint: 'use host, none, service:<name> or container:<name>',
    });
  }

  /** /proc/<pid>/ns/<kind> of the running container a `service:x` / `container:x` mode names. */
  private namespaceOf(project: Project, mode: string, kind: 'net' | 'pid' | 'ipc' | 'uts'): string {
    const name = this.targetName(project, mode);
    const pid = this.containers.pid(name);
    if (pid === undefined || !existsOnHost(`/proc/${pid}/ns/${kind}`, true)) {
      throw new StackError(`${mode} is not running`, { kind: 'conflict', hint: `start ${name} first: it must run for another container to join its namespaces` });
    }
    return `/proc/${pid}/ns/${kind}`;
  }

  /** `volumes_from: [svc, svc:ro, container:name]`: the other container's volume mounts. */
  private volumesFrom(project: Project, service: Service): OciMount[] {
    const out: OciMount[] = [];
    for (const entry of service.volumes_from ?? []) {
      const parts = entry.split(':');
      const access = parts.at(-1) === 'ro' || parts.at(-1) === 'rw' ? parts.pop() : undefined;
      const name = this.targetName(project, parts.join(':'));
      let record;
      try {
        record = this.containers.record(name);
      } catch {
        throw new StackError(`service "${service.name}": volumes_from ${entry}: no container ${name}`, { kind: 'not-found', hint: 'create that container first' });
      }
      for (const m of record.volumeMounts) {
        const options = (m.options ?? []).filter((o) => o !== 'ro' && o !== 'rw');
        const mode = access ?? ((m.options ?? []).includes('ro') ? 'ro' : 'rw');
        out.push({ ...m, options: m.type === 'tmpfs' ? m.options ?? [] : [...options, mode] });
      }
    }
    return out;
  }

  /** The container a `service:x` (its first replica) or `container:x` reference names. */
  private targetName(project: Project, ref: string): string {
    if (ref.startsWith('container:')) return ref.slice('container:'.length);
    const svc = ref.startsWith('service:') ? ref.slice('service:'.length) : ref;
    const target = project.services[svc];
    return target ? ContainerFactory.containerName(project.name, target, 1) : `${project.name}-${svc}-1`;
  }
}

function existsOnHost(file: string, anyKind = false): boolean {
  try {
    const st = statSync(file);
    return anyKind || st.isFile();
  } catch {
    return false;
  }
}
