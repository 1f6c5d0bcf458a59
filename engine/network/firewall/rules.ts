/**
 * The nftables batches of the firewall, as pure functions of the request and of the table's
 * current state (read back by listing.ts); nft-firewall.ts only lists and applies them.
 *
 * Our table only ever vetoes: every base chain has policy accept, and where docker's rules
 * say "accept", ours say "return" (leave this network's chain without a verdict). An accept
 * in one table cannot overrule a drop in another anyway, and a network chain that only drops
 * or returns cannot let through what another network's chain drops, whatever order the jumps
 * to them have. A host whose own firewall drops forwarded traffic keeps doing so: we touch
 * nothing outside our table.
 */
import { isIPv4 } from 'node:net';
import { StackError } from '../../errors.js';
import type { NftCommand, NftJson } from '../../sys/nftables.js';
import type { FirewallNetwork, PortMapping, PublishedPort } from './firewall.js';
import { readPublished, type TableState } from './listing.js';
import {
  BRIDGES_SET,
  FAMILY,
  FORWARD_CHAIN,
  INFRA_COMMENT,
  INPUT_CHAIN,
  isNetworkChain,
  NETWORK_RULE_CHAINS,
  networkChain,
  OUTPUT_CHAIN,
  POSTROUTING_CHAIN,
  PREROUTING_CHAIN,
  PUBLISHED_CHAIN,
  TABLE,
} from './names.js';

const T = { family: FAMILY, table: TABLE };

/** priorities of the standard hooks (nft's `filter`, `dstnat`, `srcnat`) */
const PRIO_FILTER = 0;
const PRIO_DSTNAT = -100;
const PRIO_SRCNAT = 100;

/** libnftnl's limit on a rule comment */
const MAX_COMMENT = 128;
/** IFNAMSIZ less the terminating NUL */
const MAX_IFNAME = 15;

type Statement = NftJson;

const eq = (left: NftJson, right: NftJson): Statement => ({ match: { op: '==', left, right } });
const ne = (left: NftJson, right: NftJson): Statement => ({ match: { op: '!=', left, right } });
const meta = (key: string): NftJson => ({ meta: { key } });
const ip = (field: 'saddr' | 'daddr'): NftJson => ({ payload: { protocol: 'ip', field } });
const ct = (key: string, values: NftJson): Statement => ({ match: { op: 'in', left: { ct: { key } }, right: values } });
const prefix = (s: Subnet): NftJson => ({ prefix: { addr: s.addr, len: s.len } });
const iif = (bridge: string) => eq(meta('iifname'), bridge);
const oif = (bridge: string) => eq(meta('oifname'), bridge);
const RETURN: Statement = { return: null };
const DROP: Statement = { drop: null };
const MASQUERADE: Statement = { masquerade: null };
const LOOPBACK_NET: Subnet = { addr: '127.0.0.0', len: 8 };
/** the host address of a port published on every address */
const ANY = '0.0.0.0';

const table = (): NftCommand => ({ add: { table: { family: FAMILY, name: TABLE } } });

/** `add chain` of an existing chain with the same hook is a no-op: every batch adds the base chains it uses */
const baseChain = (name: string, type: 'filter' | 'nat', hook: string, prio: number): NftCommand => ({
  add: { chain: { ...T, name, type, hook, prio, policy: 'accept' } },
});

const rule = (chain: string, comment: string, expr: Statement[]): NftCommand => ({ add: { rule: { ...T, chain, comment, expr } } });

const deleteRule = (chain: string, handle: number): NftCommand => ({ delete: { rule: { ...T, chain, handle } } });

/**
 * The batch that sets up `net`, replacing its rules when `state` (the table as it is, if it
 * exists) already holds them: one transaction, so a failed setup changes nothing.
 */
export function setupNetworkBatch(net: FirewallNetwork, state: TableState | undefined): NftCommand[] {
  checkNetwork(net);
  const subnet = parseSubnet(net.subnet);
  const chain = networkChain(net.bridge);
  const b = net.bridge;
  const batch: NftCommand[] = [table(), { add: { set: { ...T, name: BRIDGES_SET, type: 'ifname' } } }];
  batch.push(baseChain(FORWARD_CHAIN, 'filter', 'forward', PRIO_FILTER));
  if (net.internal) batch.push(baseChain(INPUT_CHAIN, 'filter', 'input', PRIO_FILTER));
  else batch.push(baseChain(POSTROUTING_CHAIN, 'nat', 'postrouting', PRIO_SRCNAT));
  if (state) {
    batch.push(...networkRuleDeletions(net, state));
    if (state.chains.has(chain)) batch.push({ flush: { chain: { ...T, name: chain } } });
    if (state.bridges.has(b)) batch.push(bridgeElement('delete', net));
  }
  batch.push(bridgeElement('add', net), { add: { chain: { ...T, name: chain } } });

  const rules: Statement[][] = net.internal
    ? [
        [iif(b), oif(b), RETURN],
        // no route out, and nobody in: only the bridge's own traffic passes
        [iif(b), DROP],
        [oif(b), DROP],
      ]
    : [
        [iif(b), oif(b), RETURN],
        [oif(b), ct('state', ['established', 'related']), RETURN],
        // published ports: their DNAT decided that this traffic may come in, from anywhere
        [oif(b), ct('status', 'dnat'), RETURN],
        // isolation: nothing new from another stack network; as every network drops what
        // comes from the others, both directions are covered
        [oif(b), iif(`@${BRIDGES_SET}`), DROP],
      ];
  for (const expr of rules) batch.push(rule(chain, net.name, expr));
  batch.push(rule(FORWARD_CHAIN, net.name, [iif(b), { jump: { target: chain } }]));
  batch.push(rule(FORWARD_CHAIN, net.name, [oif(b), { jump: { target: chain } }]));

  if (net.internal) {
    // the host's other addresses are a way out too (a container may add the route itself)
    batch.push(rule(INPUT_CHAIN, net.name, [iif(b), ne(ip('daddr'), prefix(subnet)), DROP]));
  } else {
    batch.push(rule(POSTROUTING_CHAIN, net.name, [eq(ip('saddr'), prefix(subnet)), ne(meta('oifname'), b), MASQUERADE]));
    // a container reaching a published port of its own network through a host address: the
    // answer would go straight back over the bridge, past the DNAT's reversal, unless the
    // request seems to come from the host
    batch.push(rule(POSTROUTING_CHAIN, net.name, [oif(b), ct('status', 'dnat'), eq(ip('saddr'), prefix(subnet)), MASQUERADE]));
    // ports reached on 127.0.0.1 leave with a loopback source (route_localnet): the
    // container could not answer it
    batch.push(rule(POSTROUTING_CHAIN, net.name, [oif(b), eq(ip('saddr'), prefix(LOOPBACK_NET)), MASQUERADE]));
  }
  return batch;
}

/** The batch that removes `net`, or the whole table when no other network remains. */
export function teardownNetworkBatch(net: FirewallNetwork, state: TableState): NftCommand[] {
  checkNetwork(net);
  const chain = networkChain(net.bridge);
  const others = [...state.chains].filter((c) => isNetworkChain(c) && c !== chain);
  if (others.length === 0) return [removeTableCommand()];
  const batch = networkRuleDeletions(net, state);
  if (state.chains.has(chain)) batch.push({ delete: { chain: { ...T, name: chain } } });
  if (state.bridges.has(net.bridge)) batch.push(bridgeElement('delete', net));
  return batch;
}

export function removeTableCommand(): NftCommand {
  return { delete: { table: { family: FAMILY, name: TABLE } } };
}

/**
 * The batch that publishes `ports` of `owner` (replacing what it published before), or
 * nothing for an internal network. `state` must hold the network's chain.
 */
export function setupPortsBatch(owner: string, net: FirewallNetwork, ports: PortMapping[], state: TableState | undefined): NftCommand[] {
  checkNetwork(net);
  checkComment(owner, 'container');
  if (net.internal) return [];
  for (const p of ports) checkPort(p);
  if (!state?.chains.has(networkChain(net.bridge))) {
    throw new StackError(`network ${net.name} has no firewall rules: ports cannot be published on it`, { kind: 'not-found' });
  }
  checkConflicts(
    owner,
    ports,
    readPublished(state).filter((p) => p.owner !== owner),
  );

  const batch: NftCommand[] = [];
  if (!state.chains.has(PUBLISHED_CHAIN)) {
    batch.push(table(), { add: { chain: { ...T, name: PUBLISHED_CHAIN } } });
    // from outside (prerouting) and from the host itself (output), to any of its addresses
    for (const [name, hook] of [
      [PREROUTING_CHAIN, 'prerouting'],
      [OUTPUT_CHAIN, 'output'],
    ] as const) {
      batch.push(baseChain(name, 'nat', hook, PRIO_DSTNAT));
      batch.push(rule(name, INFRA_COMMENT, [eq({ fib: { result: 'type', flags: ['daddr'] } }, 'local'), { jump: { target: PUBLISHED_CHAIN } }]));
    }
  }
  batch.push(...portRuleDeletions(owner, state));
  for (const p of ports) {
    const daddr = p.hostIp === ANY ? eq(meta('nfproto'), 'ipv4') : eq(ip('daddr'), p.hostIp);
    const dport = eq({ payload: { protocol: p.protocol, field: 'dport' } }, p.hostPort);
    batch.push(rule(PUBLISHED_CHAIN, owner, [daddr, dport, { dnat: { family: 'ip', addr: p.containerIp, port: p.containerPort } }]));
  }
  return batch;
}

export function teardownPortsBatch(owner: string, state: TableState): NftCommand[] {
  return portRuleDeletions(owner, state);
}

function networkRuleDeletions(net: FirewallNetwork, state: TableState): NftCommand[] {
  return state.rules.filter((r) => NETWORK_RULE_CHAINS.includes(r.chain) && r.comment === net.name).map((r) => deleteRule(r.chain, r.handle));
}

function portRuleDeletions(owner: string, state: TableState): NftCommand[] {
  return state.rules.filter((r) => r.chain === PUBLISHED_CHAIN && r.comment === owner).map((r) => deleteRule(r.chain, r.handle));
}

function bridgeElement(verb: 'add' | 'delete', net: FirewallNetwork): NftCommand {
  if (verb === 'delete') return { delete: { element: { ...T, name: BRIDGES_SET, elem: [net.bridge] } } };
  return { add: { element: { ...T, name: BRIDGES_SET, elem: [{ elem: { val: net.bridge, comment: net.name } }] } } };
}

/** Two mappings collide when they share protocol and port and one address covers the other. */
function overlaps(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || a.hostIp === ANY || b.hostIp === ANY);
}

function checkConflicts(owner: string, ports: PortMapping[], taken: PublishedPort[]): void {
  ports.forEach((p, i) => {
    const other = taken.find((t) => overlaps(p, t)) ?? ports.slice(0, i).find((q) => overlaps(p, q));
    if (!other) return;
    const holder = 'owner' in other ? `container ${other.owner}` : `container ${owner} itself`;
    throw new StackError(`port ${p.hostIp}:${p.hostPort}/${p.protocol} is already published by ${holder}`, {
      kind: 'conflict',
      hint: 'publish it on another host port or host address',
    });
  });
}

interface Subnet {
  addr: string;
  len: number;
}

/** An IPv4 CIDR, host bits cleared: nft lists prefixes that way. */
function parseSubnet(cidr: string): Subnet {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  const len = m ? Number(m[2]) : NaN;
  if (!m || !isIPv4(m[1]!) || len > 32) {
    throw new StackError(`invalid subnet ${JSON.stringify(cidr)}: expected an IPv4 CIDR like 10.89.3.0/24`);
  }
  const value = m[1]!.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const network = len === 0 ? 0 : value - (value % 2 ** (32 - len));
  return { addr: [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.'), len };
}

function checkNetwork(net: FirewallNetwork): void {
  // the name lands in a /proc/sys path and a chain name
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(net.bridge) || net.bridge.length > MAX_IFNAME) {
    throw new StackError(`invalid bridge name ${JSON.stringify(net.bridge)}`);
  }
  checkComment(net.name, 'network');
}

function checkComment(text: string, what: string): void {
  if (text === '' || Buffer.byteLength(text) > MAX_COMMENT) {
    throw new StackError(`${what} name ${JSON.stringify(text)} cannot tag firewall rules: it must have 1 to ${MAX_COMMENT} bytes`);
  }
}

function checkPort(p: PortMapping): void {
  const port = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!port(p.hostPort) || !port(p.containerPort)) {
    throw new StackError(`invalid port mapping ${p.hostPort}:${p.containerPort}: ports are 1 to 65535`);
  }
  if (p.protocol !== 'tcp' && p.protocol !== 'udp') throw new StackError(`invalid protocol ${JSON.stringify(p.protocol)}: expected tcp or udp`);
  if (!isIPv4(p.containerIp)) throw new StackError(`invalid container address ${JSON.stringify(p.containerIp)}: expected IPv4`);
  if (!isIPv4(p.hostIp)) {
    throw new StackError(`host address ${JSON.stringify(p.hostIp)} cannot be published on`, {
      kind: 'unsupported',
      hint: 'ports are published on IPv4 host addresses, or on all of them with 0.0.0.0',
    });
  }
}
