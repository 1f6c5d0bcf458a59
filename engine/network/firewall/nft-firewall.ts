/**
 * The nftables firewall driver: lists our table, lets rules.ts compute the batch, applies it
 * as one transaction. It keeps no state between calls (another stack process may have
 * changed the table meanwhile): each call lists the table again. The libnftables context
 * is made once per process, as making and freeing one costs more than a listing.
 */
import { type NftCommand, NftError, Nftables } from '../../sys/nftables.js';
import type { Firewall, FirewallNetwork, PortMapping, PublishedPort } from './firewall.js';
import { enableIpForwarding, enableRouteLocalnet } from './ip-sysctl.js';
import { readPublished, readTable, type TableState } from './listing.js';
import { FAMILY, TABLE } from './names.js';
import { removeTableCommand, setupNetworkBatch, setupPortsBatch, teardownNetworkBatch, teardownPortsBatch } from './rules.js';

export class NftFirewall implements Firewall {
  setupNetwork(net: FirewallNetwork): void {
    withNft((nft) => {
      const batch = setupNetworkBatch(net, tableState(nft));
      // before the rules, so a missing bridge fails with nothing applied
      if (!net.internal) enableRouteLocalnet(net.bridge);
      nft.run(batch);
    });
    if (!net.internal) enableIpForwarding();
  }

  teardownNetwork(net: FirewallNetwork): void {
    withNft((nft) => {
      const state = tableState(nft);
      if (state) apply(nft, teardownNetworkBatch(net, state));
    });
  }

  setupPorts(owner: string, net: FirewallNetwork, ports: PortMapping[]): void {
    withNft((nft) => apply(nft, setupPortsBatch(owner, net, ports, tableState(nft))));
  }

  teardownPorts(owner: string): void {
    withNft((nft) => {
      const state = tableState(nft);
      if (state) apply(nft, teardownPortsBatch(owner, state));
    });
  }

  publishedPorts(): PublishedPort[] {
    return withNft((nft) => {
      const state = tableState(nft);
      return state ? readPublished(state) : [];
    });
  }

  removeAll(): void {
    withNft((nft) => {
      if (tableState(nft)) nft.run([removeTableCommand()]);
    });
  }
}

let shared: Nftables | undefined;

function withNft<T>(fn: (nft: Nftables) => T): T {
  shared ??= Nftables.open();
  return fn(shared);
}

function apply(nft: Nftables, batch: NftCommand[]): void {
  if (batch.length > 0) nft.run(batch);
}

/** our table as the kernel holds it, or undefined when there is none */
function tableState(nft: Nftables): TableState | undefined {
  try {
    return readTable(nft.list(`table ${FAMILY} ${TABLE}`));
  } catch (e) {
    if (e instanceof NftError && e.code === 'ENOENT') return undefined;
    throw e;
  }
}
