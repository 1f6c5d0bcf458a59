/**
 * `stack build [SERVICE...]`: builds the services that have a `build:` section, as compose
 * does, tagging each image with the service's `image:` or `<project>-<service>`.
 */
import path from 'node:path';
import { Builder, type BuildResult } from '../../engine/image/build/builder.js';
import { ImageStore } from '../../engine/image/store/image-store.js';
import { loadProject, type Project } from '../../engine/index.js';
import type { Service } from '../../engine/model/types.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { plainBuildProgress } from '../render/build-progress.js';
import { imageName } from '../service-image.js';
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
      const result = await buildServiceImage(builder, project, service, {
        buildArgs: cliArgs,
        noCache: options['no-cache'] === true,
        progress: options.quiet ? undefined : ctx.stdout,
      });
      if (!options.quiet) {
        ctx.stdout(`${service.name} built ${result.image.id.slice(7, 19)} as ${imageName(project.name, service)} (${result.cached}/${result.steps} steps cached)\n`);
      }
    }
    return 0;
  },
};

/** Builds the service's image from its `build:` section, named as the service runs it; `progress` gets plain lines. */
export function buildServiceImage(
  builder: Builder,
  project: Project,
  service: Service,
  opts: { buildArgs?: Record<string, string | undefined>; noCache?: boolean; progress?: ((text: string) => void) | undefined },
): Promise<BuildResult> {
  const b = service.build!;
  return builder.build({
    context: b.context,
    dockerfile: b.dockerfile !== undefined ? path.resolve(b.context, b.dockerfile) : undefined,
    dockerfileInline: b.dockerfile_inline,
    target: b.target,
    buildArgs: { ...b.args, ...opts.buildArgs },
    tags: [imageName(project.name, service), ...(b.tags ?? [])],
    labels: b.labels,
    noCache: opts.noCache === true || b.no_cache === true,
    network: b.network === 'none' ? 'none' : 'host',
    onEvent: opts.progress ? plainBuildProgress(opts.progress, `${service.name} `) : undefined,
  });
}
