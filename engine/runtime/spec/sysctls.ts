/**
 * `sysctls`, checked the way runc checks them but reported against the service: only keys
 * that belong to a namespace the container has of its own may be set, because anything else
 * would change the host (runc refuses those at start with a less helpful message). The
 * domain name travels as `kernel.domainname`, since runtime-spec 1.0.2 has no field for it
 * (docker does the same).
 */

import { StackError } from '../../errors.js';
import type { OciNamespaceType } from '../oci-spec.js';

const IPC_KEYS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** The namespace a sysctl key belongs to, or undefined when it is global to the host. */
export function sysctlNamespace(key: string): OciNamespaceType | undefined {
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}

export function buildSysctls(
  sysctls: Record<string, string> | undefined,
  isolated: ReadonlySet<OciNamespaceType>,
  service: string,
  domainname?: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(sysctls ?? {})) {
    const ns = sysctlNamespace(key);
    const path = `services.${service}.sysctls`;
    if (ns === undefined) {
      throw new StackError(`service ${service}: sysctls: "${key}" is not namespaced; setting it would change the host`, {
        path,
        hint: 'only net.*, fs.mqueue.*, kernel.msg*, kernel.sem and kernel.shm* can be set per container',
      });
    }
    if (!isolated.has(ns)) {
      const mode = ns === 'network' ? 'network_mode: host' : `${ns === 'ipc' ? 'ipc' : 'uts'}: host`;
      throw new StackError(`service ${service}: sysctls: "${key}" cannot be set with ${mode}`, { path, hint: 'the container shares that namespace with the host' });
    }
    out[key] = String(value);
  }
  if (domainname) {
    if (!isolated.has('uts')) {
      throw new StackError(`service ${service}: domainname cannot be set with uts: host`, { path: `services.${service}.domainname` });
    }
    out['kernel.domainname'] = domainname;
  }
  return out;
}
