/**
 * A service's container with its networks: the reconciler's unit of work. The network
 * layer and the runtime never call each other; this module passes what one produces (the
 * sandbox path, the addresses, the name servers) to the other, in the order that lets a
 * failure undo everything: ports checked first, then the sandbox, the veths, the
 * container, and last the published ports.
 */
import { StackError } from '../errors.js';
import type { Project, Service } from '../model/types.js';
import { networkSpec } from '../network/network-spec.js';
import type { Attachment, EndpointRequest, NetworkManager } from '../network/network-manager.js';
import type { HostBinding } from '../network/published-ports.js';
import { ContainerFactory, type ImageRef, type OneOff } from '../runtime/container-factory.js';
import type { ContainerRecord } from '../runtime/containers.js';
import type { RuntimeChoice } from '../runtime/oci-runtime.js';

export interface ServiceContainerSpec {
  project: Project;
  service: Service;
  image: ImageRef;
  number: number;
  runtime?: RuntimeChoice;
  /** compose's bookkeeping labels (config hash, one-off, working dir, ...) */
  labels?: Record<string, string>;
  /** a one-off container (`stack run`) instead of the service's container `number` */
  oneOff?: OneOff;
}

export interface NetworkedContainer {
  record: ContainerRecord;
  attachments: Attachment[];
  ports: HostBinding[];
  warnings: string[];
}

export class ServiceContainers {
  constructor(
    readonly factory: ContainerFactory,
    readonly networks: NetworkManager,
  ) {}

  /** Makes the service's networks (idempotent); `up` does this once per network before any container. */
  async ensureNetworks(project: Project, service: Service): Promise<void> {
    for (const key of networkKeys(service)) await this.networks.ensure(networkSpec(project, key));
  }

  async create(spec: ServiceContainerSpec): Promise<NetworkedContainer> {
    const { project, service } = spec;
    const id = spec.oneOff?.name ?? ContainerFactory.containerName(project.name, service, spec.number);
    // before anything is made: the rollback below would take the other container's sandbox and veths
    if (this.exists(id)) throw new StackError(`container ${id} already exists`, { kind: 'conflict', hint: 'remove it first, or choose another name' });
    const keys = networkKeys(service);
    const primary = keys[0] ? networkSpec(project, keys[0]).name : undefined;
    if (service.ports.length > 0) {
      // published ports need an address to forward to: compose refuses them with network_mode too
      if (!primary) {
        throw new StackError(`service "${service.name}": ports cannot be published with network_mode ${service.network_mode}`, {
          path: `services.${service.name}.ports`,
          hint: 'remove `ports`, or attach the service to a network',
        });
      }
      await this.networks.checkPorts(service.name, service.ports, primary);
    }
    if (keys.length === 0) {
      const made = await this.factory.create({ ...spec, network: { kind: 'none' } });
      return { record: made.record, attachments: [], ports: [], warnings: made.warnings };
    }
    await this.ensureNetworks(project, service);
    const sandbox = this.networks.createSandbox(id);
    let attachments: Attachment[] = [];
    let created = false;
    try {
      attachments = await this.networks.attach(id, sandbox, endpointRequests(project, service, id, keys, spec.oneOff === undefined || spec.oneOff.useAliases === true));
      const made = await this.factory.create({
        ...spec,
        network: { kind: 'netns', path: sandbox },
        addresses: attachments.map((a) => a.ipv4),
        nameservers: this.networks.nameservers(attachments),
        hostGateway: attachments[0]!.gateway,
      });
      created = true;
      const ports = await this.networks.publish(id, service.name, service.ports, attachments[0]!.network, attachments[0]!.ipv4);
      // the container's names (and the others') are served before it can start and look them up
      await this.networks.dnsSettled();
      return { record: made.record, attachments, ports, warnings: made.warnings };
    } catch (e) {
      if (created) await this.factory.remove(id, { volumes: true }).catch(() => undefined);
      this.networks.removeSandbox(id);
      await this.networks.detach(id, { sandboxGone: true }).catch(() => undefined);
      await this.networks.dnsSettled().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Removes the container, takes it off its networks and drops its sandbox; every step runs.
   * `volumes`: its anonymous volumes too (`run --rm`, `down -v`).
   */
  async remove(id: string, opts: { volumes?: boolean } = {}): Promise<void> {
    const errors: unknown[] = [];
    await this.factory.remove(id, opts).catch((e: unknown) => errors.push(e));
    let sandboxGone = false;
    try {
      this.networks.removeSandbox(id);
      sandboxGone = true;
    } catch (e) {
      errors.push(e);
    }
    await this.networks.detach(id, { sandboxGone }).catch((e: unknown) => errors.push(e));
    await this.networks.dnsSettled().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  }

  private exists(id: string): boolean {
    try {
      this.factory.containers.record(id);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The service's networks in compose's order: higher `priority` first, then as written.
 * Services with a `network_mode` other than bridge have none of their own.
 */
export function networkKeys(service: Service): string[] {
  const mode = service.network_mode;
  if (mode !== undefined && mode !== 'bridge' && mode !== 'default') return [];
  const entries = Object.entries(service.networks ?? { default: null });
  return entries
    .map(([key, cfg], i) => ({ key, priority: cfg?.priority ?? 0, i }))
    .sort((a, b) => b.priority - a.priority || a.i - b.i)
    .map((e) => e.key);
}

/** `serviceNames`: the service's name and aliases resolve to the container too, as for every container but one-offs. */
function endpointRequests(project: Project, service: Service, container: string, keys: readonly string[], serviceNames: boolean): EndpointRequest[] {
  return keys.map((key, i) => {
    const cfg = service.networks?.[key] ?? null;
    // the service-level mac_address is the primary interface's, as in compose
    const mac = cfg?.mac_address ?? (i === 0 ? service.mac_address : undefined);
    return {
      network: networkSpec(project, key).name,
      names: serviceNames ? [service.name, container, ...(cfg?.aliases ?? [])] : [container],
      ...(cfg?.ipv4_address !== undefined && { ipv4Address: cfg.ipv4_address }),
      ...(mac !== undefined && { macAddress: mac }),
      ...(service.dns && { dnsUpstreams: service.dns }),
    };
  });
}
