/**
 * Reading our table back from nft's JSON listing: the firewall keeps no state, so what
 * teardown removes and which ports are taken is whatever the kernel holds.
 */
import type { NftJson } from '../../sys/nftables.js';
import type { PublishedPort } from './firewall.js';
import { BRIDGES_SET, PUBLISHED_CHAIN, TABLE } from './names.js';

export interface ListedRule {
  chain: string;
  handle: number;
  comment: string | undefined;
  expr: NftJson[];
}

export interface TableState {
  chains: Set<string>;
  rules: ListedRule[];
  /** the elements of the bridges set */
  bridges: Set<string>;
}

type JsonObject = { [key: string]: NftJson };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The state of our table from `list table inet stack` output. */
export function readTable(listing: unknown): TableState {
  const state: TableState = { chains: new Set(), rules: [], bridges: new Set() };
  const objects = isObject(listing) && Array.isArray(listing.nftables) ? listing.nftables : [];
  for (const object of objects) {
    if (!isObject(object)) continue;
    const { chain, rule, set } = object;
    if (isObject(chain) && chain.table === TABLE && typeof chain.name === 'string') state.chains.add(chain.name);
    if (isObject(rule) && rule.table === TABLE && typeof rule.chain === 'string' && typeof rule.handle === 'number') {
      state.rules.push({
        chain: rule.chain,
        handle: rule.handle,
        comment: typeof rule.comment === 'string' ? rule.comment : undefined,
        expr: Array.isArray(rule.expr) ? rule.expr : [],
      });
    }
    if (isObject(set) && set.table === TABLE && set.name === BRIDGES_SET && Array.isArray(set.elem)) {
      for (const e of set.elem) {
        // an element with a comment is an object; without, the bare value
        const value = isObject(e) && isObject(e.elem) ? e.elem.val : e;
        if (typeof value === 'string') state.bridges.add(value);
      }
    }
  }
  return state;
}

/** The ports published in our table; a rule of the published chain that is not one of ours is skipped. */
export function readPublished(state: TableState): PublishedPort[] {
  const ports: PublishedPort[] = [];
  for (const rule of state.rules) {
    if (rule.chain !== PUBLISHED_CHAIN || rule.comment === undefined) continue;
    const port = readPortRule(rule.expr);
    if (port) ports.push({ owner: rule.comment, ...port });
  }
  return ports;
}

/** `[ip daddr A] tcp dport P dnat ip to C:Q`, as nft lists it */
function readPortRule(expr: NftJson[]): Omit<PublishedPort, 'owner'> | undefined {
  let hostIp = '0.0.0.0';
  let protocol: 'tcp' | 'udp' | undefined;
  let hostPort: number | undefined;
  let target: { containerIp: string; containerPort: number } | undefined;
  for (const statement of expr) {
    if (!isObject(statement)) continue;
    const { match, dnat } = statement;
    if (isObject(match) && match.op === '==' && isObject(match.left) && isObject(match.left.payload)) {
      const { protocol: proto, field } = match.left.payload;
      if (proto === 'ip' && field === 'daddr' && typeof match.right === 'string') hostIp = match.right;
      if ((proto === 'tcp' || proto === 'udp') && field === 'dport' && typeof match.right === 'number') {
        protocol = proto;
        hostPort = match.right;
      }
    }
    if (isObject(dnat) && typeof dnat.addr === 'string' && typeof dnat.port === 'number') {
      target = { containerIp: dnat.addr, containerPort: dnat.port };
    }
  }
  if (!protocol || hostPort === undefined || !target) return undefined;
  return { hostIp, hostPort, protocol, ...target };
}
