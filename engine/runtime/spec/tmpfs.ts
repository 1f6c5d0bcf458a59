/**
 * The service's `tmpfs:` entries (`/run:size=64m,mode=1777,uid=1000`) as tmpfs mounts, with
 * docker's defaults: noexec, nosuid and nodev (a scratch directory should not become a place
 * to run or open planted binaries) and rprivate propagation. The user's options come after
 * the defaults and win: `exec` cancels `noexec`, and of two `size=` the last counts, as in
 * docker's MergeTmpfsOptions. Options are checked here so a typo is reported against the
 * service instead of as the kernel's EINVAL from inside the runtime.
 */

import { StackError } from '../../errors.js';
import type { OciMount } from '../oci-spec.js';
import { didYouMean } from '../../validate/suggest.js';

/** flag -> the group of flags that cancel each other (one mount flag bit, or propagation). */
const FLAG_GROUPS: Record<string, string> = {
  rw: 'ro', ro: 'ro',
  exec: 'exec', noexec: 'exec',
  suid: 'suid', nosuid: 'suid',
  dev: 'dev', nodev: 'dev',
  sync: 'sync', async: 'sync',
  dirsync: 'dirsync',
  mand: 'mand', nomand: 'mand',
  atime: 'atime', noatime: 'atime',
  diratime: 'diratime', nodiratime: 'diratime',
  relatime: 'relatime', norelatime: 'relatime',
  strictatime: 'strictatime', nostrictatime: 'strictatime',
  private: 'propagation', rprivate: 'propagation', shared: 'propagation', rshared: 'propagation',
  slave: 'propagation', rslave: 'propagation', unbindable: 'propagation', runbindable: 'propagation',
};

const DATA_CHECKS: Record<string, RegExp> = {
  size: /^\d+[kmgtpe%]?$/i,
  mode: /^[0-7]{1,4}$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  nr_inodes: /^\d+[kmgtpe%]?$/i,
  nr_blocks: /^\d+[kmgtpe%]?$/i,
  mpol: /^[a-z]+(?::.*)?$/,
  huge: /^(never|always|within_size|advise|deny|force)$/,
};

const DEFAULT_OPTIONS = ['noexec', 'nosuid', 'nodev', 'rprivate'];

export function parseTmpfs(entry: string, service: string, index = 0): OciMount {
  const colon = entry.indexOf(':');
  const destination = colon < 0 ? entry : entry.slice(0, colon);
  const data = colon < 0 ? '' : entry.slice(colon + 1);
  const fail = (message: string, hint?: string) =>
    new StackError(`service ${service}: tmpfs: ${message}`, { path: `services.${service}.tmpfs.${index}`, hint });
  if (!destination.startsWith('/')) throw fail(`"${destination}" must be an absolute path in the container`);
  const options = [...DEFAULT_OPTIONS, ...data.split(',').map((o) => o.trim()).filter((o) => o !== '')];
  for (const o of options) {
    if (o === 'defaults' || FLAG_GROUPS[o]) continue;
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const check = DATA_CHECKS[key];
    if (!check) throw fail(`unknown option "${o}"`, didYouMean(key, [...Object.keys(FLAG_GROUPS), ...Object.keys(DATA_CHECKS)]));
    if (eq < 0 || !check.test(o.slice(eq + 1))) throw fail(`invalid value in "${o}"`);
  }
  return { destination: cleanPath(destination), type: 'tmpfs', source: 'tmpfs', options: mergeOptions(options) };
}

/** Keeps the last of each flag group and of each `key=`, in the order they were last given. */
export function mergeOptions(options: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    const key = FLAG_GROUPS[o] ?? `data:${o.split('=')[0]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(o);
  }
  return out;
}

/** `/run/` and `/run//x/.` as the kernel would name them, so overrides compare equal. */
export function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return `/${parts.join('/')}`;
}
