/**
 * The ports a service listens on, as far as the stack file says: the targets of `ports`
 * and the entries of `expose` (`3000`, `3000-3005`, `53/udp`). A service whose file names
 * none still answers on every port under `up`; on Kubernetes it gets a headless Service.
 */
import type { Port, Service } from '../model/types.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ListenPort {
  port: number;
  protocol: Protocol;
  name?: string;
  appProtocol?: string;
}

export function kubeProtocol(p: Port['protocol'] | string): Protocol {
  return p.toUpperCase() === 'UDP' ? 'UDP' : p.toUpperCase() === 'SCTP' ? 'SCTP' : 'TCP';
}

/** Distinct (port, protocol) pairs from `ports` then `expose`, in file order. */
export function listenPorts(service: Service): ListenPort[] {
  const out: ListenPort[] = [];
  const add = (p: ListenPort) => {
    if (!out.some((o) => o.port === p.port && o.protocol === p.protocol)) out.push(p);
  };
  for (const p of service.ports) {
    add({ port: p.target, protocol: kubeProtocol(p.protocol), ...(p.name !== undefined && { name: p.name }), ...(p.app_protocol !== undefined && { appProtocol: p.app_protocol }) });
  }
  for (const e of service.expose ?? []) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(\w+))?$/.exec(e.trim());
    if (!m) continue; // the schema and `up` report a malformed entry
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    for (let port = from; port <= to; port++) add({ port, protocol: kubeProtocol(m[3] ?? 'tcp') });
  }
  return out;
}

const PORT_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Port names, which a Service with several ports needs: the stack file's name where
 * Kubernetes takes it (a DNS label of at most 15 characters), else `tcp-8080`.
 */
export function portNames(ports: readonly ListenPort[]): string[] {
  const names: string[] = [];
  for (const p of ports) {
    const own = p.name !== undefined && p.name.length <= 15 && PORT_NAME.test(p.name) && !names.includes(p.name) ? p.name : undefined;
    names.push(own ?? `${p.protocol.toLowerCase()}-${p.port}`);
  }
  return names;
}
