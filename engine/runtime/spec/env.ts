/**
 * The container's environment, assembled as docker does: its defaults (PATH, HOSTNAME, TERM
 * when there is a terminal) come first, the image's Env replaces or extends them, the
 * service's `environment` replaces or extends that; a service variable whose value is null
 * (`environment: [FOO]` with FOO unset where compose ran) removes the variable, as docker
 * does for an `-e FOO` without a value. Replacing keeps a variable's position, so the order
 * is stable across runs and matches what `docker inspect` lists. HOME comes last, from the
 * user's passwd entry, only when nothing set it (runc and crun would otherwise each fill it
 * in their own way).
 */

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EnvInput {
  /** the image's Env, `KEY=value` */
  image?: readonly string[] | null | undefined;
  /** the service's environment; null = remove */
  service?: Record<string, string | null> | undefined;
  hostname: string;
  tty?: boolean | undefined;
  /** the user's home directory, for HOME when neither the image nor the service sets it */
  home?: string | undefined;
}

/** An image's Env (`KEY=value` entries) as a map, in order; an entry without `=` carries no value and docker skips it. */
export function envMap(entries: readonly string[] | null | undefined, into = new Map<string, string>()): Map<string, string> {
  for (const entry of entries ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) into.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return into;
}

export function envList(env: ReadonlyMap<string, string>): string[] {
  return [...env].map(([k, v]) => `${k}=${v}`);
}

export function buildEnv(input: EnvInput): string[] {
  const env = new Map<string, string>();
  env.set('PATH', DEFAULT_PATH);
  env.set('HOSTNAME', input.hostname);
  if (input.tty) env.set('TERM', 'xterm');
  envMap(input.image, env);
  for (const [key, value] of Object.entries(input.service ?? {})) {
    if (value === null) env.delete(key);
    else env.set(key, value);
  }
  if (input.home !== undefined && !env.has('HOME')) env.set('HOME', input.home);
  return envList(env);
}
