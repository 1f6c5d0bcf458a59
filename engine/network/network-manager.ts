/**
 * Networks and the containers on them. A network is a bridge holding the gateway address,
 * its firewall chains and its DNS listener; a container's sandbox is a network namespace
 * the engine creates (bind-mounted under the run dir, as podman does) and hands to the
 * runtime as a path; attaching puts one veth per network into it, configured from the
 * host side through netlink.
 *
 * As netavark does, each operation checks everything first, then applies, and rolls back
 * what it applied when a later step fails; removal keeps going after an error and reports
 * every failure together, because cleaning up as much as possible matters more.
 */
import { existsSync } from 'node:fs';
import { StackError } from '../errors.js';
import type { Port } from '../model/types.js';
import type { EnginePaths } from '../runtime/paths.js';
import { closeFd, createNetns, openNetns, removeNetns } from '../sys/netns.js';
import { flushConntrackOf } from '../sys/netlink/conntrack.js';
import { NetlinkError, Rtnetlink } from '../sys/netlink/rtnetlink.js';
import { DnsPublisher } from './dns-publisher.js';
import type { Firewall, FirewallNetwork } from './firewall/firewall.js';
import { NftFirewall } from './firewall/nft-firewall.js';
import { allocateAddress, allocateSubnet, contains, formatCidr, formatIpv4, overlaps, parseCidr, parseIpv4, planSubnet, type Cidr, type SubnetPlan } from './ipam.js';
import { bridgeName, hostVethName, netnsPath } from './link-names.js';
import { specHash, type NetworkSpec } from './network-spec.js';
import { NetworkStore, type Endpoint, type NetworkRecord } from './network-store.js';
import { resolvePorts, toMappings, type HostBinding } from './published-ports.js';

export interface NetworkManagerOptions {
  firewall?: Firewall;
  /** where unknown names are forwarded; the host's resolvers when absent */
  dnsUpstreams?: string[];
}

export interface EndpointRequest {
  /** the network's host name */
  network: string;
  ipv4Address?: string;
  macAddress?: string;
  /** names the network's DNS resolves to this container */
  names: string[];
  /** the service's `dns:` servers: the network's DNS forwards this container's other questions there */
  dnsUpstreams?: string[];
}

export interface Attachment {
  network: string;
  ifname: string;
  ipv4: string;
  prefix: number;
  gateway: string;
  internal: boolean;
}

export class NetworkManager {
  readonly store: NetworkStore;
  readonly firewall: Firewall;
  private readonly dns: DnsPublisher;

  constructor(
    private readonly paths: EnginePaths,
    opts: NetworkManagerOptions = {},
  ) {
    this.store = new NetworkStore(paths);
    this.firewall = opts.firewall ?? new NftFirewall();
    this.dns = new DnsPublisher(paths, (name) => this.store.get(name), opts.dnsUpstreams);
  }

  /** DNS updates under way: they overlap the container's creation, and are awaited before it starts */
  private dnsPending = new Set<Promise<void>>();

  private trackDns(p: Promise<void>): void {
    // a failure is reported by dnsSettled(); until then it must not count as unhandled
    p.catch(() => undefined);
    this.dnsPending.add(p);
  }

  /**
   * Waits until the DNS server serves every change made so far (ensure, attach, detach),
   * and reports a failure to serve one. Callers do this before a container starts, so its
   * first lookups find their names, and before the process exits.
   */
  async dnsSettled(): Promise<void> {
    const pending = [...this.dnsPending];
    for (const p of pending) this.dnsPending.delete(p);
    const results = await Promise.allSettled(pending);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  get(name: string): NetworkRecord | undefined {
    return this.store.get(name);
  }

  list(): NetworkRecord[] {
    return this.store.list();
  }

  /**
   * Makes the network unless it exists; an existing one made from another config is a
   * conflict (compose asks to recreate it), and one whose bridge vanished (a reboot
   * cleared the kernel's side) is made again with the same subnet.
   */
  async ensure(spec: NetworkSpec): Promise<NetworkRecord> {
    // each container of `up` asks again for its networks: once per command is enough
    const known = this.ensured.get(spec.name);
    if (known && known.configHash === specHash(spec)) {
      const rec = this.store.get(spec.name);
      if (rec) return rec;
    }
    const rec = await this.store.withLock(() => this.ensureLocked(spec));
    this.ensured.set(rec.name, rec);
    this.trackDns(this.dns.update(rec.name));
    return rec;
  }

  /** networks this process made sure of, by name */
  private readonly ensured = new Map<string, NetworkRecord>();

  private ensureLocked(spec: NetworkSpec): NetworkRecord {
    const existing = this.store.get(spec.name);
    const hash = specHash(spec);
    if (existing && existing.configHash !== hash && !spec.external) {
      throw new StackError(`network ${spec.name} exists with a different configuration`, {
        kind: 'conflict',
        hint: `remove it first (\`stack down\` in its project) so it is made again from the stack file`,
      });
    }
    const nl = Rtnetlink.open();
    try {
      if (existing) {
        if (!nl.link(existing.bridge)) this.makeKernelSide(nl, existing);
        return existing;
      }
      if (spec.external) {
        throw new StackError(`network ${spec.name} is declared external but does not exist`, {
          kind: 'not-found',
          hint: 'create it first (by the project that owns it), or remove `external: true`',
        });
      }
      const rec = this.newRecord(nl, spec, hash);
      this.store.put(rec);
      try {
        this.makeKernelSide(nl, rec);
      } catch (e) {
        this.store.delete(rec.name);
        throw e;
      }
      return rec;
    } finally {
      nl.close();
    }
  }

  private newRecord(nl: Rtnetlink, spec: NetworkSpec, hash: string): NetworkRecord {
    const where = `network ${spec.name}`;
    const others = this.store.list();
    const bridge = spec.bridgeName ?? bridgeName(spec.name);
    const owner = others.find((o) => o.bridge === bridge);
    if (owner || nl.link(bridge)) {
      throw new StackError(`${where}: interface ${bridge} already exists${owner ? ` (network ${owner.name})` : ''}`, {
        kind: 'conflict',
        hint: spec.bridgeName ? 'choose another com.docker.network.bridge.name' : `delete the stale interface: ip link delete ${bridge}`,
      });
    }
    const taken: Array<{ cidr: Cidr; what: string }> = [
      ...others.map((o) => ({ cidr: parseCidr(o.subnet)!, what: `network ${o.name}` })),
      ...hostRoutes(nl).map((r) => ({ cidr: r, what: `a route of this host (${formatCidr(r)})` })),
    ];
    let subnet: Cidr;
    if (spec.subnet !== undefined) {
      const s = parseCidr(spec.subnet);
      if (!s) throw new StackError(`${where}: subnet "${spec.subnet}" is not an IPv4 CIDR`, { hint: 'write it like 172.28.0.0/16' });
      const special = SPECIAL_RANGES.find((r) => overlaps(parseCidr(r.cidr)!, s));
      if (special) {
        throw new StackError(`${where}: subnet ${spec.subnet} is in the ${special.what} range ${special.cidr}`, { hint: 'use a private range such as 172.16.0.0/12, 192.168.0.0/16 or 10.0.0.0/8' });
      }
      const clash = taken.find((t) => overlaps(t.cidr, s));
      if (clash) {
        throw new StackError(`${where}: subnet ${spec.subnet} overlaps ${clash.what}`, { kind: 'conflict', hint: 'choose another subnet, or leave ipam out to get a free one' });
      }
      subnet = s;
    } else {
      subnet = allocateSubnet(taken.map((t) => t.cidr));
    }
    const plan = planSubnet(subnet, { ...(spec.gateway && { gateway: spec.gateway }), ...(spec.ipRange && { ip_range: spec.ipRange }), ...(spec.auxAddresses && { aux_addresses: spec.auxAddresses }) }, where);
    return {
      name: spec.name,
      bridge,
      subnet: formatCidr(subnet),
      gateway: formatIpv4(plan.gateway),
      ...(spec.ipRange !== undefined && { ipRange: formatCidr(plan.range) }),
      reserved: plan.reserved.map(formatIpv4),
      internal: spec.internal,
      ...(spec.mtu !== undefined && { mtu: spec.mtu }),
      ...(spec.hostBinding !== undefined && { hostBinding: spec.hostBinding }),
      labels: spec.labels,
      configHash: hash,
      endpoints: {},
      created: new Date().toISOString(),
    };
  }

  /** bridge with the gateway address, up, and its firewall chains; undone on failure */
  private makeKernelSide(nl: Rtnetlink, rec: NetworkRecord): void {
    nl.createBridge(rec.bridge, rec.mtu !== undefined ? { mtu: rec.mtu } : {});
    try {
      nl.addAddress(rec.bridge, `${rec.gateway}/${parseCidr(rec.subnet)!.prefix}`);
      nl.setUp(rec.bridge);
      this.firewall.setupNetwork(firewallNetwork(rec));
    } catch (e) {
      const errors = collect([() => this.firewall.teardownNetwork(firewallNetwork(rec)), () => nl.deleteLink(rec.bridge)]);
      if (errors.length > 0) (e as Error).message += ` (rollback also failed: ${errors.join('; ')})`;
      throw e;
    }
  }

  /** Removes the network; containers still attached make it a conflict unless `force`. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = await this.store.withLock(() => {
      const r = this.store.get(name);
      if (!r) return undefined;
      const attached = Object.keys(r.endpoints);
      if (attached.length > 0 && !opts.force) {
        throw new StackError(`network ${name} is still in use by ${attached.join(', ')}`, { kind: 'conflict', hint: 'remove those containers first' });
      }
      const nl = Rtnetlink.open();
      try {
        const errors = collect([
          ...Object.values(r.endpoints).map((ep) => () => deleteLinkIfPresent(nl, ep.hostVeth)),
          () => this.firewall.teardownNetwork(firewallNetwork(r)),
          () => deleteLinkIfPresent(nl, r.bridge),
        ]);
        this.store.delete(name);
        if (errors.length > 0) throw new StackError(`removing network ${name}: ${errors.join('; ')}`, { kind: 'system' });
      } finally {
        nl.close();
      }
      return r;
    });
    this.ensured.delete(name);
    if (rec) await this.dns.update(rec.name);
    await this.dnsSettled();
  }

  /** A fresh network namespace for a container, with its loopback up. */
  createSandbox(container: string): string {
    const file = netnsPath(this.paths, container);
    if (existsSync(file)) removeNetns(file);
    createNetns(file);
    try {
      const inner = Rtnetlink.openIn(file);
      try {
        inner.setUp('lo');
      } finally {
        inner.close();
      }
    } catch (e) {
      removeNetns(file);
      throw e;
    }
    return file;
  }

  /** Drops the container's namespace; its veths go with it (see detach's `sandboxGone`). */
  removeSandbox(container: string): void {
    removeNetns(netnsPath(this.paths, container));
  }

  /**
   * Puts the container into each network, in order: a veth per network (eth0, eth1, ...)
   * with its address, and a default route through the first network that is not internal.
   * Addresses are recorded before the links exist, so a crash leaves records that name
   * what to clean.
   */
  async attach(container: string, netns: string, requests: readonly EndpointRequest[]): Promise<Attachment[]> {
    if (requests.length === 0) return [];
    const result = await this.store.withLock(() => this.attachLocked(container, netns, requests));
    for (const a of result) this.trackDns(this.dns.update(a.network));
    return result;
  }

  private attachLocked(container: string, netns: string, requests: readonly EndpointRequest[]): Attachment[] {
    // allocate everything first: an unknown network or a taken address fails before any link exists
    const planned: Array<{ rec: NetworkRecord; ep: Endpoint }> = requests.map((req, i) => {
      const rec = this.store.get(req.network);
      if (!rec) throw new StackError(`network ${req.network} does not exist`, { kind: 'not-found', hint: 'it is created by `stack up`' });
      if (rec.endpoints[container]) throw new StackError(`container ${container} is already on network ${rec.name}`, { kind: 'conflict' });
      const ipv4 = this.allocate(rec, req);
      const ep: Endpoint = {
        container,
        ipv4,
        ...(req.macAddress !== undefined && { mac: req.macAddress }),
        hostVeth: hostVethName(container, rec.name),
        ifname: `eth${i}`,
        names: [...new Set(req.names)],
        ...(req.dnsUpstreams && req.dnsUpstreams.length > 0 && { dnsUpstreams: req.dnsUpstreams }),
      };
      return { rec, ep };
    });
    for (const { rec, ep } of planned) {
      rec.endpoints[container] = ep;
      rec.lastAddress = ep.ipv4;
      this.store.put(rec);
    }
    const nl = Rtnetlink.open();
    const fd = openNetns(netns);
    let inner: Rtnetlink | undefined;
    try {
      inner = Rtnetlink.openIn(netns);
      for (const { rec, ep } of planned) {
        deleteLinkIfPresent(nl, ep.hostVeth); // a leftover of a crash: the name is ours
        nl.createVeth(ep.hostVeth, ep.ifname, { ...(rec.mtu !== undefined && { mtu: rec.mtu }), peerNetnsFd: fd });
        nl.setMaster(ep.hostVeth, rec.bridge);
        nl.setUp(ep.hostVeth);
        if (ep.mac) inner.setMac(ep.ifname, ep.mac);
        inner.addAddress(ep.ifname, `${ep.ipv4}/${parseCidr(rec.subnet)!.prefix}`);
        inner.setUp(ep.ifname);
      }
      const routed = planned.find(({ rec }) => !rec.internal);
      if (routed) inner.addRoute({ gateway: routed.rec.gateway, dev: routed.ep.ifname });
    } catch (e) {
      const errors = collect(planned.map(({ ep }) => () => deleteLinkIfPresent(nl, ep.hostVeth)));
      for (const { rec } of planned) {
        const fresh = this.store.get(rec.name);
        if (fresh) {
          delete fresh.endpoints[container];
          this.store.put(fresh);
        }
      }
      if (errors.length > 0) (e as Error).message += ` (rollback also failed: ${errors.join('; ')})`;
      throw e;
    } finally {
      inner?.close();
      closeFd(fd);
      nl.close();
    }
    return planned.map(({ rec, ep }) => ({
      network: rec.name,
      ifname: ep.ifname,
      ipv4: ep.ipv4,
      prefix: parseCidr(rec.subnet)!.prefix,
      gateway: rec.gateway,
      internal: rec.internal,
    }));
  }

  private allocate(rec: NetworkRecord, req: EndpointRequest): string {
    const subnet = parseCidr(rec.subnet)!;
    const plan: SubnetPlan = {
      subnet,
      gateway: parseIpv4(rec.gateway)!,
      range: rec.ipRange ? parseCidr(rec.ipRange)! : subnet,
      reserved: rec.reserved.map((r) => parseIpv4(r)!),
    };
    const taken = new Set(Object.values(rec.endpoints).map((e) => parseIpv4(e.ipv4)!));
    if (req.ipv4Address !== undefined) {
      const ip = parseIpv4(req.ipv4Address);
      if (ip === undefined || !contains(subnet, ip)) {
        throw new StackError(`ipv4_address ${req.ipv4Address} is not inside network ${rec.name}'s subnet ${rec.subnet}`, {
          hint: `pick an address in ${rec.subnet}, or give the network an ipam subnet that holds it`,
        });
      }
      if (ip === plan.gateway || ip === subnet.base || plan.reserved.includes(ip)) {
        throw new StackError(`ipv4_address ${req.ipv4Address} is reserved on network ${rec.name}`, { kind: 'conflict', hint: 'pick another address' });
      }
      const holder = Object.values(rec.endpoints).find((e) => e.ipv4 === req.ipv4Address);
      if (holder) throw new StackError(`ipv4_address ${req.ipv4Address} is already used by ${holder.container} on network ${rec.name}`, { kind: 'conflict' });
      return req.ipv4Address;
    }
    return formatIpv4(allocateAddress(plan, taken, rec.lastAddress ? parseIpv4(rec.lastAddress) : undefined));
  }

  /** Takes the container off every network (its veths, addresses, DNS names and published ports). */
  async detach(container: string, opts: { sandboxGone?: boolean } = {}): Promise<void> {
    if (opts.sandboxGone) {
      // the kernel deletes both ends of a veth when its namespace goes, many in one RCU grace
      // period: waiting for that takes a tenth of the time of deleting each link (~20 ms each)
      const veths = this.store.list().flatMap((r) => (r.endpoints[container] ? [r.endpoints[container].hostVeth] : []));
      await waitForLinksGone(veths, VETH_GONE_MS);
    }
    const changed = await this.store.withLock(() => {
      const nl = Rtnetlink.open();
      const touched: NetworkRecord[] = [];
      try {
        const records = this.store.list();
        // listing the firewall costs a netlink dump: only for containers that published ports
        const published = records.some((r) => (r.endpoints[container]?.published ?? 0) > 0);
        const errors = published ? collect([() => this.firewall.teardownPorts(container)]) : [];
        // flows the ports sent to it: their entries would keep leading a client there (and its own flows go too)
        for (const rec of records) {
          const ep = rec.endpoints[container];
          if (ep && (ep.published ?? 0) > 0) errors.push(...collect([() => void flushConntrackOf(ep.ipv4)]));
        }
        for (const rec of records) {
          const ep = rec.endpoints[container];
          if (!ep) continue;
          errors.push(...collect([() => deleteLinkIfPresent(nl, ep.hostVeth)]));
          delete rec.endpoints[container];
          this.store.put(rec);
          touched.push(rec);
        }
        if (errors.length > 0) throw new StackError(`detaching ${container}: ${errors.join('; ')}`, { kind: 'system' });
      } finally {
        nl.close();
      }
      return touched;
    });
    for (const rec of changed) this.trackDns(this.dns.update(rec.name));
  }

  /** Checks that the ports can be published (before anything is created); nothing is held. */
  async checkPorts(service: string, ports: readonly Port[], network?: string): Promise<HostBinding[]> {
    return resolvePorts(service, ports, this.firewall.publishedPorts(), this.hostBinding(network));
  }

  /** Publishes the ports to the container's address on `network`; the DNAT rules carry the container's id. */
  async publish(container: string, service: string, ports: readonly Port[], network: string, containerIp: string): Promise<HostBinding[]> {
    if (ports.length === 0) return [];
    return this.store.withLock(async () => {
      const rec = this.store.get(network);
      if (!rec) throw new StackError(`network ${network} does not exist`, { kind: 'not-found' });
      const bindings = await resolvePorts(service, ports, this.firewall.publishedPorts(), rec.hostBinding);
      const ep = rec.endpoints[container];
      // recorded first: a crash after the rules leaves a record that says to remove them
      if (ep) {
        ep.published = bindings.length;
        this.store.put(rec);
      }
      this.firewall.setupPorts(container, firewallNetwork(rec), toMappings(bindings, containerIp));
      return bindings;
    });
  }

  /** the name servers a container on these networks uses: the networks' gateways */
  nameservers(attachments: readonly Attachment[]): string[] {
    return [...new Set(attachments.map((a) => a.gateway))];
  }

  private hostBinding(network: string | undefined): string | undefined {
    return network ? this.store.get(network)?.hostBinding : undefined;
  }
}

function firewallNetwork(rec: NetworkRecord): FirewallNetwork {
  return { name: rec.name, bridge: rec.bridge, subnet: rec.subnet, internal: rec.internal };
}

/**
 * The host's routes other than default ones: subnets a network must not overlap. Our own
 * bridges' routes count too: they may belong to another engine (another STACK_ROOT).
 */
function hostRoutes(nl: Rtnetlink): Cidr[] {
  return nl
    .routes(4)
    .filter((r) => r.dst !== undefined && r.dstLen > 0 && r.dstLen < 32 && !r.dst.startsWith('127.'))
    .map((r) => parseCidr(`${r.dst}/${r.dstLen}`))
    .filter((c): c is Cidr => c !== undefined);
}

/** ranges a bridge's subnet must not take: traffic there never reaches a bridge */
const SPECIAL_RANGES = [
  { cidr: '0.0.0.0/8', what: '"this network"' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
  { cidr: '169.254.0.0/16', what: 'link-local' },
  { cidr: '224.0.0.0/4', what: 'multicast' },
  { cidr: '240.0.0.0/4', what: 'reserved' },
];

/** how long the kernel gets to drop a removed sandbox's veths before they are deleted one by one */
const VETH_GONE_MS = 2000;

async function waitForLinksGone(names: readonly string[], timeoutMs: number): Promise<void> {
  if (names.length === 0) return;
  const nl = Rtnetlink.open();
  try {
    const deadline = Date.now() + timeoutMs;
    let left = [...names];
    for (let delay = 1; left.length > 0 && Date.now() < deadline; delay = Math.min(delay * 2, 20)) {
      await new Promise((r) => setTimeout(r, delay));
      left = left.filter((n) => nl.link(n) !== undefined);
    }
  } finally {
    nl.close();
  }
}

function deleteLinkIfPresent(nl: Rtnetlink, name: string): void {
  try {
    nl.deleteLink(name);
  } catch (e) {
    if (!(e instanceof NetlinkError && e.code === 'ENODEV')) throw e;
  }
}

/** Runs every step, whatever fails; returns the failures' messages. */
function collect(steps: ReadonlyArray<() => void>): string[] {
  const errors: string[] = [];
  for (const step of steps) {
    try {
      step();
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return errors;
}

