/**
 * One network's names, indexed for lookups, and the answers the server gives from them
 * without asking anyone: A/AAAA for the network's names, PTR for its addresses, NXDOMAIN
 * for single-label names nobody on the network has (as docker does: such a name never
 * means anything to the outside world, and forwarding it leaks container lookups).
 */
import { RECURSION_AVAILABLE, RECURSION_DESIRED, AUTHORITATIVE_ANSWER } from 'dns-packet';
import type { Answer, DecodedPacket, Packet, StringAnswer } from 'dns-packet';
import type { DnsNetworkConfig, Upstream } from './dns-records.js';
import { parseUpstream } from './dns-records.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

interface Addresses {
  v4: string[];
  v6: string[];
}

export interface Zone {
  network: string;
  /** lower-case names without a trailing dot */
  names: Map<string, Addresses>;
  /** address (IPv6 written out in full) -> the names it has, for PTR */
  reverse: Map<string, string[]>;
  /** lower-case, no leading or trailing dot */
  searchDomains: string[];
  /** empty: the host's resolvers */
  upstreams: Upstream[];
  /** address -> the container that has it on this network */
  containers: Map<string, string>;
  /** address -> that container's own resolvers (`dns:`) */
  clientUpstreams: Map<string, Upstream[]>;
}

export function buildZone(cfg: DnsNetworkConfig): Zone {
  const names = new Map<string, Addresses>();
  const reverse = new Map<string, string[]>();
  const containers = new Map<string, string>();
  const clientUpstreams = new Map<string, Upstream[]>();
  for (const r of cfg.records) {
    if (r.container !== undefined) containers.set(r.ipv4, r.container);
    if (r.upstreams && r.upstreams.length > 0) clientUpstreams.set(r.ipv4, r.upstreams.map((u) => parseUpstream(u)!));
    for (const raw of r.names) {
      const name = normalize(raw);
      let a = names.get(name);
      if (!a) names.set(name, (a = { v4: [], v6: [] }));
      if (!a.v4.includes(r.ipv4)) a.v4.push(r.ipv4);
      if (r.ipv6 && !a.v6.includes(r.ipv6)) a.v6.push(r.ipv6);
    }
    for (const ip of r.ipv6 ? [r.ipv4, fullIPv6(r.ipv6)] : [r.ipv4]) {
      const list = reverse.get(ip) ?? [];
      for (const n of r.names) if (!list.includes(n)) list.push(n);
      reverse.set(ip, list);
    }
  }
  return {
    network: cfg.network,
    names,
    reverse,
    searchDomains: (cfg.searchDomains ?? []).map((d) => normalize(d).replace(/^\.+/, '')).filter((d) => d !== ''),
    upstreams: cfg.upstreams.map((u) => parseUpstream(u)!),
    containers,
    clientUpstreams,
  };
}

/**
 * The response to `query` from the zone alone, or undefined when it must be forwarded.
 * The caller has checked that the query is a standard query (opcode QUERY).
 */
export function answerLocally(zone: Zone, query: DecodedPacket): Packet | undefined {
  const q = query.questions?.[0];
  if (!q || (q.class !== 'IN' && q.class !== 'ANY')) return undefined;
  const name = normalize(q.name);
  const addr = q.type === 'PTR' ? reverseAddress(name) : undefined;
  if (addr !== undefined) {
    // the other addresses of the subnet (and the rest of the world) are the upstreams' to answer
    const names = zone.reverse.get(addr);
    return names ? response(query, RCODE.NOERROR, names.map((n) => ({ type: 'PTR', name: q.name, ttl: 0, data: n }))) : undefined;
  }
  const addrs = lookup(zone, name);
  if (!addrs) {
    return name !== '' && !name.includes('.') ? response(query, RCODE.NXDOMAIN, []) : undefined;
  }
  // TTL 0: a container may come back with another address at any time, and asking the
  // server on the bridge costs next to nothing
  const answers: StringAnswer[] = [];
  // the typings lack ANY (255), which dns-packet decodes by that name
  const type: string = q.type;
  if (type === 'A' || type === 'ANY') for (const ip of shuffled(addrs.v4)) answers.push({ type: 'A', name: q.name, ttl: 0, data: ip });
  if (type === 'AAAA' || type === 'ANY') for (const ip of shuffled(addrs.v6)) answers.push({ type: 'AAAA', name: q.name, ttl: 0, data: ip });
  // other types of a known name: it exists, it just has no such record
  return response(query, RCODE.NOERROR, answers);
}

/**
 * The answer from the zones a client sees, in order (its own network's first): the first
 * that knows the name answers; NXDOMAIN only when one said so and none knew the name;
 * undefined (forward) otherwise.
 */
export function answerFromZones(zones: readonly Zone[], query: DecodedPacket): Packet | undefined {
  let nx: Packet | undefined;
  for (const zone of zones) {
    const r = answerLocally(zone, query);
    if (r && ((r.flags ?? 0) & 0xf) === RCODE.NXDOMAIN) nx ??= r;
    else if (r) return r;
  }
  return nx;
}

/** A response echoing the query's id, question and RD bit. */
export function response(query: DecodedPacket, rcode: number, answers: Answer[], authoritative = true): Packet {
  return {
    type: 'response',
    id: query.id ?? 0,
    flags: ((query.flags ?? 0) & RECURSION_DESIRED) | RECURSION_AVAILABLE | (authoritative ? AUTHORITATIVE_ANSWER : 0) | rcode,
    questions: query.questions ?? [],
    answers,
  };
}

function lookup(zone: Zone, name: string): Addresses | undefined {
  const direct = zone.names.get(name);
  if (direct) return direct;
  // clients try `web.<search domain>` before `web` when the name has few dots
  for (const d of zone.searchDomains) {
    if (name.endsWith(`.${d}`)) {
      const found = zone.names.get(name.slice(0, -d.length - 1));
      if (found) return found;
    }
  }
  return undefined;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}

/** 4.3.2.1.in-addr.arpa -> 1.2.3.4; the 32 nibbles of ip6.arpa -> a full IPv6 address. */
function reverseAddress(name: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (v4) return [v4[4], v4[3], v4[2], v4[1]].map(Number).join('.');
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(name);
  if (!v6) return undefined;
  const hex = v6[1]!.split('.').filter((c) => c !== '').reverse().join('');
  return hex.match(/.{4}/g)!.join(':');
}

/** 2001:db8::1 -> 2001:0db8:0000:0000:0000:0000:0000:0001, the form reverseAddress produces */
function fullIPv6(addr: string): string {
  let s = addr.toLowerCase();
  // an embedded IPv4 tail (::ffff:1.2.3.4) is two groups
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** Round robin as docker does it: every answer lists the replicas in a new random order. */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
