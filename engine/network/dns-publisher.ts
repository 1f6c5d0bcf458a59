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
import { ensureDnsServer, type DnsServerPaths } from './dns/dns-control.js';
import { removeDnsConfig, writeDnsConfig, type DnsNetworkConfig } from './dns/dns-records.js';
import { dnsDir } from './link-names.js';
import type { NetworkRecord } from './network-store.js';

export class DnsPublisher {
  private readonly server: DnsServerPaths;
  /** networks changed since the last flush */
  private readonly pending = new Set<string>();
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    paths: EnginePaths,
    /** the network's current record, read when its config is written (not when the change was asked) */
    private readonly read: (network: string) => NetworkRecord | undefined,
    private readonly upstreams?: string[],
  ) {
    const dir = dnsDir(paths);
    this.server = { configDir: path.join(dir, 'networks'), pidFile: path.join(dir, 'server.pid'), logFile: path.join(dir, 'server.log') };
  }

  /**
   * Makes the server serve the network as it is now (or drop it, once it is gone).
   * Changes asked while a reload runs are written and loaded together by the next one: a
   * reload is a round trip to another process, and `up` of many containers asks for one
   * per container.
   */
  update(network: string): Promise<void> {
    this.pending.add(network);
    if (this.next) return this.next;
    if (!this.running) return (this.running = this.flush());
    this.next = this.running.catch(() => undefined).then(() => {
      this.next = undefined;
      return (this.running = this.flush());
    });
    return this.next;
  }

  private async flush(): Promise<void> {
    try {
      const names = [...this.pending];
      this.pending.clear();
      for (const name of names) {
        const rec = this.read(name);
        if (rec) writeDnsConfig(this.server.configDir, dnsConfig(rec, this.upstreams ?? hostUpstreams()));
        else removeDnsConfig(this.server.configDir, name);
      }
      await ensureDnsServer(this.server);
    } finally {
      this.running = undefined;
    }
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
