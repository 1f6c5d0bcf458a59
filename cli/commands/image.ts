/**
 * `stack image SUBCOMMAND` and `stack images`: the local image store, with docker's verbs
 * (ls, build, import, tag, rm, prune, save, load, inspect).
 */
import path from 'node:path';
import { StackError } from '../../engine/errors.js';
import { Builder } from '../../engine/image/build/builder.js';
import { familiarName } from '../../engine/image/store/reference.js';
import { ImageStore, type StoredImage } from '../../engine/image/store/image-store.js';
import { imagesInUse } from '../../engine/reconcile/project-containers.js';
import { Containers } from '../../engine/runtime/containers.js';
import { enginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { keyValues } from '../options.js';
import { plainBuildProgress } from '../render/build-progress.js';
import { transferProgressFor } from '../render/transfer-progress.js';
import { pushImages } from './pull.js';

const SUBCOMMANDS = ['ls', 'pull', 'push', 'build', 'import', 'tag', 'rm', 'prune', 'save', 'load', 'inspect'] as const;

export const imageCommand: Command = {
  name: 'image',
  summary: 'Manage images: ls, pull, push, build, import, tag, rm, prune, save, load, inspect',
  usage: [
    'stack image ls [-q]',
    'stack image pull [--platform OS/ARCH] [-q] NAME[:TAG|@DIGEST]',
    'stack image push [-q] NAME[:TAG]',
    'stack image build [-t NAME]... [-f DOCKERFILE] [--target STAGE] [--build-arg K=V]... [--no-cache] CONTEXT',
    'stack image import ROOTFS.tar [NAME]',
    'stack image tag SOURCE TARGET',
    'stack image rm [--force] IMAGE...',
    'stack image prune [--all] [--build-cache]',
    'stack image save [--format oci-archive|docker-archive] -o FILE IMAGE...',
    'stack image load -i FILE',
    'stack image inspect IMAGE...',
  ].join('\n       '),
  options: [
    { name: 'quiet', short: 'q', type: 'boolean', description: 'ls: only image ids; build: no progress' },
    { name: 'tag', short: 't', type: 'string', multiple: true, value: 'NAME', description: 'build: name the image (repeatable)' },
    { name: 'dockerfile', type: 'string', value: 'FILE', description: 'build: the Dockerfile (default CONTEXT/Dockerfile)' },
    { name: 'target', type: 'string', value: 'STAGE', description: 'build: the stage to build' },
    { name: 'build-arg', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'build: a build argument' },
    { name: 'label', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'build: a label on the image' },
    { name: 'no-cache', type: 'boolean', description: 'build: do not use the build cache' },
    { name: 'network', type: 'string', value: 'MODE', description: 'build: RUN steps\' network, host (default) or none' },
    { name: 'force', type: 'boolean', description: 'rm: remove an image that has several names' },
    { name: 'all', short: 'a', type: 'boolean', description: 'prune: every image no name or container needs, not only dangling ones' },
    { name: 'build-cache', type: 'boolean', description: 'prune: drop the build cache too, so its layers can go' },
    { name: 'output', short: 'o', type: 'string', value: 'FILE', description: 'save: the archive to write' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'save: oci-archive (default) or docker-archive' },
    { name: 'input', short: 'i', type: 'string', value: 'FILE', description: 'load: the archive to read' },
    { name: 'platform', type: 'string', value: 'OS/ARCH', description: 'pull: the platform to pull from a multi-platform image' },
    { name: 'progress', type: 'string', value: 'MODE', description: 'pull, push: progress output: auto, tty, plain or quiet' },
  ],
  async run(ctx: CommandContext, options: OptionValues, args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new StackError(sub === undefined ? 'stack image needs a subcommand' : `unknown subcommand "image ${sub}"`, {
        hint: `subcommands: ${SUBCOMMANDS.join(', ')}`,
      });
    }
    const store = ImageStore.open();
    return SUBCOMMAND_RUN[sub as (typeof SUBCOMMANDS)[number]](ctx, options, rest, store);
  },
};

export const imagesCommand: Command = {
  name: 'images',
  summary: 'List local images (stack image ls)',
  usage: 'stack images [-q]',
  options: [{ name: 'quiet', short: 'q', type: 'boolean', description: 'only image ids' }],
  run: (ctx, options) => list(ctx, options, [], ImageStore.open()),
};

type Sub = (ctx: CommandContext, options: OptionValues, args: string[], store: ImageStore) => Promise<number>;

const SUBCOMMAND_RUN: Record<(typeof SUBCOMMANDS)[number], Sub> = {
  ls: list,
  async pull(ctx, options, args, store) {
    if (args.length !== 1) throw usage('stack image pull [OPTIONS] NAME[:TAG|@DIGEST]');
    const { Registries, pullImage } = await import('../../engine/registry/index.js');
    const registries = new Registries();
    const progress = await transferProgressFor(options.quiet ? 'quiet' : options.progress, ctx.stderr, ctx.env);
    const platform = options.platform as string | undefined;
    let pulled;
    try {
      pulled = await pullImage(store, registries, enginePaths(ctx.env), args[0]!, { ...(platform !== undefined && { platform }), onEvent: progress.onEvent });
    } finally {
      await progress.finish();
      await registries.close();
    }
    // docker prints the full reference last, for scripts
    ctx.stdout(`${options.quiet ? pulled.image.id : args[0]!.includes('@') ? args[0]! : familiarName(pulled.image.names[0] ?? args[0]!)}\n`);
    return 0;
  },
  async push(ctx, options, args) {
    if (args.length !== 1) throw usage('stack image push [OPTIONS] NAME[:TAG]');
    return pushImages(ctx, args, options);
  },
  async build(ctx, options, args, store) {
    const [context, ...extra] = args;
    if (context === undefined || extra.length > 0) throw usage('stack image build [OPTIONS] CONTEXT');
    const network = (options.network as string | undefined) ?? 'host';
    if (network !== 'host' && network !== 'none') throw new StackError(`--network ${network} is not supported for builds`, { hint: 'use host or none' });
    const contextDir = path.resolve(ctx.cwd, context);
    const result = await new Builder(store).build({
      context: contextDir,
      dockerfile: typeof options.dockerfile === 'string' ? path.resolve(ctx.cwd, options.dockerfile) : undefined,
      target: options.target as string | undefined,
      buildArgs: keyValues((options['build-arg'] as string[] | undefined) ?? [], '--build-arg'),
      labels: keyValues((options.label as string[] | undefined) ?? [], '--label') as Record<string, string>,
      tags: (options.tag as string[] | undefined) ?? [],
      noCache: options['no-cache'] === true,
      network,
      onEvent: options.quiet ? undefined : plainBuildProgress(ctx.stderr),
    });
    ctx.stdout(`${result.image.id}\n`);
    return 0;
  },
  async import(ctx, _options, args, store) {
    const [file, name, ...extra] = args;
    if (file === undefined || extra.length > 0) throw usage('stack image import ROOTFS.tar [NAME]');
    const img = await store.importRootfs(path.resolve(ctx.cwd, file), name);
    ctx.stdout(`${img.id}\n`);
    return 0;
  },
  async tag(_ctx, _options, args, store) {
    const [source, target, ...extra] = args;
    if (source === undefined || target === undefined || extra.length > 0) throw usage('stack image tag SOURCE TARGET');
    await store.tag(source, target);
    return 0;
  },
  async rm(ctx, options, args, store) {
    if (args.length === 0) throw usage('stack image rm [--force] IMAGE...');
    // layers the build cache points at stay, as docker keeps its build cache apart from images
    const keep = new Builder(store).cache.references();
    const used = imagesInUse(new Containers(enginePaths(ctx.env)));
    for (const ref of args) {
      const { untagged, deleted } = await store.remove(ref, { force: options.force === true, keep, inUse: (id) => used.get(id) });
      for (const u of untagged) ctx.stdout(`Untagged: ${familiarName(u)}\n`);
      for (const d of deleted) ctx.stdout(`Deleted: ${d}\n`);
    }
    return 0;
  },
  async prune(ctx, options, _args, store) {
    const cache = new Builder(store).cache;
    if (options['build-cache'] === true) ctx.stdout(`Dropped ${cache.clear()} build cache records\n`);
    // what containers run from stays, as the build cache's layers do
    const keep = [...cache.references(), ...imagesInUse(new Containers(enginePaths(ctx.env))).keys()];
    const { deleted, reclaimedBytes } = await store.prune({ all: options.all === true, keep });
    for (const d of deleted) ctx.stdout(`Deleted: ${d}\n`);
    ctx.stdout(`Total reclaimed space: ${formatSize(reclaimedBytes)}\n`);
    return 0;
  },
  async save(ctx, options, args, store) {
    const out = options.output as string | undefined;
    if (out === undefined || args.length === 0) throw usage('stack image save [--format oci-archive|docker-archive] -o FILE IMAGE...');
    const format = (options.format as string | undefined) ?? 'oci-archive';
    if (format !== 'oci-archive' && format !== 'docker-archive') throw new StackError(`unknown archive format "${format}"`, { hint: 'use oci-archive or docker-archive' });
    await store.save(args, path.resolve(ctx.cwd, out), format);
    return 0;
  },
  async load(ctx, options, args, store) {
    const input = (options.input as string | undefined) ?? args[0];
    if (input === undefined) throw usage('stack image load -i FILE');
    for (const img of await store.load(path.resolve(ctx.cwd, input))) {
      ctx.stdout(`Loaded image: ${img.names.length > 0 ? img.names.map(familiarName).join(', ') : img.id}\n`);
    }
    return 0;
  },
  async inspect(ctx, _options, args, store) {
    if (args.length === 0) throw usage('stack image inspect IMAGE...');
    const out = args.map((ref) => {
      const img = store.resolve(ref);
      return { Id: img.id, RepoTags: img.names.map(familiarName), Size: img.size, Config: img.config.config, Architecture: img.config.architecture, Os: img.config.os, Created: img.config.created, RootFS: img.config.rootfs, History: img.config.history };
    });
    ctx.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  },
};

async function list(ctx: CommandContext, options: OptionValues, _args: string[], store: ImageStore): Promise<number> {
  const images = store.list();
  if (options.quiet) {
    ctx.stdout(images.map((i) => `${i.id.slice(7, 19)}\n`).join(''));
    return 0;
  }
  const rows: string[][] = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
  for (const img of images) {
    const names = img.names.length > 0 ? img.names : [''];
    for (const n of names) rows.push([...repoTag(n), img.id.slice(7, 19), age(img), formatSize(img.size)]);
  }
  ctx.stdout(table(rows));
  return 0;
}

function repoTag(name: string): [string, string] {
  if (name === '') return ['<none>', '<none>'];
  const familiar = familiarName(name);
  const at = familiar.indexOf('@');
  if (at >= 0) return [familiar.slice(0, at), '<none>'];
  const colon = familiar.lastIndexOf(':');
  return colon > familiar.lastIndexOf('/') ? [familiar.slice(0, colon), familiar.slice(colon + 1)] : [familiar, 'latest'];
}

function age(img: StoredImage): string {
  const created = img.config.created ? Date.parse(img.config.created) : Number.NaN;
  if (Number.isNaN(created)) return 'N/A';
  const s = Math.max(0, (Date.now() - created) / 1000);
  if (s < 60) return 'less than a minute ago';
  const units: [number, string][] = [[86400 * 365, 'year'], [86400 * 30, 'month'], [86400 * 7, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [n, u] of units) if (s >= n) {
    const k = Math.floor(s / n);
    return `${k} ${u}${k > 1 ? 's' : ''} ago`;
  }
  return 'N/A';
}

export function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('').trimEnd() + '\n').join('');
}

function usage(text: string): StackError {
  return new StackError('wrong arguments', { hint: `usage: ${text}` });
}
