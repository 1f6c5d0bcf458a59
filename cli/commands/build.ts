/**
 * `stack build [SERVICE...]`: builds the services that have a `build:` section, as compose
 * does, tagging each image with the service's `image:` or `<project>-<service>`.
 */
import { Builder } from '../../engine/image/build/builder.js';
import { ImageStore } from '../../engine/image/store/image-store.js';
import { loadProject } from '../../engine/index.js';
import { serviceBuildRequest, serviceImageName } from '../../engine/image/service-image.js';
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
      const result = await builder.build(
        serviceBuildRequest(project, service, {
          noCache: options['no-cache'] === true,
          buildArgs: cliArgs,
          ...(!options.quiet && { onEvent: plainBuildProgress(ctx.stdout, `${service.name} `) }),
        }),
      );
      if (!options.quiet) {
        ctx.stdout(`${service.name} built ${result.image.id.slice(7, 19)} as ${serviceImageName(project.name, service)} (${result.cached}/${result.steps} steps cached)\n`);
      }
    }
    return 0;
  },
};
