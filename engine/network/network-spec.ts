/**
 * A network as the manager needs it, from the model's `networks:` entry: its host name,
 * driver and options checked, compose's labels attached. Pure.
 */
import { createHash } from 'node:crypto';
import { StackError } from '../errors.js';
import type { Network, Project } from '../model/types.js';
import { NETWORK_NAME } from './link-names.js';

export interface NetworkSpec {
  /** the name on the host, e.g. `myapp_default` */
  name: string;
  internal: boolean;
  external: boolean;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  /** com.docker.network.bridge.name */
  bridgeName?: string;
  /** com.docker.network.driver.mtu */
  mtu?: number;
  /** com.docker.network.bridge.host_binding_ipv4 */
  hostBinding?: string;
  labels: Record<string, string>;
  /** what the stack file asks that the network does not do, one sentence each, for warnings */
  warnings: string[];
}

const BRIDGE_NAME = 'com.docker.network.bridge.name';
const MTU = 'com.docker.network.driver.mtu';
const HOST_BINDING = 'com.docker.network.bridge.host_binding_ipv4';

export function networkSpec(project: Project, key: string): NetworkSpec {
  const net: Network | undefined = project.networks[key];
  const where = `networks.${key}`;
  const name = net?.name ?? `${project.name}_${key}`;
  if (!NETWORK_NAME.test(name)) {
    throw new StackError(`network name "${name}" is not valid`, { path: where, hint: 'use letters, digits, "_", "." and "-", starting with a letter or digit' });
  }
  const driver = net?.driver ?? 'bridge';
  if (driver !== 'bridge' && !net?.external) {
    throw new StackError(`network "${key}": driver "${driver}" is not supported`, {
      kind: 'unsupported',
      path: `${where}.driver`,
      hint: 'stack networks are bridges: remove `driver`, or use network_mode: host / none on the service',
    });
  }
  const configs = net?.ipam?.config ?? [];
  // compose files often carry an IPv6 config beside the IPv4 one; the IPv4 one is used
  const v4 = configs.find((c) => c.subnet === undefined || !c.subnet.includes(':'));
  if (configs.length > 0 && !v4) {
    throw new StackError(`network "${key}": only an IPv6 subnet is configured`, { kind: 'unsupported', path: `${where}.ipam`, hint: 'add an IPv4 subnet (IPv6 networks are not supported yet)' });
  }
  if (configs.filter((c) => c.subnet === undefined || !c.subnet.includes(':')).length > 1) {
    throw new StackError(`network "${key}": more than one IPv4 subnet`, { kind: 'unsupported', path: `${where}.ipam.config`, hint: 'keep one IPv4 subnet per network' });
  }
  const opts = net?.driver_opts ?? {};
  let mtu: number | undefined;
  if (opts[MTU] !== undefined) {
    mtu = Number(opts[MTU]);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new StackError(`network "${key}": ${MTU} must be a number between 68 and 65535, not "${opts[MTU]}"`, { path: `${where}.driver_opts` });
    }
  }
  const bridge = opts[BRIDGE_NAME];
  if (bridge !== undefined && (bridge.length === 0 || bridge.length > 15 || /[\s/:]/.test(bridge))) {
    throw new StackError(`network "${key}": bridge name "${bridge}" is not a valid interface name`, { path: `${where}.driver_opts`, hint: 'use at most 15 characters, without spaces, "/" or ":"' });
  }
  return {
    name,
    internal: net?.internal === true,
    external: net?.external === true,
    ...(v4?.subnet !== undefined && { subnet: v4.subnet }),
    ...(v4?.gateway !== undefined && { gateway: v4.gateway }),
    ...(v4?.ip_range !== undefined && { ipRange: v4.ip_range }),
    ...(v4?.aux_addresses !== undefined && { auxAddresses: v4.aux_addresses }),
    ...(bridge !== undefined && { bridgeName: bridge }),
    ...(mtu !== undefined && { mtu }),
    ...(opts[HOST_BINDING] !== undefined && { hostBinding: opts[HOST_BINDING] }),
    labels: { ...net?.labels, 'com.docker.compose.project': project.name, 'com.docker.compose.network': key },
    warnings: [
      ...Object.keys(opts)
        .filter((k) => k !== MTU && k !== BRIDGE_NAME && k !== HOST_BINDING)
        .map((k) => `network ${key}: driver option ${k} is not supported and ignored`),
      ...(net?.enable_ipv6 ? [`network ${key}: enable_ipv6 is not supported yet; the network has IPv4 only`] : []),
    ],
  };
}

/** What a network is made from: when this changes, the network must be recreated. */
export function specHash(spec: NetworkSpec): string {
  const { name, internal, subnet, gateway, ipRange, auxAddresses, bridgeName, mtu, hostBinding } = spec;
  const body = JSON.stringify({ name, internal, subnet, gateway, ipRange, auxAddresses, bridgeName, mtu, hostBinding });
  return createHash('sha256').update(body).digest('hex');
}
