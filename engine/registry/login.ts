/**
 * `stack login` / `logout`: credentials checked against the registry before they are
 * saved (as `docker login` does), in docker's config.json.
 */
import { StackError } from '../errors.js';
import { CredentialStore, type Credentials } from './credentials.js';
import { DOCKER_HUB, registryConfig, type RegistryConfig } from './registry-hosts.js';
import { RegistryClient } from './registry-client.js';

/** `https://host:5000/v2/`, `host:5000`, or nothing (Docker Hub) -> the registry's name. */
export function registryOfServer(server: string | undefined): string {
  if (server === undefined || server === '') return DOCKER_HUB;
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (host === '') throw new StackError(`invalid registry address ${JSON.stringify(server)}`, { hint: 'give a host[:port], e.g. registry.example.com:5000' });
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host.toLowerCase();
}

export async function login(registry: string, creds: Credentials, store = new CredentialStore(), config: RegistryConfig = registryConfig()): Promise<void> {
  if (creds.username === '' || creds.password === '') {
    throw new StackError('a user name and a password are needed to log in', { hint: 'use -u USER and --password-stdin (or -p PASSWORD)' });
  }
  const client = new RegistryClient(registry, { config, credentials: { get: () => creds } });
  try {
    await client.checkLogin();
  } finally {
    await client.close();
  }
  store.set(registry, creds);
}

export function logout(registry: string, store = new CredentialStore()): boolean {
  return store.remove(registry);
}
