/**
 * Devices: the device cgroup's allow list and the device nodes a container gets. By default
 * everything is denied except what every program expects (null, zero, full, random, urandom,
 * tty, the pty pair) and mknod itself (creating a node is harmless when opening it is denied),
 * the list runc and docker use. `devices:` entries add a node at the container path with the
 * host device's type and numbers and allow it with the entry's permissions; a host directory
 * adds every device below it, as docker does. `privileged` allows every device and gives the
 * container all of the host's /dev.
 */

import { lstatSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../errors.js';
import type { Device } from '../../model/types.js';
import type { LinuxResources, OciDevice } from '../oci-spec.js';

export type DeviceRule = NonNullable<LinuxResources['devices']>[number];

export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // pts/*
];

export const ALLOW_ALL_DEVICES: readonly DeviceRule[] = [{ allow: true, access: 'rwm' }];

/** The node `hostPath` as a device `containerPath`, or undefined when it is not a device. */
export function deviceFromStats(st: BigIntStats, containerPath: string): OciDevice | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  // glibc's major()/minor() on a 64-bit dev_t.
  const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
  const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
  return { type, path: containerPath, major, minor, fileMode: Number(st.mode & 0o777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/** A device node, or every device under a directory (its layout kept below `containerPath`). */
export function devicesFromPath(hostPath: string, containerPath: string): OciDevice[] {
  const st = statSync(hostPath, { bigint: true });
  if (st.isDirectory()) {
    const out: OciDevice[] = [];
    for (const name of readdirSync(hostPath).sort()) {
      out.push(...devicesFromPath(path.join(hostPath, name), path.posix.join(containerPath, name)));
    }
    return out;
  }
  const dev = deviceFromStats(st, containerPath);
  return dev ? [dev] : [];
}

export interface ServiceDevices {
  devices: OciDevice[];
  rules: DeviceRule[];
  warnings: string[];
}

/** The service's `devices:`; `privileged` adds the host's /dev and allows everything. */
export function serviceDevices(devices: readonly Device[] | undefined, service: string, privileged = false): ServiceDevices {
  const out: ServiceDevices = { devices: privileged ? hostDevices() : [], rules: privileged ? [...ALLOW_ALL_DEVICES] : [], warnings: [] };
  (devices ?? []).forEach((d, i) => {
    const at = `services.${service}.devices.${i}`;
    if (!/^(?!.*(.).*\1)[rwm]+$/.test(d.permissions)) {
      throw new StackError(`service ${service}: devices: invalid permissions "${d.permissions}" for ${d.source}`, {
        path: at,
        hint: 'use a combination of r (read), w (write) and m (mknod), e.g. "rwm"',
      });
    }
    if (!d.target.startsWith('/')) throw new StackError(`service ${service}: devices: "${d.target}" must be an absolute path in the container`, { path: at });
    if (privileged && d.permissions !== 'rwm') {
      out.warnings.push(`service ${service}: devices: permissions "${d.permissions}" for ${d.source} are ignored, a privileged container may use every device`);
    }
    // Privileged already has the host's nodes at the same paths.
    if (privileged && path.posix.normalize(d.source) === path.posix.normalize(d.target)) return;
    let found: OciDevice[];
    try {
      found = devicesFromPath(d.source, d.target);
    } catch (e) {
      throw new StackError(`service ${service}: devices: cannot use ${d.source}: ${(e as Error).message}`, {
        kind: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not-found' : 'system',
        path: at,
        cause: e,
      });
    }
    if (found.length === 0) {
      throw new StackError(`service ${service}: devices: ${d.source} is not a device (nor a directory of devices)`, { path: at });
    }
    for (const dev of found) {
      out.devices.push(dev);
      if (!privileged) out.rules.push({ allow: true, type: dev.type, major: dev.major, minor: dev.minor, access: d.permissions });
    }
  });
  // A later entry for the same container path wins, as the runtime would create it last.
  const byPath = new Map(out.devices.map((d) => [d.path, d]));
  out.devices = [...byPath.values()];
  return out;
}

/** Skipped like runc's HostDevices: mounts of their own, or not the host's to hand out. */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under the host's /dev, sorted by path (deterministic specs). */
export function hostDevices(dir = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = path.join(d, name);
      // lstat: a symlink in /dev (stdin, disk/by-id/*) is not a device of its own.
      const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(p);
      } else if (p !== '/dev/console') {
        const dev = deviceFromStats(st, p);
        if (dev) out.push(dev);
      }
    }
  };
  walk(dir);
  return out;
}
