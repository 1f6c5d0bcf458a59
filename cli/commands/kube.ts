/**
 * `stack kube generate | apply | down`: the same stack file on Kubernetes. `generate`
 * prints the manifests (or writes a file per object with -o), `apply` sends them to the
 * cluster of the kubeconfig and waits for the rollout, `down` deletes what carries the
 * project's labels. The Kubernetes client is loaded by apply and down only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../engine/errors.js';
import { loadProject } from '../../engine/index.js';
import { generateManifests, type GenerateOptions, type Manifests } from '../../engine/kube/generate.js';
import { manifestFileName, manifestsYaml, objectYaml } from '../../engine/kube/output.js';
import { validateManifests } from '../../engine/kube/validate.js';
import { formatWarning, throwIfLossy } from '../../engine/kube/warnings.js';
import { serviceBuildRequest, serviceImageName } from '../../engine/image/service-image.js';
import { ImageStore } from '../../engine/image/store/image-store.js';
import { parseReference } from '../../engine/image/store/reference.js';
import type { Project, Service } from '../../engine/model/types.js';
import { enginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { plainBuildProgress } from '../render/build-progress.js';
import { loadOptionsFrom } from './config.js';

const SUBCOMMANDS = ['generate', 'apply', 'down'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const DEFAULT_WAIT_TIMEOUT_S = 300;

export const kubeCommand: Command = {
  name: 'kube',
  summary: 'Run the stack on Kubernetes: generate manifests, apply them, take them down',
  usage: [
    'stack kube generate [-o DIR] [--strict] [--service-type NodePort|LoadBalancer] [--statefulsets] [SERVICE...]',
    'stack kube apply [--context C] [--namespace N] [--wait-timeout SECONDS] [--no-wait] [--remove-orphans] [SERVICE...]',
    'stack kube down [--context C] [--namespace N] [-v]',
  ].join('\n       '),
  options: [
    { name: 'output', short: 'o', type: 'string', value: 'DIR', description: 'generate: write one file per object into DIR instead of printing' },
    { name: 'strict', type: 'boolean', description: 'generate, apply: fail on anything without a faithful Kubernetes equivalent' },
    { name: 'service-type', type: 'string', value: 'TYPE', description: 'how published ports leave the cluster: LoadBalancer (default) or NodePort' },
    { name: 'statefulsets', type: 'boolean', description: 'a service that alone uses a named volume becomes a StatefulSet' },
    { name: 'namespace', short: 'n', type: 'string', value: 'NAME', description: "the namespace (apply, down: default the context's; generate: set in the manifests)" },
    { name: 'context', type: 'string', value: 'NAME', description: 'apply, down: the kubeconfig context (default the current one)' },
    { name: 'volume-size', type: 'string', value: 'SIZE', description: 'what each PersistentVolumeClaim requests (default 1Gi)' },
    { name: 'storage-class', type: 'string', value: 'NAME', description: 'the storage class of the claims (default the cluster\'s)' },
    { name: 'wait-image', type: 'string', value: 'IMAGE', description: 'the image of the init containers waiting for dependencies (default busybox:1.36)' },
    { name: 'wait-timeout', type: 'string', value: 'SECONDS', description: `apply: give up waiting for the rollout after this long (default ${DEFAULT_WAIT_TIMEOUT_S})` },
    { name: 'no-wait', type: 'boolean', description: 'apply: return once the objects are applied' },
    { name: 'remove-orphans', type: 'boolean', description: 'apply: delete objects of the project no longer in the stack file' },
    { name: 'volumes', short: 'v', type: 'boolean', description: "down: delete the project's PersistentVolumeClaims too" },
    { name: 'push', type: 'boolean', description: 'generate, apply: build the images of services with a build section, push them, and refer to them by digest' },
    { name: 'registry', type: 'string', value: 'REGISTRY[/PATH]', description: 'with --push: where the images go (default: each service\'s image name)' },
  ],
  async run(ctx: CommandContext, options: OptionValues, args: string[]): Promise<number> {
    const [sub, ...services] = args;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new StackError(sub === undefined ? 'stack kube needs a subcommand' : `unknown subcommand "kube ${sub}"`, { hint: `subcommands: ${SUBCOMMANDS.join(', ')}` });
    }
    return RUN[sub as Subcommand](ctx, options, services);
  },
};

const RUN: Record<Subcommand, (ctx: CommandContext, options: OptionValues, services: string[]) => Promise<number>> = {
  async generate(ctx, options, services) {
    const { manifests } = await generate(ctx, options, services, typeof options.namespace === 'string' ? { namespace: options.namespace } : {});
    const dir = options.output;
    if (typeof dir !== 'string') {
      ctx.stdout(manifestsYaml(manifests.objects));
      return 0;
    }
    const out = path.resolve(ctx.cwd, dir);
    mkdirSync(out, { recursive: true });
    for (const object of manifests.objects) {
      const file = path.join(out, manifestFileName(object));
      writeFileSync(file, objectYaml(object));
      const rel = path.relative(ctx.cwd, file);
      ctx.stdout(`${rel.startsWith('..') ? file : rel}\n`);
    }
    return 0;
  },

  async apply(ctx, options, services) {
    const timeoutMs = options['wait-timeout'] !== undefined ? seconds(options['wait-timeout'] as string, '--wait-timeout') : DEFAULT_WAIT_TIMEOUT_S * 1000;
    const { project, allServices, manifests } = await generate(ctx, options, services, {});
    const [{ connect }, { applyManifests }] = await Promise.all([import('../../engine/kube/cluster.js'), import('../../engine/kube/apply.js')]);
    const cluster = await connect(clusterOptions(options));
    ctx.stderr(`applying ${manifests.objects.length} objects of project ${project} to namespace ${cluster.namespace} (context ${cluster.context})\n`);
    await applyManifests(cluster, manifests.objects, {
      project,
      services: allServices,
      wait: options['no-wait'] !== true,
      timeoutMs,
      removeOrphans: options['remove-orphans'] === true,
      onEvent: (line) => ctx.stderr(`${line}\n`),
    });
    return 0;
  },

  async down(ctx, options, services) {
    if (services.length > 0) throw new StackError('stack kube down takes no service names', { hint: 'it deletes everything that carries the project\'s labels' });
    const { project, warnings } = loadProject(loadOptionsFrom(ctx));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    const [{ connect }, { deleteProject }] = await Promise.all([import('../../engine/kube/cluster.js'), import('../../engine/kube/down.js')]);
    const cluster = await connect(clusterOptions(options));
    const removed = await deleteProject(cluster, { project: project.name, volumes: options.volumes === true, onEvent: (line) => ctx.stderr(`${line}\n`) });
    if (removed === 0) ctx.stderr(`nothing of project ${project.name} in namespace ${cluster.namespace}\n`);
    return 0;
  },
};

/** Loads the project, generates and validates its objects, prints the warnings (fails on lossy ones with --strict). */
async function generate(ctx: CommandContext, options: OptionValues, services: string[], extra: Partial<GenerateOptions>): Promise<{ project: string; allServices: string[]; manifests: Manifests }> {
  const loaded = loadProject(loadOptionsFrom(ctx, { services }));
  for (const w of loaded.warnings) ctx.stderr(`warning: ${w}\n`);
  const genOptions = generateOptions(options);
  if (options.registry !== undefined && options.push !== true) throw new StackError('--registry needs --push', { hint: 'add --push to build and push the images there' });
  const images = options.push === true ? await buildAndPush(ctx, loaded.project, services, options.registry as string | undefined) : undefined;
  const manifests = generateManifests(loaded, { services, ...genOptions, ...(images && { images }), ...extra });
  await validateManifests(manifests.objects);
  const strict = options.strict === true;
  for (const w of manifests.warnings) if (!strict || !w.lossy) ctx.stderr(`warning: ${formatWarning(w)}\n`);
  if (strict) throwIfLossy(manifests.warnings);
  const { project } = loaded;
  return { project: project.name, allServices: [...Object.keys(project.services), ...project.disabled_services], manifests };
}

const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

function generateOptions(options: OptionValues): GenerateOptions {
  const out: GenerateOptions = {};
  const type = options['service-type'];
  if (type !== undefined) {
    if (type !== 'NodePort' && type !== 'LoadBalancer') throw new StackError(`--service-type ${String(type)}: expected NodePort or LoadBalancer`);
    out.serviceType = type;
  }
  if (options.statefulsets === true) out.statefulSets = true;
  const size = options['volume-size'];
  if (typeof size === 'string') {
    if (!QUANTITY.test(size)) throw new StackError(`--volume-size ${size}: expected a Kubernetes quantity`, { hint: 'for example 1Gi or 500Mi' });
    out.volumeSize = size;
  }
  if (typeof options['storage-class'] === 'string') out.storageClass = options['storage-class'];
  if (typeof options['wait-image'] === 'string') out.waitImage = options['wait-image'];
  return out;
}

function clusterOptions(options: OptionValues): { context?: string; namespace?: string } {
  return {
    ...(typeof options.context === 'string' && { context: options.context }),
    ...(typeof options.namespace === 'string' && { namespace: options.namespace }),
  };
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new StackError(`${flag} ${text}: expected a number of seconds`, { hint: `for example ${flag} 120` });
  return n * 1000;
}

/**
 * `--push`: builds each selected service's image (when it has a build section), pushes it
 * to `registry` (or its own name) and returns the by-digest references the manifests use,
 * so the cluster runs exactly what was built.
 */
async function buildAndPush(ctx: CommandContext, project: Project, selected: readonly string[], registry: string | undefined): Promise<Record<string, string>> {
  const names = selected.length > 0 ? selected : Object.keys(project.services).sort();
  const toPush = names.map((n) => project.services[n]).filter((s): s is Service => s?.build !== undefined);
  if (toPush.length === 0) {
    ctx.stderr('warning: --push: no selected service has a build section; nothing to push\n');
    return {};
  }
  const paths = enginePaths(ctx.env);
  const store = ImageStore.open(paths);
  const [{ Builder }, { Registries, pushImage }] = await Promise.all([import('../../engine/image/build/builder.js'), import('../../engine/registry/index.js')]);
  const builder = new Builder(store, paths);
  const registries = new Registries();
  const out: Record<string, string> = {};
  try {
    for (const service of toPush) {
      const local = serviceImageName(project.name, service);
      const target = pushTarget(local, registry, service.name);
      ctx.stderr(`building ${service.name}\n`);
      await builder.build(serviceBuildRequest(project, service, { onEvent: plainBuildProgress(ctx.stderr, `${service.name} `) }));
      await store.tag(local, target);
      const pushed = await pushImage(store, registries, paths, target);
      const repository = parseReference(target).repository;
      out[service.name] = `${repository}@${pushed.digest}`;
      ctx.stderr(`pushed ${service.name} as ${out[service.name]}\n`);
    }
  } finally {
    await registries.close();
  }
  return out;
}

/** `web:1` with `--registry reg:5000/team` -> `reg:5000/team/web:1`; without, the name itself, which must say its registry. */
function pushTarget(local: string, registry: string | undefined, service: string): string {
  const ref = parseReference(local);
  const tag = ref.tag ?? 'latest';
  if (registry === undefined) {
    if (!local.includes('/')) {
      throw new StackError(`--push: service "${service}" has no image name with a registry to push to (${local})`, {
        path: `services.${service}.image`,
        hint: 'give it image: REGISTRY/NAME:TAG, or pass --registry REGISTRY[/PATH]',
      });
    }
    return `${ref.repository}:${tag}`;
  }
  const base = registry.replace(/\/+$/, '');
  const repoPath = ref.repository.slice(ref.repository.indexOf('/') + 1).replace(/^library\//, '');
  return `${base}/${repoPath}:${tag}`;
}
