/**
 * From a service of the model to a created container: cgroup parent, volumes, /etc files,
 * the OCI spec (built once the rootfs is mounted, so the user resolves against the image's
 * own /etc/passwd), then conmon and the runtime. Each part is produced by its own module
 * and handed to the next; a failure undoes the container.
 */
import { statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { createCgroupManager, type CgroupManager } from '../cgroups/cgroup-manager.js';
import { limitsFromService, toLinuxResources } from '../cgroups/resources.js';
import type { Project, Service } from '../model/types.js';
import { prepareMounts } from '../volumes/service-mounts.js';
import { VolumeStore } from '../volumes/volume-store.js';
import { Containers, type ContainerRecord } from './containers.js';
import { writeEtcFiles } from './etc-files.js';
import { chooseRuntime, type RuntimeChoice } from './oci-runtime.js';
import { containerDirs, type EnginePaths } from './paths.js';
import { buildSpec } from './spec/build-spec.js';
import type { ImageConfig } from './spec/image-config.js';
import type { NetworkChoice } from './spec/namespaces.js';

export interface ImageRef {
  /** extracted layer directories, topmost first */
  layers: string[];
  config: ImageConfig;
}

export interface ServiceContainerRequest {
  project: Project;
  service: Service;
  image: ImageRef;
  /** container number within the service (1, 2, ... for replicas) */
  number: number;
  network: NetworkChoice;
  addresses?: string[];
  runtime?: RuntimeChoice;
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
    const name = ContainerFactory.containerName(project.name, service, req.number);
    const id = name;
    const runtime = req.runtime ?? chooseRuntime(service.runtime);
    const warnings: string[] = runtime.notice ? [runtime.notice] : [];
    this.cgroups.ensureProject(project.name);
    const resources = toLinuxResources(limitsFromService(service));
    const mounts = prepareMounts({ project, service, store: this.volumes, imageLayers: req.image.layers });
    const hostname = service.hostname ?? (req.network.kind === 'host' ? osHostname() : id.slice(0, 63));
    const etcFiles = writeEtcFiles(path.join(containerDirs(this.paths, id).state, 'etc'), {
      hostname,
      ...(service.domainname !== undefined && { domainname: service.domainname }),
      ...(req.addresses && { addresses: req.addresses }),
      ...(service.extra_hosts && { extraHosts: service.extra_hosts }),
      ...(service.dns && { dns: service.dns }),
      ...(service.dns_search && { dnsSearch: service.dns_search }),
      ...(service.dns_opt && { dnsOptions: service.dns_opt }),
    });
    const init = service.init ? INIT_BINARIES.find((b) => existsOnHost(b)) : undefined;
    if (service.init && !init) warnings.push(`service "${service.name}" asks for init, but neither catatonit nor tini is installed`);
    const record = await this.containers.create({
      id,
      name,
      runtime,
      rootfs: { kind: 'overlay', lower: req.image.layers },
      labels: {
        'com.docker.compose.project': project.name,
        'com.docker.compose.service': service.name,
        'com.docker.compose.container-number': String(req.number),
        ...service.labels,
      },
      stopSignal: service.stop_signal ?? req.image.config.StopSignal ?? 'SIGTERM',
      stopGracePeriod: service.stop_grace_period ?? 10_000,
      spec: (rootfs) => {
        const built = buildSpec({
          service,
          image: req.image.config,
          rootfs,
          hostname,
          etcFiles,
          mounts: mounts.mounts,
          network: req.network,
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
  }
}

function existsOnHost(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
