/**
 * What the engine knows about its networks, on disk: one JSON file per network under
 * `<stateDir>/networks`, written atomically, changed only under one lock file so that
 * concurrent `stack` processes allocate subnets and addresses without overlap. The
 * kernel objects (bridge, veths, nft chains) are named from these records, so they can
 * be found again after a crash.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StoreLock } from '../image/store/lock.js';
import { writeFileAtomic } from '../runtime/atomic-file.js';
import type { EnginePaths } from '../runtime/paths.js';

export interface Endpoint {
  /** the container's id */
  container: string;
  ipv4: string;
  mac?: string;
  /** the veth end left on the host, enslaved to the bridge */
  hostVeth: string;
  /** the name inside the container: eth0, eth1, ... */
  ifname: string;
  /** names the network's DNS answers with this address: service, container name, aliases */
  names: string[];
  /** the container's `dns:` servers, where its DNS server forwards its other questions */
  dnsUpstreams?: string[];
  /** host ports published to this endpoint (their DNAT rules carry the container's id) */
  published?: number;
}

export interface NetworkRecord {
  name: string;
  bridge: string;
  /** 10.89.0.0/24 */
  subnet: string;
  gateway: string;
  ipRange?: string;
  /** aux_addresses: never handed to containers */
  reserved: string[];
  internal: boolean;
  mtu?: number;
  /** host address published ports bind to when a port names none (bridge.host_binding_ipv4) */
  hostBinding?: string;
  labels: Record<string, string>;
  /** a digest of the config the network was made from, to tell when it changed */
  configHash: string;
  /** the last address handed out, so addresses are not reused at once */
  lastAddress?: string;
  endpoints: Record<string, Endpoint>;
  created: string;
}

export class NetworkStore {
  readonly dir: string;
  private readonly lock: StoreLock;

  constructor(paths: EnginePaths) {
    this.dir = path.join(paths.stateDir, 'networks');
    this.lock = new StoreLock(path.join(this.dir, '.lock'));
  }

  /** Runs `fn` holding the networks lock; every change to records goes through here. */
  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    mkdirSync(this.dir, { recursive: true });
    return this.lock.withLock(fn);
  }

  get(name: string): NetworkRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.file(name), 'utf8')) as NetworkRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  list(): NetworkRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((f) => {
      const rec = this.get(f.slice(0, -'.json'.length));
      return rec ? [rec] : [];
    });
  }

  put(rec: NetworkRecord): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(this.file(rec.name), `${JSON.stringify(rec, null, 2)}\n`);
  }

  delete(name: string): void {
    rmSync(this.file(name), { force: true });
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }
}
