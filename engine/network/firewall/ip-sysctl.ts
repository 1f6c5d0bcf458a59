/** The kernel settings the firewall needs besides its nftables rules, written under /proc/sys. */
import { readFileSync, writeFileSync } from 'node:fs';
import { SysError } from '../../sys/sys-error.js';

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/**
 * Turns IPv4 forwarding on when it is off, as docker does: without it nothing leaves a
 * network nor reaches a published port. Writing it when it is already on is avoided: the
 * write resets every interface's `forwarding` setting.
 */
export function enableIpForwarding(): void {
  if (read(IP_FORWARD) !== '1') write(IP_FORWARD, '1');
}

/**
 * Lets `bridge` route packets with a 127.0.0.0/8 address (docker without its userland proxy
 * does the same): a port published on 127.0.0.1 is DNATed to a container while its source
 * is still 127.0.0.1. Only this bridge is touched.
 */
export function enableRouteLocalnet(bridge: string): void {
  write(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, '1');
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new SysError('read', [file], (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}

function write(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (e) {
    throw new SysError('write', [file, value], (e as NodeJS.ErrnoException).code ?? 'EIO');
  }
}
