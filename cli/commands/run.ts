/**
 * `stack run [OPTIONS] SERVICE [COMMAND] [ARGS...]`: a one-off container of a service, as
 * `docker compose run` makes one, on the service's networks. Attached, the container's
 * output streams to ours as it runs, our stdin goes to it, and its exit code is ours;
 * detached, its name is printed. There is no pseudo-terminal yet: everything is piped.
 */
import { constants } from 'node:os';
import { split as shellSplit } from 'shlex';
import { StackError } from '../../engine/errors.js';
import { ImageStore } from '../../engine/image/store/image-store.js';
import { loadProject, type Port, type Project, type Service } from '../../engine/index.js';
import { parsePortSpec } from '../../engine/model/short-syntax.js';
import { NetworkManager } from '../../engine/network/network-manager.js';
import { newSlug, oneOff, oneOffName, oneOffService, type OneOffOptions } from '../../engine/reconcile/one-off.js';
import { ServiceContainers } from '../../engine/reconcile/service-containers.js';
import { ContainerFactory, type ImageRef } from '../../engine/runtime/container-factory.js';
import type { Containers } from '../../engine/runtime/containers.js';
import { CountingWritable, outputTail } from '../../engine/runtime/output-tail.js';
import { LocalTerminal } from '../local-terminal.js';
import { containerDirs, enginePaths, type EnginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { keyValues, pullOption } from '../options.js';
import { resolveServiceImage } from '../../engine/image/service-image.js';
import { plainBuildProgress } from '../render/build-progress.js';
import { SignalRelay } from '../signal-relay.js';
import { loadOptionsFrom } from './config.js';

const USAGE = 'stack run [OPTIONS] SERVICE [COMMAND] [ARGS...]';
/** docker's rule for container names */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const runCommand: Command = {
  name: 'run',
  summary: 'Run a one-off command in a new container of a service',
  usage: USAGE,
  interspersed: false,
  options: [
    { name: 'rm', type: 'boolean', description: 'remove the container, its network endpoints and anonymous volumes when it exits' },
    { name: 'detach', short: 'd', type: 'boolean', description: 'start the container in the background and print its name' },
    { name: 'name', type: 'string', value: 'NAME', description: 'the container\'s name (default: <project>-<service>-run-<id>)' },
    { name: 'env', short: 'e', type: 'string', multiple: true, value: 'KEY[=VALUE]', description: 'set a variable; without a value, from the environment' },
    { name: 'entrypoint', type: 'string', value: 'CMD', description: 'override the entrypoint (split as a shell would)' },
    { name: 'workdir', short: 'w', type: 'string', value: 'DIR', description: 'the working directory inside the container' },
    { name: 'user', short: 'u', type: 'string', value: 'USER', description: 'run as this user name or uid[:gid]' },
    { name: 'label', short: 'l', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'add or override a label' },
    { name: 'publish', short: 'p', type: 'string', multiple: true, value: 'PORT', description: 'publish a port ([IP:][HOST:]CONTAINER[/PROTO]); the service\'s ports are not' },
    { name: 'service-ports', short: 'P', type: 'boolean', description: 'publish the service\'s ports' },
    { name: 'use-aliases', type: 'boolean', description: 'the service\'s name and aliases resolve to this container too' },
    { name: 'cap-add', type: 'string', multiple: true, value: 'CAP', description: 'add a Linux capability' },
    { name: 'cap-drop', type: 'string', multiple: true, value: 'CAP', description: 'drop a Linux capability' },
    { name: 'no-deps', type: 'boolean', description: 'do not start the services this one depends on' },
    { name: 'interactive', short: 'i', type: 'boolean', description: 'attach stdin (the default, as in compose)' },
    { name: 'no-tty', short: 'T', type: 'boolean', description: 'no pseudo-terminal (the default when stdin is not a terminal)' },
    { name: 'tty', short: 't', type: 'boolean', description: 'a pseudo-terminal (the default when stdin is one)' },
    { name: 'build', type: 'boolean', description: 'build the service\'s image first, even when it exists' },
    { name: 'quiet-build', type: 'boolean', description: 'no build progress' },
    { name: 'quiet-pull', type: 'boolean', description: 'no pull progress' },
    { name: 'pull', type: 'string', value: 'POLICY', description: 'pull the image: always, missing or never (over the service\'s pull_policy)' },
  ],
  async run(ctx: CommandContext, options: OptionValues, args: string[]): Promise<number> {
    const [serviceName, ...command] = args;
    if (serviceName === undefined) throw new StackError('stack run needs a service', { hint: `usage: ${USAGE}` });
    const request = parseRequest(options);
    const { project, graph, warnings } = loadProject(loadOptionsFrom(ctx, { services: [serviceName] }));
    for (const w of warnings) ctx.stderr(`warning: ${w}\n`);
    graph.select([serviceName]);
    const service = project.services[serviceName]!;
    const paths = enginePaths(ctx.env);
    const pull = pullOption(options.pull);
    const image = await serviceImage(ctx, project, pull ? { ...service, pull_policy: pull } : service, ImageStore.open(paths), options);

    const deps = graph.dependencies(serviceName).map((e) => e.to);
    if (options['no-deps'] !== true && deps.length > 0) {
      // as compose: the services this one needs are brought up first (a no-op when they run)
      const { Reconciler } = await import('../../engine/reconcile/reconciler.js');
      const { plainUpProgress } = await import('../render/up-progress.js');
      await new Reconciler(paths).up(project, graph, { services: deps }, plainUpProgress(ctx.stderr));
    }
    const factory = new ContainerFactory(paths);
    const slug = newSlug();
    const name = request.name ?? oneOffName(project.name, service.name, slug);
    const attached = options.detach !== true;
    const services = new ServiceContainers(factory, new NetworkManager(paths));
    const signals = new SignalRelay();
    try {
      const made = await services.create({
        project,
        service: oneOffService(project, service, { ...request.overrides, ...(command.length > 0 && { command }) }),
        image,
        number: 1,
        // stdin ends with ours when attached; detached, it stays open, as compose's
        oneOff: oneOff(name, slug, { stdin: attached ? 'once' : 'open', useAliases: options['use-aliases'] === true }),
      });
      for (const w of made.warnings) ctx.stderr(`warning: ${w}\n`);
      const { record } = made;
      if (!attached) {
        await factory.containers.start(record.id);
        ctx.stdout(`${record.name}\n`);
        return 0;
      }
      try {
        if (signals.stoppedBy) return 128 + constants.signals[signals.stoppedBy];
        signals.attach(factory.containers, record.id, record.stopGracePeriod);
        return await runAttached(factory.containers, paths, record.id, record.name, request.overrides.tty === true);
      } finally {
        if (options.rm === true) await services.remove(record.id, { volumes: true });
      }
    } finally {
      signals.close();
    }
  },
};

interface RunRequest {
  name: string | undefined;
  overrides: Omit<OneOffOptions, 'command'>;
}

/** Everything the options ask for, checked before anything is loaded or made. */
function parseRequest(options: OptionValues): RunRequest {
  const list = (key: string) => (options[key] as string[] | undefined) ?? [];
  if (options.tty === true && options['no-tty'] === true) throw new StackError('-t and -T contradict each other', { hint: 'keep one of them' });
  // compose: a terminal when ours is one, unless -T; -t asks for one even when piped
  const tty = options.detach !== true && (options.tty === true || (options['no-tty'] !== true && process.stdin.isTTY === true));
  pullOption(options.pull);
  if (options.detach === true && options.rm === true) {
    throw new StackError('--rm with --detach is not supported: no stack process stays to remove the container when it exits', {
      kind: 'unsupported',
      hint: 'run it attached with --rm, or detached without --rm',
    });
  }
  if (list('publish').length > 0 && options['service-ports'] === true) throw new StackError('--service-ports and --publish are incompatible', { hint: 'use one of them' });
  const name = options.name as string | undefined;
  if (name !== undefined && !NAME.test(name)) {
    throw new StackError(`invalid container name ${JSON.stringify(name)}`, { hint: 'use letters, digits, "_", "." and "-", starting with a letter or digit' });
  }
  const labels = keyValues(list('label'), '--label');
  for (const [key, value] of Object.entries(labels)) {
    if (value === undefined) throw new StackError(`--label ${key}: a label needs a value`, { hint: `write --label ${key}=VALUE` });
  }
  const ports: Port[] = [];
  for (const spec of list('publish')) {
    const parsed = parsePortSpec(spec);
    if (typeof parsed === 'string') throw new StackError(`--publish ${spec}: ${parsed}`, { hint: 'write [IP:][HOST:]CONTAINER[/PROTOCOL], e.g. 127.0.0.1:8080:80' });
    ports.push(...parsed);
  }
  let entrypoint: string[] | undefined;
  if (options.entrypoint !== undefined) {
    try {
      entrypoint = shellSplit(options.entrypoint as string);
    } catch (e) {
      throw new StackError(`--entrypoint ${options.entrypoint as string}: ${(e as Error).message}`, { hint: 'quote it as a shell would' });
    }
  }
  return {
    name,
    overrides: {
      ...(entrypoint && { entrypoint }),
      ...(options.env !== undefined && { environment: keyValues(list('env'), '--env') }),
      ...(options.workdir !== undefined && { workingDir: options.workdir as string }),
      ...(options.user !== undefined && { user: options.user as string }),
      ...(options.label !== undefined && { labels: labels as Record<string, string> }),
      capAdd: list('cap-add'),
      capDrop: list('cap-drop'),
      ports: options['service-ports'] === true ? 'service' : ports,
      // compose's -i is on unless turned off, which no option here does: -d leaves stdin unattached
      interactive: true,
      tty,
    },
  };
}

/**
 * The service's image from the local store; built first when it is missing or with
 * `--build`, for a service that has a build section, as compose does.
 */
async function serviceImage(ctx: CommandContext, project: Project, service: Service, store: ImageStore, options: OptionValues): Promise<ImageRef> {
  const { ImagePuller } = await import('../../engine/registry/image-puller.js');
  const { plainTransferProgress } = await import('../render/transfer-progress.js');
  const puller = new ImagePuller(store, enginePaths(ctx.env), options['quiet-pull'] === true ? undefined : plainTransferProgress(ctx.stderr));
  const img = await resolveServiceImage(store, project, service, {
    build: options.build === true ? 'always' : 'missing',
    puller,
    onPullFailed: (e) => ctx.stderr(`warning: pull failed (${e instanceof Error ? e.message : String(e)}); building the image instead\n`),
    // the builder and its dependencies load only when there is something to build
    builder: async () => new (await import('../../engine/image/build/builder.js')).Builder(store),
    ...(options['quiet-build'] !== true && { onEvent: plainBuildProgress(ctx.stderr, `${service.name} `) }),
  }).finally(() => puller.close());
  return store.runtimeImage(img);
}

/**
 * Attaches before starting, so no output is missed, and waits for the exit. conmon ends
 * the attach session as the container exits; its exit file has the status, and its log
 * whatever output it did not relay.
 */
async function runAttached(containers: Containers, paths: EnginePaths, id: string, name: string, tty: boolean): Promise<number> {
  // whoever reads our output went away: the container stops, as the writer of a broken pipe
  const stop = () => void containers.kill(id, 'SIGKILL').catch(() => undefined);
  const stdout = new CountingWritable(process.stdout, stop);
  const stderr = new CountingWritable(process.stderr, stop);
  // with a terminal, keys go to the container's pty as typed (Ctrl-C too: its pty signals)
  const terminal = tty && process.stdin.isTTY === true ? new LocalTerminal(containerDirs(paths, id).bundle) : undefined;
  const session = await containers.attach(id, { stdin: process.stdin, stdout, stderr });
  try {
    terminal?.enter();
    await containers.start(id);
  } catch (e) {
    terminal?.leave();
    session.detach();
    throw e;
  }
  let exit;
  try {
    exit = (await session.done) ?? containers.exitStatus(id);
  } finally {
    terminal?.leave();
  }
  const tail = outputTail(containerDirs(paths, id).log, { stdout: stdout.bytes, stderr: stderr.bytes });
  for (const { stream, data } of tail) if (!{ stdout, stderr }[stream].broken) process[stream].write(data);
  if (!exit) throw new StackError(`container ${name} ended without an exit status`, { kind: 'system', hint: 'its monitor (conmon) died; see its log' });
  return exit.code;
}
