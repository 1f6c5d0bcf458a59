/**
 * Where the program's own files are. The code runs either as compiled modules
 * (dist/engine/..., what the tests import) or bundled into dist/bundle/ (what the `stack`
 * bin runs: one bundle loads in half the time of a hundred modules). This module sits one
 * directory below dist/ in both layouts, so `..` from it is dist/ either way; the bundle
 * defines STACK_BUNDLE, so the daemons' entry points are found beside it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare const STACK_BUNDLE: boolean | undefined;

const bundled = typeof STACK_BUNDLE !== 'undefined' && STACK_BUNDLE === true;

/** the build output directory */
export const DIST = fileURLToPath(new URL('..', import.meta.url));

/** the package root (package.json, schemas/) */
export const PACKAGE_ROOT = path.dirname(DIST);

export type DaemonName = 'dns-server' | 'supervisor';

const UNBUNDLED: Record<DaemonName, string> = {
  'dns-server': 'engine/network/dns/main.js',
  supervisor: 'engine/supervisor/main.js',
};

/** The script a daemon process runs. */
export function daemonEntry(name: DaemonName): string {
  return bundled ? path.join(DIST, 'bundle', `${name}.mjs`) : path.join(DIST, UNBUNDLED[name]);
}

/**
 * Whether `file` (a running process's script) is the entry of daemon `name`, in either
 * layout: a daemon started by the bundled command is the same daemon to the compiled
 * modules (the tests), and the other way round. Compared by the last two path components,
 * so another checkout's build counts too.
 */
export function isDaemonEntry(file: string, name: DaemonName): boolean {
  const tail = (f: string) => `${path.basename(path.dirname(f))}/${path.basename(f)}`;
  return tail(file) === `bundle/${name}.mjs` || tail(file) === tail(UNBUNDLED[name]);
}
