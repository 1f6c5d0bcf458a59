/**
 * Names of the kernel objects a network owns. Interface names hold 15 bytes, so they are
 * derived from a digest of what they belong to: the same network always gets the same
 * bridge, and a link named `stk-*` / `vstk*` on the host is ours, found again even when the
 * state that made it is lost.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { EnginePaths } from '../runtime/paths.js';

export const BRIDGE_PREFIX = 'stk-';
export const HOST_VETH_PREFIX = 'vstk';
/** docker's rule for network names, which also keeps them safe as file names */
export const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function digest(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function bridgeName(network: string): string {
  return `${BRIDGE_PREFIX}${digest(`network:${network}`, 10)}`;
}

export function hostVethName(container: string, network: string): string {
  return `${HOST_VETH_PREFIX}${digest(`endpoint:${container}:${network}`, 10)}`;
}

/** the bind-mounted network namespace of a container */
export function netnsPath(paths: EnginePaths, container: string): string {
  return path.join(paths.runDir, 'netns', container);
}

export function dnsDir(paths: EnginePaths): string {
  return path.join(paths.runDir, 'dns');
}
