/**
 * Keeps the DNS server's view of a network in step with its record: one config file per
 * network (listen on the gateway, the endpoints' names), then the host's one server
 * process is started or told to reload. The manager calls this after its lock is
 * released: the server reads files, never the network state.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EnginePaths } from '../runtime/paths.js';
import { parseResolvConf } from '../runtime/etc-files.js';
import { ensureDnsServer, stopDnsServerIfIdle, type DnsServerPaths } from './dns/dns-control.js';
import { removeDnsConfig, writeDnsConfig, type DnsNetworkConfig } from './dns/dns-records.js';
import { dnsDir } from './link-names.js';
import type { NetworkRecord } from './network-store.js';

export class DnsPublisher {
  private readonly server: DnsServerPaths;

  constructor(
    paths: EnginePaths,
    private readonly upstreams?: string[],
  ) {
    const dir = dnsDir(paths);
    this.server = { configDir: path.join(dir, 'networks'), pidFile: path.join(dir, 'server.pid'), logFile: path.join(dir, 'server.log') };
  }

  async publish(rec: NetworkRecord): Promise<void> {
    writeDnsConfig(this.server.configDir, dnsConfig(rec, this.upstreams ?? hostUpstreams()));
    await ensureDnsServer(this.server);
  }

  async unpublish(network: string): Promise<void> {
    removeDnsConfig(this.server.configDir, network);
    await stopDnsServerIfIdle(this.server);
  }
}

export function dnsConfig(rec: NetworkRecord, upstreams: string[]): DnsNetworkConfig {
  return {
    network: rec.name,
    listen: rec.gateway,
    upstreams,
    records: Object.values(rec.endpoints).map((ep) => ({ names: ep.names, ipv4: ep.ipv4, container: ep.container, ...(ep.dnsUpstreams && { upstreams: ep.dnsUpstreams }) })),
  };
}

/** The host's resolvers; loopback ones work too, as the server runs in the host's namespace. */
function hostUpstreams(): string[] {
  try {
    return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8')).nameservers;
  } catch {
    return [];
  }
}
