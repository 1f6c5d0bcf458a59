import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { dump } from 'js-yaml';
import { StackError } from '../../engine/errors.js';
import { loadProject, toComposeDocument, type LoadOptions } from '../../engine/index.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { serviceImageName } from '../../engine/image/service-image.js';

export function loadOptionsFrom(ctx: CommandContext, extra: Partial<LoadOptions> = {}): LoadOptions {
  const g = ctx.global;
  return {
    cwd: ctx.cwd,
    env: ctx.env,
    files: (g.file as string[] | undefined) ?? [],
    ...(typeof g['project-name'] === 'string' && { projectName: g['project-name'] }),
    ...(typeof g['project-directory'] === 'string' && { projectDirectory: g['project-directory'] }),
    envFiles: (g['env-file'] as string[] | undefined) ?? [],
    profiles: (g.profile as string[] | undefined) ?? [],
    ...extra,
  };
}

export const configCommand: Command = {
  name: 'config',
  summary: 'Validate the stack file(s) and print the normalized model',
  usage: 'stack config [OPTIONS] [SERVICE...]',
  options: [
    { name: 'format', type: 'string', value: 'FORMAT', description: 'output format: yaml (default) or json' },
    { name: 'quiet', short: 'q', type: 'boolean', description: 'only validate; print nothing but errors' },
    { name: 'services', type: 'boolean', description: 'print the service names, one per line' },
    { name: 'volumes', type: 'boolean', description: 'print the volume names, one per line' },
    { name: 'networks', type: 'boolean', description: 'print the network names, one per line' },
    { name: 'profiles', type: 'boolean', description: 'print the profiles used by any service, one per line' },
    { name: 'images', type: 'boolean', description: 'print the image of each service, one per line' },
    { name: 'no-interpolate', type: 'boolean', description: 'do not substitute ${VARIABLES}' },
    { name: 'output', short: 'o', type: 'string', value: 'FILE', description: 'write the model to FILE instead of standard output' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const format = (options.format as string | undefined) ?? 'yaml';
    if (format !== 'yaml' && format !== 'json') {
      throw new StackError(`unknown format "${format}"`, { hint: 'use --format yaml or --format json' });
    }
    const allProfiles = options.profiles === true;
    const loaded = loadProject(
      loadOptionsFrom(ctx, {
        services,
        interpolate: options['no-interpolate'] !== true,
        ...(allProfiles && { profiles: ['*'] }),
      }),
    );
    for (const w of loaded.warnings) ctx.stderr(`warning: ${w}\n`);
    const { project, graph } = loaded;
    if (services.length > 0) {
      const keep = graph.select(services);
      for (const name of Object.keys(project.services)) if (!keep.has(name)) delete project.services[name];
    }
    if (options.quiet) return 0;
    const lines = (items: Iterable<string>) => {
      const list = [...items];
      ctx.stdout(list.length > 0 ? `${list.join('\n')}\n` : '');
      return 0;
    };
    if (options.services) return lines(graph.levels(Object.keys(project.services)).flat());
    if (options.volumes) return lines(Object.keys(project.volumes).sort());
    if (options.networks) return lines(Object.keys(project.networks).sort());
    if (allProfiles) return lines(new Set(Object.values(project.services).flatMap((s) => s.profiles).sort()));
    if (options.images) {
      const names = Object.keys(project.services).sort();
      // a service built without an image name gets compose's default, <project>-<service>
      return lines(names.map((n) => serviceImageName(project.name, project.services[n]!)));
    }
    const doc = toComposeDocument(project);
    const text =
      format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : dump(doc, { lineWidth: -1, noRefs: true, quotingType: '"' });
    if (typeof options.output === 'string') {
      writeFileSync(path.resolve(ctx.cwd, options.output), text);
      return 0;
    }
    ctx.stdout(text);
    return 0;
  },
};
