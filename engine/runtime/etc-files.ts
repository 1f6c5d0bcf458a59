/**
 * /etc/hosts, /etc/hostname and /etc/resolv.conf for a container, written into its state
 * directory and bind-mounted by the spec, as docker and podman do: the image's own copies
 * are never touched, and the engine can rewrite them while the container runs.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

export interface EtcInput {
  hostname: string;
  domainname?: string;
  /** this container's addresses on its networks */
  addresses?: string[];
  /** `extra_hosts` as `host=ip` */
  extraHosts?: string[];
  /** nameservers; defaults to the host's (loopback ones dropped: unreachable from a netns) */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** the host's resolv.conf, for defaults */
  hostResolvConf?: string;
  /** the address `host-gateway` stands for */
  hostGateway?: string;
}

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
}

export function hostsFile(i: EtcInput): string {
  const fqdn = i.domainname ? `${i.hostname}.${i.domainname}` : undefined;
  const names = fqdn ? `${fqdn} ${i.hostname}` : i.hostname;
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const entry of i.extraHosts ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const host = entry.slice(0, eq);
    const ip = entry.slice(eq + 1);
    lines.push(`${ip === 'host-gateway' ? i.hostGateway ?? '127.0.0.1' : ip}\t${host}`);
  }
  for (const a of i.addresses ?? []) lines.push(`${a}\t${names}`);
  return `${lines.join('\n')}\n`;
}

export function resolvConf(i: EtcInput): string {
  const host = parseResolvConf(i.hostResolvConf ?? '');
  const servers = (i.dns && i.dns.length > 0 ? i.dns : host.nameservers.filter((s) => !isLoopback(s)));
  // docker's fallback when the host only has a local resolver
  const nameservers = servers.length > 0 ? servers : ['8.8.8.8', '8.8.4.4'];
  const search = i.dnsSearch && i.dnsSearch.length > 0 ? i.dnsSearch : host.search;
  const options = i.dnsOptions && i.dnsOptions.length > 0 ? i.dnsOptions : host.options;
  const lines = nameservers.map((s) => `nameserver ${s}`);
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function parseResolvConf(text: string): { nameservers: string[]; search: string[]; options: string[] } {
  const out = { nameservers: [] as string[], search: [] as string[], options: [] as string[] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** Writes the three files under `dir` and returns their paths. */
export function writeEtcFiles(dir: string, i: EtcInput): EtcFiles {
  mkdirSync(dir, { recursive: true });
  const files = { hosts: path.join(dir, 'hosts'), hostname: path.join(dir, 'hostname'), resolvConf: path.join(dir, 'resolv.conf') };
  let hostResolv = i.hostResolvConf;
  if (hostResolv === undefined) {
    try {
      hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      hostResolv = '';
    }
  }
  // world-readable: processes of any user in the container read them; rewritten on every start
  const opts = { durable: false, mode: 0o644 };
  writeFileAtomic(files.hosts, hostsFile(i), opts);
  writeFileAtomic(files.hostname, `${i.hostname}\n`, opts);
  writeFileAtomic(files.resolvConf, resolvConf({ ...i, hostResolvConf: hostResolv }), opts);
  return files;
}
