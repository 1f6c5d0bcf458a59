/**
 * Which namespaces the container gets, from `pid`, `ipc`, `uts`, `cgroup` and the network the
 * caller prepared. Like docker: private mount, network, uts, pid and ipc namespaces, plus a
 * private cgroup namespace only where the host runs the unified hierarchy (on v1 and hybrid
 * hosts docker keeps the host's, since tools there expect the host's paths). `host` leaves a
 * namespace out (the process stays in the host's); `service:x`/`container:x` joins the
 * namespace the caller resolved to a path (e.g. /proc/<pid>/ns/pid of x's process).
 */

import { StackError } from '../../errors.js';
import type { OciLinux, OciNamespaceType } from '../oci-spec.js';

export type NetworkChoice = { kind: 'netns'; path: string } | { kind: 'host' } | { kind: 'none' };

export type JoinableNamespace = 'pid' | 'ipc' | 'uts';

export interface NamespaceInput {
  pid?: string | undefined;
  ipc?: string | undefined;
  uts?: string | undefined;
  /** compose's `cgroup: host | private` */
  cgroup?: string | undefined;
  userns_mode?: string | undefined;
  network: NetworkChoice;
  /** the host default for the cgroup namespace: true on cgroup v2 (unified) hosts */
  cgroupNamespace: boolean;
  /** paths of namespaces to join, for `service:x` / `container:x` modes */
  shared?: Partial<Record<JoinableNamespace, string>> | undefined;
  service: string;
}

export interface NamespacePlan {
  namespaces: OciLinux['namespaces'];
  /** what /dev/shm should be: the container's own, the host's, or none (`ipc: none`) */
  shm: 'private' | 'host' | 'none';
  /** namespace types the container does not share with the host (own or joined) */
  isolated: Set<OciNamespaceType>;
}

export function planNamespaces(input: NamespaceInput): NamespacePlan {
  const namespaces: OciLinux['namespaces'] = [{ type: 'mount' }];
  const fail = (key: string, value: string, allowed: string) =>
    new StackError(`service ${input.service}: ${key}: unsupported value "${value}"`, { path: `services.${input.service}.${key}`, hint: `use ${allowed}` });
  const joinOrFail = (type: JoinableNamespace, value: string) => {
    const p = input.shared?.[type];
    if (!p) {
      throw new StackError(`service ${input.service}: ${type}: "${value}" needs the namespace of a running container, which was not provided`, {
        kind: 'system',
        path: `services.${input.service}.${type}`,
      });
    }
    namespaces.push({ type, path: p });
  };
  const isJoin = (v: string) => v.startsWith('service:') || v.startsWith('container:');

  if (input.network.kind === 'netns') namespaces.push({ type: 'network', path: input.network.path });
  else if (input.network.kind === 'none') namespaces.push({ type: 'network' });

  const uts = input.uts ?? '';
  if (uts === '' || uts === 'private') namespaces.push({ type: 'uts' });
  else if (isJoin(uts)) joinOrFail('uts', uts);
  else if (uts !== 'host') throw fail('uts', uts, '`host`, or leave it out');

  const pid = input.pid ?? '';
  if (pid === '' || pid === 'private') namespaces.push({ type: 'pid' });
  else if (isJoin(pid)) joinOrFail('pid', pid);
  else if (pid !== 'host') throw fail('pid', pid, '`host` or `service:<name>`');

  const ipc = input.ipc ?? '';
  let shm: NamespacePlan['shm'] = 'private';
  if (['', 'private', 'shareable'].includes(ipc)) namespaces.push({ type: 'ipc' });
  else if (ipc === 'none') {
    namespaces.push({ type: 'ipc' });
    shm = 'none';
  } else if (isJoin(ipc)) joinOrFail('ipc', ipc);
  else if (ipc === 'host') shm = 'host';
  else throw fail('ipc', ipc, '`private`, `shareable`, `host`, `none` or `service:<name>`');

  const cgroup = input.cgroup ?? '';
  if (cgroup === 'private' || (cgroup === '' && input.cgroupNamespace)) namespaces.push({ type: 'cgroup' });
  else if (cgroup !== '' && cgroup !== 'host') throw fail('cgroup', cgroup, '`host` or `private`');

  const userns = input.userns_mode ?? '';
  if (userns !== '' && userns !== 'host') {
    throw new StackError(`service ${input.service}: userns_mode "${userns}" is not supported yet`, {
      kind: 'unsupported',
      path: `services.${input.service}.userns_mode`,
      hint: 'remove it; containers run without a user namespace',
    });
  }
  return { namespaces, shm, isolated: new Set(namespaces.map((n) => n.type)) };
}
