/**
 * Published ports, from the model's `ports` to concrete host bindings: host ranges and
 * ephemeral ports get a port chosen, and every binding is checked free before anything is
 * created — against the other containers' published ports (DNAT rules hold no socket, so
 * the kernel would not tell) and against sockets on the host (a trial bind).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { StackError } from '../errors.js';
import type { Port } from '../model/types.js';
import type { PortMapping, PublishedPort } from './firewall/firewall.js';
import { parseIpv4 } from './ipam.js';

export interface HostBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/**
 * Chooses and checks host ports for `ports`. `taken` are the bindings other containers hold.
 * `defaultHostIp` is the network's `host_binding_ipv4` (0.0.0.0 when unset).
 */
export async function resolvePorts(service: string, ports: readonly Port[], taken: readonly PublishedPort[], defaultHostIp = '0.0.0.0'): Promise<HostBinding[]> {
  const out: HostBinding[] = [];
  const holds = (b: HostBinding) =>
    [...taken.map((t) => ({ b: t, who: `container ${t.owner}` })), ...out.map((o) => ({ b: o, who: `service "${service}"` }))].find(
      ({ b: t }) => t.protocol === b.protocol && t.hostPort === b.hostPort && (t.hostIp === b.hostIp || t.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0'),
    );
  for (const [i, p] of ports.entries()) {
    const where = `services.${service}.ports[${i}]`;
    if (p.protocol === 'sctp') {
      throw new StackError(`service "${service}": sctp ports are not supported`, { kind: 'unsupported', path: where, hint: 'publish it as tcp or udp' });
    }
    const hostIp = p.host_ip ?? defaultHostIp;
    if (parseIpv4(hostIp) === undefined) {
      throw new StackError(`service "${service}": host address "${hostIp}" of port ${p.target} is not an IPv4 address`, {
        kind: 'unsupported',
        path: where,
        hint: 'publish on an IPv4 address (IPv6 port publishing is not supported yet), or leave host_ip out',
      });
    }
    const candidates = hostPortCandidates(p);
    let chosen: HostBinding | undefined;
    let lastReason = '';
    for (const hostPort of candidates) {
      const b: HostBinding = { hostIp, hostPort, containerPort: p.target, protocol: p.protocol };
      const holder = hostPort === 0 ? undefined : holds(b);
      if (holder) {
        lastReason = `already published by ${holder.who}`;
        continue;
      }
      const bound = await trialBind(hostIp, hostPort, p.protocol);
      if (typeof bound === 'string') {
        lastReason = bound;
        continue;
      }
      // an ephemeral port the kernel chose can still collide with another container's DNAT
      const concrete = { ...b, hostPort: bound };
      if (hostPort === 0 && holds(concrete)) continue;
      chosen = concrete;
      break;
    }
    if (!chosen) {
      const what = p.published === undefined ? 'an ephemeral port' : `${hostIp}:${p.published}/${p.protocol}`;
      throw new StackError(`service "${service}": cannot publish ${what}: ${lastReason || 'no free port'}`, {
        kind: 'conflict',
        path: where,
        hint: 'stop what uses that port, or publish the service on another host port',
      });
    }
    out.push(chosen);
  }
  return out;
}

/** The host ports to try in order: the one given, each of a range, or 0 (ephemeral, several tries). */
function hostPortCandidates(p: Port): number[] {
  if (p.published === undefined || p.published === '' || p.published === '0') return [0, 0, 0, 0, 0];
  const m = /^(\d+)(?:-(\d+))?$/.exec(p.published);
  if (!m) return [];
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** Binds and releases hostIp:port; the bound port on success, else why not. */
async function trialBind(hostIp: string, port: number, protocol: 'tcp' | 'udp'): Promise<number | string> {
  const reason = (e: NodeJS.ErrnoException) =>
    e.code === 'EADDRINUSE' ? `${hostIp}:${port}/${protocol} is already in use on the host` : e.code === 'EADDRNOTAVAIL' ? `${hostIp} is not an address of this host` : `${e.code ?? e.message}`;
  if (protocol === 'udp') {
    const sock = dgram.createSocket('udp4');
    return new Promise((resolve) => {
      sock.once('error', (e) => {
        sock.close();
        resolve(reason(e));
      });
      sock.bind({ address: hostIp, port, exclusive: true }, () => {
        const bound = sock.address().port;
        sock.close(() => resolve(bound));
      });
    });
  }
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', (e) => resolve(reason(e)));
    server.listen({ host: hostIp, port, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** The firewall's mappings for a container reached at `containerIp`. */
export function toMappings(bindings: readonly HostBinding[], containerIp: string): PortMapping[] {
  return bindings.map((b) => ({ hostIp: b.hostIp, hostPort: b.hostPort, containerIp, containerPort: b.containerPort, protocol: b.protocol }));
}
