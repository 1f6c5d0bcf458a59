/**
 * Registry credentials in docker's `config.json` (`auths.<server>.auth` = base64 of
 * `user:password`), read and written in place so `docker login` and `stack login` share
 * them. Docker Hub's key is its legacy index URL; keys written with a scheme or path by
 * older tools are matched too, as docker's own lookup does.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StackError } from '../errors.js';
import { writeFileAtomic } from '../runtime/atomic-file.js';
import { DOCKER_HUB } from './registry-hosts.js';

export interface Credentials {
  username: string;
  password: string;
}

const HUB_KEY = 'https://index.docker.io/v1/';

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

export function dockerConfigFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const dir = env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

export class CredentialStore {
  constructor(readonly file: string = dockerConfigFile()) {}

  get(registry: string): Credentials | undefined {
    const auths = this.read().auths ?? {};
    const wanted = keyFor(registry);
    const key = Object.keys(auths).find((k) => k === wanted) ?? Object.keys(auths).find((k) => bareHost(k) === bareHost(wanted));
    if (key === undefined) return undefined;
    return decode(auths[key]!, this.file, key);
  }

  /** Whether the config sends this registry's credentials to a helper program we do not run. */
  helperFor(registry: string): string | undefined {
    const cfg = this.read();
    return cfg.credHelpers?.[keyFor(registry)] ?? cfg.credHelpers?.[registry] ?? cfg.credsStore;
  }

  set(registry: string, creds: Credentials): void {
    const cfg = this.read();
    cfg.auths = { ...cfg.auths, [keyFor(registry)]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
    this.write(cfg);
  }

  /** Removes the registry's credentials; false when there were none. */
  remove(registry: string): boolean {
    const cfg = this.read();
    const wanted = keyFor(registry);
    const keys = Object.keys(cfg.auths ?? {}).filter((k) => k === wanted || bareHost(k) === bareHost(wanted));
    if (keys.length === 0) return false;
    for (const k of keys) delete cfg.auths![k];
    this.write(cfg);
    return true;
  }

  private read(): DockerConfig {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      return parsed as DockerConfig;
    } catch (e) {
      throw new StackError(`${this.file} is not a valid docker config: ${(e as Error).message}`, { cause: e, hint: 'fix or remove the file, then log in again' });
    }
  }

  private write(cfg: DockerConfig): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, `${JSON.stringify(cfg, null, '\t')}\n`, { mode: 0o600 });
  }
}

/** The auths key docker uses for a registry. */
export function keyFor(registry: string): string {
  return registry === DOCKER_HUB ? HUB_KEY : registry;
}

/** `https://host:5000/v2/` -> `host:5000`; docker's legacy index URL -> docker.io. */
function bareHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

function decode(entry: AuthEntry, file: string, key: string): Credentials | undefined {
  if (entry.auth !== undefined && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) throw new StackError(`${file}: the credentials for ${key} are damaged (no ":" in "auth")`, { hint: `log in again: stack login ${key}` });
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}
