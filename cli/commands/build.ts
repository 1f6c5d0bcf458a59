/**
 * `stack build [SERVICE...]`: builds the services that have a `build:` section, as compose
 * does, tagging each image with the service's `image:` or `<project>-<service>`.
 */
import path from 'node:path';
import { Builder } from '../../engine/image/build/builder.js';
import { ImageStore } from '../../engine/image/store/image-store.js';
import { loadProject } from '../../engine/index.js';
import type { Service } from '../../engine/model/types.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { plainBuildProgress } from '../render/build-progress.js';
import { loadOptionsFrom } from './config.js';
import { keyValues } from '../options.js';

export const buildCommand: Command = {
  name: 'build',
  summary: 'Build the images of services that have a build section',
  usage: 'stack build [OPTIONS] [SERVICE...]',
  options: [
    { name: 'no-cache', type: 'boolean', description: 'do not use the build cache' },
    { name: 'build-arg', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'set a build argument (over build.args)' },
    { name: 'quiet', short: 'q', type: 'boolean', description: 'print nothing but errors' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx, { services }));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    const selected = services.length > 0 ? graph.select(services) : new Set(Object.keys(project.services));
    const toBuild = Object.values(project.services).filter((s) => selected.has(s.name) && s.build);
    if (toBuild.length === 0) {
      if (!options.quiet) ctx.stderr('no service to build: none of the selected services has a build section\n');
      return 0;
    }
    const builder = new Builder(ImageStore.open());
    const cliArgs = keyValues((options['build-arg'] as string[] | undefined) ?? [], '--build-arg');
    for (const service of toBuild) {
      const b = service.build!;
      const result = await builder.build({
        context: b.context,
        dockerfile: b.dockerfile !== undefined ? path.resolve(b.context, b.dockerfile) : undefined,
        dockerfileInline: b.dockerfile_inline,
        target: b.target,
        buildArgs: { ...b.args, ...cliArgs },
        tags: [imageName(project.name, service), ...(b.tags ?? [])],
        labels: b.labels,
        noCache: options['no-cache'] === true || b.no_cache === true,
        network: b.network === 'none' ? 'none' : 'host',
        onEvent: options.quiet ? undefined : plainBuildProgress(ctx.stdout, `${service.name} `),
      });
      if (!options.quiet) {
        ctx.stdout(`${service.name} built ${result.image.id.slice(7, 19)} as ${imageName(project.name, service)} (${result.cached}/${result.steps} steps cached)\n`);
      }
    }
    return 0;
  },
};

/** The image a service runs: its `image:`, or what compose names a built one. */
export function imageName(project: string, service: Service): string {
  return service.image ?? `${project}-${service.name}`;
}
