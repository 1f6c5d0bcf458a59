/**
 * A container's healthcheck as docker settles it: compose's `healthcheck` over the image's
 * HEALTHCHECK, field by field (a service that sets only `interval` keeps the image's test),
 * `disable: true` or a `NONE` test turning it off, zero durations and retries meaning
 * docker's defaults. `CMD-SHELL` runs through the image's SHELL, else `/bin/sh -c`.
 */
import type { Service } from '../model/types.js';
import type { HealthcheckConfig } from '../runtime/containers.js';
import type { ImageConfig } from '../runtime/spec/image-config.js';

export const HEALTH_DEFAULTS = { interval: 30_000, timeout: 30_000, startPeriod: 0, startInterval: 5_000, retries: 3 } as const;

const NS_PER_MS = 1_000_000;

/** The healthcheck to run, if any; `warn` hears of a test docker would not run either. */
export function resolveHealthcheck(service: Service, image: ImageConfig, warn: (message: string) => void): HealthcheckConfig | undefined {
  const own = service.healthcheck;
  if (own?.disable) return undefined;
  const img = image.Healthcheck ?? undefined;
  const test = own?.test && own.test.length > 0 ? own.test : img?.Test ?? undefined;
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  const [kind, ...args] = test;
  if ((kind !== 'CMD' && kind !== 'CMD-SHELL') || args.length === 0) {
    warn(`service "${service.name}": healthcheck test ${JSON.stringify(test)} is not run: it must start with CMD or CMD-SHELL and name a command`);
    return undefined;
  }
  const shell = image.Shell && image.Shell.length > 0 ? image.Shell : ['/bin/sh', '-c'];
  const ms = (mine: number | undefined, images: number | undefined, fallback: number) =>
    mine || (images ? Math.round(images / NS_PER_MS) : 0) || fallback;
  return {
    test: kind === 'CMD-SHELL' ? [...shell, ...args] : args,
    interval: ms(own?.interval, img?.Interval, HEALTH_DEFAULTS.interval),
    timeout: ms(own?.timeout, img?.Timeout, HEALTH_DEFAULTS.timeout),
    startPeriod: ms(own?.start_period, img?.StartPeriod, HEALTH_DEFAULTS.startPeriod),
    startInterval: ms(own?.start_interval, img?.StartInterval, HEALTH_DEFAULTS.startInterval),
    retries: (own?.retries ?? 0) > 0 ? own!.retries! : (img?.Retries ?? 0) > 0 ? img!.Retries! : HEALTH_DEFAULTS.retries,
  };
}
