/**
 * `stack pull [SERVICE...]` and `stack push [SERVICE...]`, compose's: the images of the
 * project's services, pulled all at once (one pull per image), or pushed one at a time.
 * `stack image pull|push REF` (image.ts) move one image by name, as docker's do.
 */
import { loadProject } from '../../engine/index.js';
import { StackError } from '../../engine/errors.js';
import { serviceImageName } from '../../engine/image/service-image.js';
import { ImageStore } from '../../engine/image/store/image-store.js';
import { ImagePuller } from '../../engine/registry/image-puller.js';
import { parseReference } from '../../engine/image/store/reference.js';
import type { Project } from '../../engine/model/types.js';
import { enginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { transferProgressFor } from '../render/transfer-progress.js';
import { loadOptionsFrom } from './config.js';

const PROGRESS = { name: 'progress', type: 'string', value: 'MODE', description: 'progress output: auto, tty, plain or quiet' } as const;

export const pullCommand: Command = {
  name: 'pull',
  summary: "Pull the services' images",
  usage: 'stack pull [OPTIONS] [SERVICE...]',
  options: [
    { name: 'quiet', short: 'q', type: 'boolean', description: 'print nothing but errors' },
    { name: 'ignore-buildable', type: 'boolean', description: 'skip services that can build their image' },
    { name: 'ignore-pull-failures', type: 'boolean', description: 'warn about images that fail to pull, and go on' },
    { name: 'include-deps', type: 'boolean', description: "also pull the named services' dependencies" },
    PROGRESS,
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx, { services }));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    checkServices(project, services, 'pull');
    const selected = services.length === 0 ? Object.keys(project.services) : options['include-deps'] ? [...graph.select(services)] : services;
    const targets = selected
      .map((n) => project.services[n]!)
      .filter((s) => s.image !== undefined && !(options['ignore-buildable'] && s.build));
    if (targets.length === 0) return 0;
    const paths = enginePaths(ctx.env);
    const progress = await transferProgressFor(options.quiet ? 'quiet' : options.progress, ctx.stderr, ctx.env);
    // one pull per image, however many services use it
    const puller = new ImagePuller(ImageStore.open(paths), paths, progress.onEvent);
    let failed = 0;
    try {
      await Promise.all(
        targets.map(async (s) => {
          try {
            await puller.pull(s.image!, s.platform);
          } catch (e) {
            // compose: a service that can build its image does not fail the pull
            if (!(e instanceof StackError) || !(s.build || options['ignore-pull-failures'])) throw e;
            failed++;
            ctx.stderr(`warning: service "${s.name}": ${e.message}${s.build ? ' (it can be built: stack build)' : ''}\n`);
          }
        }),
      );
    } finally {
      await progress.finish();
      await puller.close();
    }
    return failed > 0 && !options['ignore-pull-failures'] && targets.every((s) => !s.build) ? 1 : 0;
  },
};

export const pushCommand: Command = {
  name: 'push',
  summary: "Push the services' images",
  usage: 'stack push [OPTIONS] [SERVICE...]',
  options: [
    { name: 'quiet', short: 'q', type: 'boolean', description: 'print nothing but errors' },
    { name: 'ignore-push-failures', type: 'boolean', description: 'warn about images that fail to push, and go on' },
    PROGRESS,
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const { project, warnings } = loadProject(loadOptionsFrom(ctx, { services }));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    checkServices(project, services, 'push');
    const names = services.length === 0 ? Object.keys(project.services).sort() : services;
    // compose pushes the images of services that build them and name them
    const images = [...new Set(names.map((n) => project.services[n]!).filter((s) => s.build && s.image).map((s) => serviceImageName(project.name, s)))];
    if (images.length === 0) {
      if (!options.quiet) ctx.stderr('nothing to push: no selected service has both build and image sections\n');
      return 0;
    }
    return pushImages(ctx, images, options, options['ignore-push-failures'] === true);
  },
};

/** Pushes `images` one after the other (layers of each in parallel). */
export async function pushImages(ctx: CommandContext, images: readonly string[], options: OptionValues, ignoreFailures = false): Promise<number> {
  const paths = enginePaths(ctx.env);
  const store = ImageStore.open(paths);
  const { Registries, pushImage } = await import('../../engine/registry/index.js');
  const registries = new Registries();
  const progress = await transferProgressFor(options.quiet ? 'quiet' : options.progress, ctx.stderr, ctx.env);
  try {
    for (const image of images) {
      try {
        await pushImage(store, registries, paths, image, { onEvent: progress.onEvent });
      } catch (e) {
        if (!ignoreFailures || !(e instanceof StackError)) throw e;
        ctx.stderr(`warning: ${e.message}\n`);
      }
    }
  } finally {
    await progress.finish();
    await registries.close();
  }
  return 0;
}

function checkServices(project: Project, services: readonly string[], verb: string): void {
  for (const name of services) {
    if (project.services[name]) continue;
    let isRef = false;
    try {
      parseReference(name);
      isRef = true;
    } catch {
      // not an image reference either
    }
    throw new StackError(`no such service: ${name}`, {
      kind: 'not-found',
      hint: isRef ? `stack ${verb} takes service names; to ${verb} an image by name use: stack image ${verb} ${name}` : `services: ${Object.keys(project.services).join(', ')}`,
    });
  }
}
