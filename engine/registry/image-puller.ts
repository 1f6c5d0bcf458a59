/**
 * Pulls on behalf of `up` and `run`: one pull per image however many services use it, all
 * started at once (layers share the per-registry connection pools), each service's
 * pull_policy applied against the store and the last pull's time. The registry client
 * (and undici under it) loads on the first pull: an `up` that pulls nothing never loads it.
 */
import type { ImageStore, StoredImage } from '../image/store/image-store.js';
import type { Service } from '../model/types.js';
import type { EnginePaths } from '../runtime/paths.js';
import type { PullEvent, PullResult } from './pull.js';
import { pullPeriod, shouldPull } from './pull-policy.js';
import type { Registries } from './registries.js';
import { registryState } from './registry-state.js';

export class ImagePuller {
  private registries: Promise<Registries> | undefined;
  private readonly pulls = new Map<string, Promise<PullResult>>();

  constructor(
    private readonly store: ImageStore,
    private readonly paths: EnginePaths,
    private readonly onEvent: (e: PullEvent) => void = () => undefined,
  ) {}

  /** Whether the service's policy asks for a pull of `image` now. */
  wants(service: Service, image: string): boolean {
    const period = pullPeriod(service.pull_policy, `services.${service.name}.pull_policy`);
    // a service that builds its image pulls it only when its policy says so explicitly
    if (service.build && (period === Infinity || period === undefined)) return false;
    const stored = this.store.find(image) !== undefined;
    return shouldPull(period, stored, registryState(this.paths).pullTimes.last(image));
  }

  pull(image: string, platform?: string): Promise<StoredImage> {
    const key = `${image}\0${platform ?? ''}`;
    let p = this.pulls.get(key);
    if (!p) {
      p = this.start(image, platform);
      this.pulls.set(key, p);
    }
    return p.then((r) => r.image);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.pulls.values());
    await (await this.registries)?.close();
  }

  private async start(image: string, platform: string | undefined): Promise<PullResult> {
    this.registries ??= import('./registries.js').then((m) => new m.Registries());
    const [{ pullImage }, registries] = await Promise.all([import('./pull.js'), this.registries]);
    return pullImage(this.store, registries, this.paths, image, { ...(platform !== undefined && { platform }), onEvent: this.onEvent });
  }
}
