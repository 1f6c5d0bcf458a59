/**
 * What the network DNS server serves, one JSON file per network in a config directory. The
 * network manager writes the files and the server process reads them on SIGHUP, so a
 * reader must never see half a file: files are written to a temp name and renamed.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { StackError } from '../../errors.js';
import { writeFileAtomic } from '../../runtime/atomic-file.js';

export interface DnsRecord {
  /** service name, container name, aliases, hostname */
  names: string[];
  ipv4: string;
  ipv6?: string;
  /**
   * the container the record is for: a container on several networks asking any of their
   * servers gets the names of all of them, as docker's embedded DNS answers
   */
  container?: string;
  /** the container's own `dns:` servers: its other questions go there instead of the network's upstreams, as docker's embedded DNS does */
  upstreams?: string[];
}

export interface DnsNetworkConfig {
  /** e.g. 'proj_default' */
  network: string;
  /** the gateway address to bind (IPv4) */
  listen: string;
  /** 53 unless set (tests use high ports) */
  port?: number;
  /** '1.2.3.4', '127.0.0.1:5353', '::1', '[::1]:5353'; empty: the host's resolv.conf nameservers */
  upstreams: string[];
  searchDomains?: string[];
  records: DnsRecord[];
}

export interface Upstream {
  address: string;
  port: number;
  family: 4 | 6;
}

const SUFFIX = '.json';

export function writeDnsConfig(dir: string, cfg: DnsNetworkConfig): void {
  const problem = configProblem(cfg);
  if (problem) throw new StackError(`DNS config of network ${JSON.stringify(cfg.network)}: ${problem}`);
  mkdirSync(dir, { recursive: true });
  // not durable: the network manager writes them again from its state after a crash
  writeFileAtomic(configFile(dir, cfg.network), `${JSON.stringify(cfg, null, 2)}\n`, { durable: false, mode: 0o644 });
}

export function removeDnsConfig(dir: string, network: string): void {
  rmSync(configFile(dir, network), { force: true });
}

/** The networks that have a config file; a missing directory has none. */
export function dnsConfigNetworks(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  // writeFileAtomic's temp files end in .tmp, never in .json
  return entries.filter((f) => f.endsWith(SUFFIX) && !f.startsWith('.')).map((f) => f.slice(0, -SUFFIX.length)).sort();
}

/**
 * Every network's config, and one error per file that cannot be used. The server keeps
 * serving the good ones: one broken file must not take every network's names away.
 */
export function loadDnsConfigs(dir: string): { configs: DnsNetworkConfig[]; errors: Array<{ network: string; error: StackError }> } {
  const configs: DnsNetworkConfig[] = [];
  const errors: Array<{ network: string; error: StackError }> = [];
  for (const network of dnsConfigNetworks(dir)) {
    const file = path.join(dir, network + SUFFIX);
    let cfg: unknown;
    try {
      cfg = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      // removed between the listing and the read: that network is simply gone
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      errors.push({ network, error: new StackError(`${file}: ${(e as Error).message}`, { cause: e }) });
      continue;
    }
    const problem = configProblem(cfg) ?? ((cfg as DnsNetworkConfig).network === network ? undefined : `names network ${JSON.stringify((cfg as DnsNetworkConfig).network)}, not ${JSON.stringify(network)}`);
    if (problem) errors.push({ network, error: new StackError(`${file}: ${problem}`) });
    else configs.push(cfg as DnsNetworkConfig);
  }
  return { configs, errors };
}

/** Every network's config; a file that cannot be used is an error. */
export function readDnsConfigs(dir: string): DnsNetworkConfig[] {
  const { configs, errors } = loadDnsConfigs(dir);
  if (errors[0]) throw errors[0].error;
  return configs;
}

/** '1.2.3.4', '1.2.3.4:5353', '::1', '[::1]:5353' (port 53 unless given); undefined when malformed. */
export function parseUpstream(s: string): Upstream | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const hostPort = /^([^:]+):(\d+)$/.exec(s);
  const [address, portText] = bracketed ? [bracketed[1]!, bracketed[2]] : hostPort ? [hostPort[1]!, hostPort[2]] : [s, undefined];
  const port = portText === undefined ? 53 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  if (isIPv4(address) && !bracketed) return { address, port, family: 4 };
  // a zone (fe80::1%eth0) is part of the address for the socket calls
  if (isIPv6(address.replace(/%[\w.-]+$/, ''))) return { address, port, family: 6 };
  return undefined;
}

function configFile(dir: string, network: string): string {
  if (!validNetworkName(network)) throw new StackError(`invalid network name for a DNS config: ${JSON.stringify(network)}`);
  return path.join(dir, network + SUFFIX);
}

function validNetworkName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && !name.startsWith('.') && !name.includes('/') && !name.includes('\0');
}

function configProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const c = v as Record<string, unknown>;
  if (!validNetworkName(c.network)) return 'network: not a valid name';
  if (typeof c.listen !== 'string' || !isIPv4(c.listen)) return `listen: not an IPv4 address: ${JSON.stringify(c.listen)}`;
  if (c.port !== undefined && !(Number.isInteger(c.port) && (c.port as number) >= 1 && (c.port as number) <= 65535)) return `port: not a port: ${JSON.stringify(c.port)}`;
  if (!isStringArray(c.upstreams)) return 'upstreams: not a list of strings';
  const bad = c.upstreams.find((u) => !parseUpstream(u));
  if (bad !== undefined) return `upstreams: not an address or address:port: ${JSON.stringify(bad)}`;
  if (c.searchDomains !== undefined && !isStringArray(c.searchDomains)) return 'searchDomains: not a list of strings';
  if (!Array.isArray(c.records)) return 'records: not a list';
  for (const [i, r] of c.records.entries()) {
    const rec = r as Partial<Record<keyof DnsRecord, unknown>> | null;
    if (typeof rec !== 'object' || rec === null) return `records[${i}]: not an object`;
    if (!isStringArray(rec.names) || rec.names.some((n) => n === '')) return `records[${i}].names: not a list of names`;
    if (typeof rec.ipv4 !== 'string' || !isIPv4(rec.ipv4)) return `records[${i}].ipv4: not an IPv4 address: ${JSON.stringify(rec.ipv4)}`;
    if (rec.ipv6 !== undefined && !(typeof rec.ipv6 === 'string' && isIPv6(rec.ipv6))) return `records[${i}].ipv6: not an IPv6 address: ${JSON.stringify(rec.ipv6)}`;
    if (rec.container !== undefined && (typeof rec.container !== 'string' || rec.container === '')) return `records[${i}].container: not a container id`;
    if (rec.upstreams !== undefined && (!isStringArray(rec.upstreams) || rec.upstreams.some((u) => !parseUpstream(u)))) return `records[${i}].upstreams: not a list of addresses`;
  }
  return undefined;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}
