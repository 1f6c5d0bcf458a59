/**
 * The names of everything the firewall puts into nftables, in one place.
 *
 * One table per host, family `inet` rather than `ip`: the isolation and `internal` rules
 * match interfaces, and in an `inet` table they stop IPv6 between bridges as well, which an
 * `ip` table would let through on a host that forwards IPv6; kernels since 5.2 do NAT in
 * `inet` tables, and the same table will take IPv6 rules when networks get IPv6 subnets. The
 * price is small: address matches name their family (`ip saddr`), and a DNAT rule without
 * an address match says `meta nfproto ipv4` itself.
 */

export const FAMILY = 'inet';
export const TABLE = 'stack';

/** base chains, each created by the first batch that needs it */
export const FORWARD_CHAIN = 'forward';
export const POSTROUTING_CHAIN = 'postrouting';
export const INPUT_CHAIN = 'input';
export const PREROUTING_CHAIN = 'prerouting';
export const OUTPUT_CHAIN = 'output';

/** the regular chain holding every published port's DNAT rule, commented with its owner */
export const PUBLISHED_CHAIN = 'published';

/** the base chains holding a network's rules besides its own chain, commented with its name */
export const NETWORK_RULE_CHAINS: readonly string[] = [FORWARD_CHAIN, POSTROUTING_CHAIN, INPUT_CHAIN];

/** the set of every stack bridge, for the isolation rules */
export const BRIDGES_SET = 'bridges';

/** comment of the rules that belong to no network nor container (the jumps to the published chain) */
export const INFRA_COMMENT = 'stack';

const NETWORK_CHAIN_PREFIX = 'net-';

/** the regular chain of the network on `bridge`: its forwarding rules */
export function networkChain(bridge: string): string {
  return `${NETWORK_CHAIN_PREFIX}${bridge}`;
}

export function isNetworkChain(chain: string): boolean {
  return chain.startsWith(NETWORK_CHAIN_PREFIX);
}
