/**
 * Pulls on behalf of `up` and `run`: one pull per image however many services use it, all
 * started at once (layers share the per-registry connection pools), each service's
 * pull_policy applied against the store and the last pull's time.
 */
import type { ImageStore, StoredImage } from '../image/store/image-store.js';
import type { Service } from '../model/types.js';
import type { EnginePaths } from '../runtime/paths.js';
import { pullImage, registryState, type PullEvent, type PullResult } from './pull.js';
import { pullPeriod, shouldPull } from './pull-policy.js';
import { Registries } from './registries.js';

export class ImagePuller {
  private readonly registries = new Registries();
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
      p = pullImage(this.store, this.registries, this.paths, image, { ...(platform !== undefined && { platform }), onEvent: this.onEvent });
      this.pulls.set(key, p);
    }
    return p.then((r) => r.image);
  }

  close(): Promise<void> {
    return this.registries.close();
  }
}
