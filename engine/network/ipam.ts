/**
 * IPv4 address management, pure: subnets for new networks from docker's default pools
 * (skipping what the host routes and what other networks hold), and addresses for
 * containers inside a subnet (skipping network, gateway, broadcast, reserved and taken
 * addresses, and honouring `ip_range`). The network store persists the results.
 */
import { StackError } from '../errors.js';

export interface Cidr {
  /** the network address as a 32-bit unsigned number */
  base: number;
  prefix: number;
}

/**
 * docker's default-address-pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s.
 * Users coming from compose recognise these subnets, and they avoid 10/8, which corporate
 * networks and VPNs route most.
 */
export const DEFAULT_POOLS: ReadonlyArray<{ base: string; size: number }> = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.1.2.0/24`; a host address with a prefix (`10.1.2.3/24`) is normalized to its network. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  return { base: (ip & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/**
 * The first subnet of the pools that overlaps none of `taken` (other networks' subnets
 * and the host's routes other than the default route).
 */
export function allocateSubnet(taken: readonly Cidr[], pools = DEFAULT_POOLS): Cidr {
  for (const pool of pools) {
    const p = parseCidr(pool.base)!;
    const step = 2 ** (32 - pool.size);
    for (let base = p.base; base < p.base + size(p); base += step) {
      const candidate = { base: base >>> 0, prefix: pool.size };
      if (!taken.some((t) => overlaps(t, candidate))) return candidate;
    }
  }
  throw new StackError('no free subnet left in the address pools', {
    kind: 'conflict',
    hint: 'remove unused networks (`stack down`), or give the network an explicit ipam subnet',
  });
}

export interface SubnetPlan {
  subnet: Cidr;
  gateway: number;
  /** where container addresses are drawn from: `ip_range`, else the subnet */
  range: Cidr;
  /** addresses never handed out: aux_addresses */
  reserved: number[];
}

/** Checks a network's ipam config and fills in the gateway (the first host address, as docker). */
export function planSubnet(subnet: Cidr, cfg: { gateway?: string; ip_range?: string; aux_addresses?: Record<string, string> }, where: string): SubnetPlan {
  if (subnet.prefix > 30) {
    throw new StackError(`${where}: subnet ${formatCidr(subnet)} is too small`, { kind: 'invalid', hint: 'use a prefix of /30 or shorter' });
  }
  const inSubnet = (text: string, what: string): number => {
    const ip = parseIpv4(text);
    if (ip === undefined) throw new StackError(`${where}: ${what} "${text}" is not an IPv4 address`, { kind: 'invalid' });
    if (!contains(subnet, ip)) {
      throw new StackError(`${where}: ${what} ${text} is outside the subnet ${formatCidr(subnet)}`, { kind: 'invalid', hint: 'pick an address inside the subnet' });
    }
    return ip;
  };
  const gateway = cfg.gateway !== undefined ? inSubnet(cfg.gateway, 'gateway') : subnet.base + 1;
  let range = subnet;
  if (cfg.ip_range !== undefined) {
    const r = parseCidr(cfg.ip_range);
    if (!r) throw new StackError(`${where}: ip_range "${cfg.ip_range}" is not a CIDR`, { kind: 'invalid', hint: 'write it like 172.28.5.0/24' });
    if (r.prefix < subnet.prefix || !contains(subnet, r.base)) {
      throw new StackError(`${where}: ip_range ${cfg.ip_range} is not inside the subnet ${formatCidr(subnet)}`, { kind: 'invalid' });
    }
    range = r;
  }
  const reserved = Object.entries(cfg.aux_addresses ?? {}).map(([name, ip]) => inSubnet(ip, `aux_addresses.${name}`));
  return { subnet, gateway, range, reserved };
}

/** Is `ip` a usable container address of the plan (not network/broadcast/gateway/reserved)? */
export function usable(plan: SubnetPlan, ip: number): boolean {
  const last = plan.subnet.base + size(plan.subnet) - 1;
  return contains(plan.subnet, ip) && ip !== plan.subnet.base && ip !== last && ip !== plan.gateway && !plan.reserved.includes(ip);
}

/**
 * The next free container address: the lowest free one after the last handed out, wrapping
 * around, as docker does, so a removed container's address is not reused at once (a
 * stale DNS answer or ARP entry would point at the new container).
 */
export function allocateAddress(plan: SubnetPlan, taken: ReadonlySet<number>, after?: number): number {
  const first = plan.range.base;
  const count = size(plan.range);
  const start = after !== undefined && contains(plan.range, after) ? after - first + 1 : 0;
  for (let i = 0; i < count; i++) {
    const ip = first + ((start + i) % count);
    if (usable(plan, ip) && !taken.has(ip)) return ip;
  }
  throw new StackError(`no free address left in ${formatCidr(plan.range)}`, { kind: 'conflict', hint: 'use a larger subnet or ip_range' });
}
