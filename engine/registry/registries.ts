/**
 * One client per registry for the life of a command, so connections, the scheme probe and
 * tokens are shared by every pull and push it makes.
 */
import { CredentialStore } from './credentials.js';
import { RegistryClient } from './registry-client.js';
import { registryConfig, type RegistryConfig } from './registry-hosts.js';

export class Registries {
  private readonly clients = new Map<string, RegistryClient>();
  readonly config: RegistryConfig;
  readonly credentials: CredentialStore;

  constructor(opts: { config?: RegistryConfig; credentials?: CredentialStore } = {}) {
    this.config = opts.config ?? registryConfig();
    this.credentials = opts.credentials ?? new CredentialStore();
  }

  client(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, { config: this.config, credentials: this.credentials });
      this.clients.set(registry, c);
    }
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}

/** `docker.io/library/busybox` -> [`docker.io`, `library/busybox`] */
export function splitRepository(repository: string): [registry: string, path: string] {
  const slash = repository.indexOf('/');
  return [repository.slice(0, slash), repository.slice(slash + 1)];
}
