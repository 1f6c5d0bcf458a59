/**
 * The image a service runs, as compose decides it: its `image:` name, or
 * `<project>-<service>` for a built one; pulled as its pull_policy says, built when it has
 * a `build:` section and the image is missing (or a build is asked for). Shared by
 * `build`, `run` and `up`.
 */
import path from 'node:path';
import { StackError } from '../errors.js';
import type { Project, Service } from '../model/types.js';
import type { ImagePuller } from '../registry/image-puller.js';
import type { BuildEvent, BuildRequest, BuildResult, Builder } from './build/builder.js';
import type { ImageStore, StoredImage } from './store/image-store.js';

export function serviceImageName(project: string, service: Service): string {
  return service.image ?? `${project}-${service.name}`;
}

export interface ServiceBuildOptions {
  noCache?: boolean;
  /** over build.args; undefined takes the value from the environment (`--build-arg NAME`) */
  buildArgs?: Record<string, string | undefined>;
  onEvent?: (e: BuildEvent) => void;
}

export function serviceBuildRequest(project: Project, service: Service, opts: ServiceBuildOptions = {}): BuildRequest {
  const b = service.build;
  if (!b) throw new StackError(`service "${service.name}" has no build section`, { path: `services.${service.name}` });
  return {
    context: b.context,
    dockerfile: b.dockerfile !== undefined ? path.resolve(b.context, b.dockerfile) : undefined,
    dockerfileInline: b.dockerfile_inline,
    target: b.target,
    buildArgs: { ...b.args, ...opts.buildArgs },
    tags: [serviceImageName(project.name, service), ...(b.tags ?? [])],
    labels: b.labels,
    noCache: opts.noCache === true || b.no_cache === true,
    network: b.network === 'none' ? 'none' : 'host',
    onEvent: opts.onEvent,
  };
}

export interface ResolveImageOptions extends ServiceBuildOptions {
  /** 'missing' (default): build when the image is not there; 'always': --build; 'never': --no-build */
  build?: 'missing' | 'always' | 'never';
  /** made on first use: a run that builds nothing loads no builder */
  builder: () => Promise<Builder>;
  onBuilt?: (result: BuildResult) => void;
  /** pulls as the service's pull_policy says; without one, only the local store is looked at */
  puller?: ImagePuller;
  /** a pull failed but the service can build its image instead */
  onPullFailed?: (error: unknown) => void;
}

export async function resolveServiceImage(store: ImageStore, project: Project, service: Service, opts: ResolveImageOptions): Promise<StoredImage> {
  const name = serviceImageName(project.name, service);
  const mode = opts.build ?? 'missing';
  if (opts.puller && mode !== 'always' && opts.puller.wants(service, name)) {
    try {
      return await opts.puller.pull(name, service.platform);
    } catch (e) {
      if (!service.build || mode === 'never') throw forService(service, e);
      opts.onPullFailed?.(e);
    }
  }
  const existing = mode === 'always' && service.build ? undefined : store.find(name);
  if (existing) return existing;
  if (service.build && mode !== 'never') {
    const result = await (await opts.builder()).build(serviceBuildRequest(project, service, opts));
    opts.onBuilt?.(result);
    return result.image;
  }
  throw new StackError(`service "${service.name}": image ${name} is not in the local store`, {
    kind: 'not-found',
    path: `services.${service.name}.image`,
    hint: service.build
      ? 'build it first (`stack build`), or drop --no-build'
      : service.pull_policy === 'never'
        ? 'pulls are off (pull_policy: never, or --pull never): pull it first (stack pull), or load or import it (stack image load, stack image import)'
        : 'pull it (stack pull), load or import it (stack image load, stack image import), or give the service a build section',
  });
}

/** A pull's failure, naming the service it was for: `up` pulls for many at once. */
function forService(service: Service, e: unknown): unknown {
  if (!(e instanceof StackError)) return e;
  return new StackError(`service "${service.name}": ${e.message}`, { kind: e.kind, hint: e.hint, path: `services.${service.name}.image`, cause: e });
}
