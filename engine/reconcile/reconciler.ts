/**
 * `up` and `down` for a project. `up`: images first (built when needed), then the plan
 * (planner.ts) against the containers that exist, then the networks, then each service's
 * actions once its dependencies meet their conditions — services in parallel along the
 * graph, container steps through one p-queue. A failure stops the services that depend on
 * the failed one and undoes what this run made for services that did not start; the
 * others keep running, as compose does. `down` stops in reverse dependency order and
 * removes containers, networks, and with -v volumes. One lock per project serialises
 * commands that change it.
 */
import path from 'node:path';
import PQueue from 'p-queue';
import { StackError } from '../errors.js';
import type { DependencyGraph, Edge } from '../graph/graph.js';
import type { Builder } from '../image/build/builder.js';
import { resolveServiceImage, serviceImageName } from '../image/service-image.js';
import { ImageStore, type StoredImage } from '../image/store/image-store.js';
import { sameImage } from '../image/store/reference.js';
import { StoreLock } from '../image/store/lock.js';
import type { Project, Service } from '../model/types.js';
import { NetworkManager } from '../network/network-manager.js';
import { networkSpec } from '../network/network-spec.js';
import { serviceConfigHash } from '../plan/config-hash.js';
import { describePlan, plan, type Action, type Plan } from '../plan/planner.js';
import { ContainerFactory } from '../runtime/container-factory.js';
import type { ContainerRecord } from '../runtime/containers.js';
import type { RuntimeChoice } from '../runtime/oci-runtime.js';
import type { EnginePaths } from '../runtime/paths.js';
import { ImagePuller } from '../registry/image-puller.js';
import { readHealth } from '../supervisor/health.js';
import { ensureSupervisor, supervisorPid } from '../supervisor/supervisor-control.js';
import type { VolumeStore } from '../volumes/volume-store.js';
import { LABELS, observe, projectRecords } from './project-containers.js';
import { networkKeys, ServiceContainers } from './service-containers.js';

export type UpEvent =
  | { kind: 'service'; service: string; phase: 'pulling' | 'pulled' | 'building' | 'built' | 'waiting' | 'failed' | 'skipped'; detail?: string }
  | { kind: 'container'; service: string; id: string; phase: ContainerPhase; detail?: string }
  | { kind: 'network'; name: string; phase: 'created' | 'removed' }
  | { kind: 'volume'; name: string; phase: 'removed' }
  | { kind: 'warning'; text: string };

export type ContainerPhase =
  | 'creating'
  | 'created'
  | 'recreating'
  | 'starting'
  | 'started'
  | 'running'
  | 'restarting'
  | 'stopping'
  | 'stopped'
  | 'killing'
  | 'killed'
  | 'removing'
  | 'removed'
  | 'failed';

/** what a dependency's condition waits on; the supervisor's health files answer `healthy` */
export interface HealthSource {
  /** undefined: the container has no healthcheck */
  status(id: string): 'starting' | 'healthy' | 'unhealthy' | undefined;
}

export interface UpOptions {
  /** the services named on the command line; all when empty */
  services?: string[];
  noDeps?: boolean;
  build?: 'missing' | 'always' | 'never';
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  /** --scale svc=n */
  scale?: Record<string, number>;
  dryRun?: boolean;
  /** --no-start: create only */
  noStart?: boolean;
  /** ms to wait for a container to stop before SIGKILL, when recreating */
  stopTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface UpResult {
  plan: Plan;
  /** dry-run lines, or what was done */
  lines: string[];
  /** container ids of the selected services after up */
  containers: string[];
}

export interface DownOptions {
  volumes?: boolean;
  /** 'local': images built for services without an image name; 'all': every service image */
  rmi?: 'local' | 'all';
  removeOrphans?: boolean;
  stopTimeoutMs?: number;
}

export interface ReconcilerOptions {
  networks?: NetworkManager;
  runtime?: RuntimeChoice;
  health?: HealthSource;
  /** container steps at once (create, start, stop, remove) */
  concurrency?: number;
  builder?: () => Promise<Builder>;
}

const POLL_MS = 100;

export class Reconciler {
  readonly services: ServiceContainers;
  readonly images: ImageStore;

  constructor(
    readonly paths: EnginePaths,
    readonly options: ReconcilerOptions = {},
  ) {
    this.services = new ServiceContainers(new ContainerFactory(paths), options.networks ?? new NetworkManager(paths));
    this.images = ImageStore.open(paths);
    this.health = options.health ?? { status: (id) => readHealth(paths, id)?.status };
  }

  /** the supervisor's health files, unless the caller gave another source */
  readonly health: HealthSource;

  get containers() {
    return this.services.factory.containers;
  }

  /** Runs `fn` holding the project's lock: two `up`s in one folder serialise. */
  withProjectLock<T>(project: string, fn: () => Promise<T>): Promise<T> {
    return new StoreLock(path.join(this.paths.stateDir, 'projects', `${project}.lock`), 10 * 60_000).withLock(fn);
  }

  async up(project: Project, graph: DependencyGraph, opts: UpOptions = {}, onEvent: (e: UpEvent) => void = () => undefined): Promise<UpResult> {
    const named = opts.services ?? [];
    const selected = named.length === 0 ? new Set(Object.keys(project.services)) : opts.noDeps ? new Set(named.map((n) => (graph.select([n]), n))) : graph.select(named);
    return this.withProjectLock(project.name, async () => {
      // the networks are made while images resolve and the plan is drawn: the first one
      // starts the DNS server, a process the first container waits for
      const execution = opts.dryRun ? undefined : new Execution(this, project, graph, selected, opts, onEvent);
      let images: Map<string, StoredImage>;
      let p: Plan;
      try {
        images = await this.resolveImages(project, selected, opts, onEvent);
        const desired = [...selected].map((name) => {
          const service = project.services[name]!;
          return { name, replicas: replicas(service, opts.scale?.[name]), configHash: serviceConfigHash(service, images.get(name)!.id) };
        });
        const observed = await observe(this.containers, project.name);
        p = plan(desired, observed, {
          ...(opts.forceRecreate && { forceRecreate: true }),
          ...(opts.noRecreate && { noRecreate: true }),
          ...(opts.removeOrphans && { removeOrphans: true }),
          known: Object.keys(project.services),
        });
      } catch (e) {
        await execution?.abandon();
        throw e;
      }
      for (const w of p.warnings) onEvent({ kind: 'warning', text: w });
      const nameOf = (service: string, n: number) => ContainerFactory.containerName(project.name, project.services[service]!, n);
      const lines = describePlan(p, nameOf);
      if (!execution) return { plan: p, lines, containers: [] };
      let failure: unknown;
      await execution.run(images, p).catch((e: unknown) => (failure = e));
      // whatever failed, what runs now is supervised, and a network made again (after a
      // reboot) with nothing new on it is still served before we exit; the first error wins
      try {
        if (projectRecords(this.containers, project.name).some(supervised)) await this.superviseProject(project.name);
        await this.services.networks.dnsSettled();
      } catch (e) {
        failure ??= e;
      }
      if (failure !== undefined) throw failure;
      const containers = projectRecords(this.containers, project.name)
        .filter((r) => selected.has(r.labels[LABELS.service] ?? '') && r.labels[LABELS.oneoff] !== 'True')
        .map((r) => r.id)
        .sort();
      return { plan: p, lines, containers };
    });
  }

  private async resolveImages(project: Project, selected: Set<string>, opts: UpOptions, onEvent: (e: UpEvent) => void): Promise<Map<string, StoredImage>> {
    const out = new Map<string, StoredImage>();
    let builder: Promise<Builder> | undefined;
    const makeBuilder = () =>
      (builder ??= this.options.builder?.() ?? import('../image/build/builder.js').then((m) => new m.Builder(this.images, this.paths)));
    const names = [...selected].sort();
    const services = names.map((n) => project.services[n]!);
    const puller = opts.dryRun ? undefined : this.puller(project, services, onEvent);
    try {
      // every pull starts now, together; builds go one at a time below (each runs its stages in parallel)
      for (const service of services) {
        const image = serviceImageName(project.name, service);
        if (puller?.wants(service, image) && !(opts.build === 'always' && service.build)) {
          onEvent({ kind: 'service', service: service.name, phase: 'pulling', detail: image });
          puller.pull(image, service.platform).then(
            () => onEvent({ kind: 'service', service: service.name, phase: 'pulled' }),
            () => undefined,
          );
        }
      }
      for (const service of services) {
        const name = service.name;
        // compose's pull_policy: build builds every time; --build / --no-build on the command line win
        const build = opts.dryRun ? 'never' : opts.build ?? (service.pull_policy === 'build' && service.build ? 'always' : 'missing');
        const image = await resolveServiceImage(this.images, project, service, {
          build,
          ...(puller && { puller }),
          onPullFailed: (e) => onEvent({ kind: 'warning', text: `service "${name}": pull failed (${e instanceof Error ? e.message : String(e)}); building the image instead` }),
          builder: async () => {
            onEvent({ kind: 'service', service: name, phase: 'building' });
            return makeBuilder();
          },
          onBuilt: (r) => onEvent({ kind: 'service', service: name, phase: 'built', detail: `${r.cached}/${r.steps} steps cached` }),
        });
        out.set(name, image);
      }
    } finally {
      await puller?.close();
    }
    return out;
  }

  /** The pulls' progress as service events: what is being pulled, and how much. */
  private puller(project: Project, services: readonly Service[], onEvent: (e: UpEvent) => void): ImagePuller {
    return new ImagePuller(this.images, this.paths, (e) => {
      if (e.kind === 'resolved') {
        const users = services.filter((s) => sameImage(serviceImageName(project.name, s), e.ref));
        const total = e.layers.reduce((n, l) => n + l.size, 0);
        for (const s of users) onEvent({ kind: 'service', service: s.name, phase: 'pulling', detail: `${e.layers.length} layers, ${(total / 1e6).toFixed(1)} MB` });
      }
    });
  }

  /**
   * Stops and removes the project's containers (dependents first), its networks, and with
   * `volumes` its volumes. Keeps going after a failure and reports every one at the end.
   */
  async down(project: Project | string, graph: DependencyGraph | undefined, opts: DownOptions = {}, onEvent: (e: UpEvent) => void = () => undefined): Promise<void> {
    const name = typeof project === 'string' ? project : project.name;
    const model = typeof project === 'string' ? undefined : project;
    await this.withProjectLock(name, async () => {
      const errors: string[] = [];
      const records = projectRecords(this.containers, name);
      const known = model ? new Set(Object.keys(model.services)) : undefined;
      const targets = records.filter((r) => !known || opts.removeOrphans || known.has(r.labels[LABELS.service] ?? '') || r.labels[LABELS.oneoff] === 'True');
      const orphans = records.filter((r) => !targets.includes(r));
      if (orphans.length > 0) onEvent({ kind: 'warning', text: `found orphan containers (${orphans.map((r) => r.id).join(', ')}); run with --remove-orphans to remove them` });
      // stopped in dependency order (dependents first), as compose; removed all at once after,
      // as nothing depends on a stopped container's files
      await this.inStopOrder(targets, graph, async (service, id) => {
        onEvent({ kind: 'container', service, id, phase: 'stopping' });
        await this.containers.stop(id, grace(opts.stopTimeoutMs)).catch(() => undefined);
      });
      const queue = new PQueue({ concurrency: this.options.concurrency ?? 8 });
      await Promise.all(
        targets.map((rec) =>
          queue.add(async () => {
            const service = rec.labels[LABELS.service] ?? '';
            try {
              onEvent({ kind: 'container', service, id: rec.id, phase: 'removing' });
              await this.services.remove(rec.id);
              onEvent({ kind: 'container', service, id: rec.id, phase: 'removed' });
            } catch (e) {
              errors.push(`${rec.id}: ${(e as Error).message}`);
            }
          }),
        ),
      );
      for (const net of this.services.networks.list()) {
        if (net.labels[LABELS.project] !== name) continue;
        try {
          await this.services.networks.remove(net.name);
          onEvent({ kind: 'network', name: net.name, phase: 'removed' });
        } catch (e) {
          errors.push(`network ${net.name}: ${(e as Error).message}`);
        }
      }
      if (opts.volumes) {
        const store = this.services.factory.volumes;
        for (const v of store.list()) {
          if (v.project !== name) continue;
          store.remove(v.name);
          onEvent({ kind: 'volume', name: v.name, phase: 'removed' });
        }
      }
      if (opts.rmi && model) {
        for (const service of Object.values(model.services)) {
          if (opts.rmi === 'local' && service.image !== undefined) continue;
          const ref = serviceImageName(name, service);
          if (this.images.find(ref)) await this.images.remove(ref).catch((e: Error) => errors.push(`image ${ref}: ${e.message}`));
        }
      }
      this.services.factory.cgroups.removeProject(name);
      // with the containers gone, a running supervisor finds nothing to watch and exits
      if (supervisorPid(this.paths, name) !== undefined) await ensureSupervisor(this.paths, name).catch((e: Error) => errors.push(`supervisor: ${e.message}`));
      if (errors.length > 0) throw new StackError(`down did not remove everything: ${errors.join('; ')}`, { kind: 'system' });
    });
  }

  private supervising = new Map<string, Promise<void>>();

  /**
   * Has the project's supervisor (re)scan its containers: restart policies and healthchecks
   * of what runs now. Calls made while one is under way share the next round.
   */
  superviseProject(project: string): Promise<void> {
    const current = this.supervising.get(project);
    const next = (current ?? Promise.resolve()).catch(() => undefined).then(() => ensureSupervisor(this.paths, project));
    this.supervising.set(project, next);
    return next;
  }

  /** Stops the project's containers (of `services`, or all), dependents first; they stay for `start`. */
  async stop(project: string, graph: DependencyGraph | undefined, services: readonly string[] = [], opts: { stopTimeoutMs?: number } = {}, onEvent: (e: UpEvent) => void = () => undefined): Promise<void> {
    const records = projectRecords(this.containers, project).filter((r) => services.length === 0 || services.includes(r.labels[LABELS.service] ?? ''));
    await this.inStopOrder(records, graph, async (service, id) => {
      onEvent({ kind: 'container', service, id, phase: 'stopping' });
      await this.containers.stop(id, grace(opts.stopTimeoutMs));
      onEvent({ kind: 'container', service, id, phase: 'stopped' });
    });
  }

  /**
   * Starts the existing containers of `services` and of what they depend on (all services
   * when empty), dependencies first, each service once its dependencies meet their
   * conditions: compose's `start`. Containers that run already are left alone.
   */
  async start(project: Project, graph: DependencyGraph, services: readonly string[] = [], onEvent: (e: UpEvent) => void = () => undefined): Promise<void> {
    const selected = services.length === 0 ? new Set(graph.nodes) : graph.select(services);
    await this.withProjectLock(project.name, async () => {
      const byService = serviceContainerIds(this.containers, project.name);
      if (byService.size === 0) {
        const first = [...selected].sort()[0] ?? '';
        throw new StackError(`service "${first}" has no container to start`, { kind: 'not-found', hint: 'create the containers with `stack up`' });
      }
      await this.inStartOrder(graph, selected, byService, (e) => selected.has(e.to), async (service, id) => {
        if ((await this.containers.status(id)) === 'running') return;
        onEvent({ kind: 'container', service, id, phase: 'starting' });
        await this.containers.start(id);
        onEvent({ kind: 'container', service, id, phase: 'started' });
        if (supervised(this.containers.record(id))) await this.superviseProject(project.name);
      });
    });
  }

  /**
   * Stops and starts again the containers of `services` (all when empty) and of the services
   * that depend on them with `restart: true`, in dependency order: compose's `restart`.
   */
  async restart(project: Project, graph: DependencyGraph, services: readonly string[] = [], opts: { stopTimeoutMs?: number } = {}, onEvent: (e: UpEvent) => void = () => undefined): Promise<void> {
    graph.select(services); // a name the project does not have is an error
    const selected = new Set(services.length === 0 ? graph.nodes : services);
    // compose restarts a dependent along only where its depends_on says `restart: true`
    const pending = [...selected];
    while (pending.length > 0) {
      for (const e of graph.dependents(pending.pop()!)) {
        if (e.kind === 'depends_on' && e.restart && !selected.has(e.from)) {
          selected.add(e.from);
          pending.push(e.from);
        }
      }
    }
    await this.withProjectLock(project.name, async () => {
      const byService = serviceContainerIds(this.containers, project.name);
      const waitsFor = (e: Edge) => e.kind === 'depends_on' && e.restart && selected.has(e.to);
      await this.inStartOrder(graph, selected, byService, waitsFor, async (service, id) => {
        onEvent({ kind: 'container', service, id, phase: 'restarting' });
        await this.containers.restart(id, grace(opts.stopTimeoutMs));
        onEvent({ kind: 'container', service, id, phase: 'started' });
        if (supervised(this.containers.record(id))) await this.superviseProject(project.name);
      });
    });
  }

  /**
   * Removes the project's containers `ids` (stopped ones: a running container is refused)
   * with their network endpoints and sandboxes; with `volumes`, also the anonymous volumes
   * that no container left mounts.
   */
  async remove(project: string, ids: readonly string[], opts: { volumes?: boolean } = {}, onEvent: (e: UpEvent) => void = () => undefined): Promise<void> {
    await this.withProjectLock(project, async () => {
      const volumes = this.services.factory.volumes;
      const anonymous = new Set<string>();
      const errors: string[] = [];
      const queue = new PQueue({ concurrency: this.options.concurrency ?? 8 });
      await Promise.all(
        ids.map((id) =>
          queue.add(async () => {
            const rec = this.containers.record(id);
            const service = rec.labels[LABELS.service] ?? '';
            if ((await this.containers.status(id)) === 'running') {
              errors.push(`${id}: the container is running`);
              return;
            }
            for (const name of volumeNames(volumes, rec)) if (volumes.get(name)?.anonymous) anonymous.add(name);
            onEvent({ kind: 'container', service, id, phase: 'removing' });
            try {
              await this.services.remove(id);
              onEvent({ kind: 'container', service, id, phase: 'removed' });
            } catch (e) {
              errors.push(`${id}: ${(e as Error).message}`);
            }
          }),
        ),
      );
      if (opts.volumes && anonymous.size > 0) {
        const inUse = new Set(projectRecords(this.containers).flatMap((rec) => volumeNames(volumes, rec)));
        for (const name of anonymous) {
          if (inUse.has(name)) continue;
          volumes.remove(name);
          onEvent({ kind: 'volume', name, phase: 'removed' });
        }
      }
      if (errors.length > 0) throw new StackError(`could not remove every container: ${errors.join('; ')}`, { kind: 'conflict' });
    });
  }

  /**
   * Runs `fn` for each container of the `selected` services, in dependency order: a
   * service's containers once the dependencies `waitsFor` picks meet their conditions, the
   * services of one level and the containers of one service in parallel through the queue.
   * A failure stops the services that come after it.
   */
  private async inStartOrder(
    graph: DependencyGraph,
    selected: ReadonlySet<string>,
    byService: ReadonlyMap<string, string[]>,
    waitsFor: (e: Edge) => boolean,
    fn: (service: string, id: string) => Promise<void>,
  ): Promise<void> {
    const queue = new PQueue({ concurrency: this.options.concurrency ?? 8 });
    for (const level of graph.levels(selected)) {
      await Promise.all(
        level.map(async (service) => {
          for (const edge of graph.dependencies(service)) {
            if (waitsFor(edge)) await awaitCondition(this, edge, byService.get(edge.to) ?? []);
          }
          await Promise.all((byService.get(service) ?? []).map((id) => queue.add(() => fn(service, id))));
        }),
      );
    }
  }

  /**
   * Runs `fn` for each container, services in reverse dependency order (those the graph does
   * not know first), the containers of one stage in parallel through the queue.
   */
  private async inStopOrder(records: readonly ContainerRecord[], graph: DependencyGraph | undefined, fn: (service: string, id: string) => Promise<void>): Promise<void> {
    const byService = new Map<string, string[]>();
    for (const r of records) {
      const s = r.labels[LABELS.service] ?? '';
      byService.set(s, [...(byService.get(s) ?? []), r.id]);
    }
    const levels = graph ? graph.stopLevels([...byService.keys()].filter((s) => graph.nodes.includes(s))) : [];
    const ordered = new Set(levels.flat());
    const stages = [[...byService.keys()].filter((s) => !ordered.has(s)), ...levels];
    const queue = new PQueue({ concurrency: this.options.concurrency ?? 8 });
    for (const stage of stages) {
      await Promise.all(stage.flatMap((service) => (byService.get(service) ?? []).map((id) => queue.add(() => fn(service, id)))));
    }
  }
}

/** the runtime's stop options for a `-t` given in ms, or the container's own grace period */
function grace(stopTimeoutMs: number | undefined): { gracePeriod?: number } {
  return stopTimeoutMs !== undefined ? { gracePeriod: stopTimeoutMs } : {};
}

/** a container the supervisor has work for: a restart policy or a healthcheck */
function supervised(rec: ContainerRecord): boolean {
  return rec.healthcheck !== undefined || (rec.restart !== undefined && rec.restart !== 'no');
}

/** compose's order: --scale, then deploy.replicas, then scale, then 1 */
function replicas(service: Service, override: number | undefined): number {
  return override ?? service.deploy?.replicas ?? service.scale ?? 1;
}

/** One `up` run: per-service promises along the graph, container steps on one queue, rollback on failure. */
class Execution {
  private readonly queue: PQueue;
  private readonly done = new Map<string, Promise<void>>();
  /** containers this run created, per service, for rollback */
  private readonly made = new Map<string, string[]>();
  private readonly failed = new Map<string, Error>();
  private readonly networksBefore: Set<string>;
  /** the networks being made from the start (see Reconciler.up) */
  private readonly networks: Promise<void>;
  private images = new Map<string, StoredImage>();
  private p: Plan = { services: new Map(), orphans: [], warnings: [] };

  constructor(
    private readonly r: Reconciler,
    private readonly project: Project,
    private readonly graph: DependencyGraph,
    private readonly selected: Set<string>,
    private readonly opts: UpOptions,
    private readonly onEvent: (e: UpEvent) => void,
  ) {
    this.queue = new PQueue({ concurrency: r.options.concurrency ?? 8 });
    this.networksBefore = new Set(r.services.networks.list().map((n) => n.name));
    this.networks = this.ensureNetworks();
    // read by run() or abandon(); until then a failure must not count as unhandled
    this.networks.catch(() => undefined);
  }

  /** Nothing will run (the images or the plan failed): the networks made meanwhile go again. */
  async abandon(): Promise<void> {
    await this.networks.catch(() => undefined);
    await this.rollback();
  }

  async run(images: Map<string, StoredImage>, p: Plan): Promise<void> {
    this.images = images;
    this.p = p;
    try {
      await this.networks;
    } catch (e) {
      // a network refused after others were made: none of this run's stays
      await this.rollback();
      throw e;
    }
    for (const a of this.p.orphans) {
      if ('id' in a) await this.r.services.remove(a.id);
      this.onEvent({ kind: 'container', service: a.service, id: 'id' in a ? a.id : '', phase: 'removed' });
    }
    for (const name of this.selected) this.serviceDone(name);
    await Promise.allSettled(this.done.values());
    if (this.failed.size > 0) {
      await this.rollback();
      // the root causes first: a service skipped for its dependency only repeats them
      const [first, ...rest] = [...this.failed.entries()].sort(([a, ea], [b, eb]) => Number(ea instanceof DependencyFailed) - Number(eb instanceof DependencyFailed) || a.localeCompare(b));
      const err = first![1];
      if (rest.length > 0 && err instanceof StackError) {
        throw new StackError(`${err.message} (also failed: ${rest.map(([s]) => s).join(', ')})`, { kind: err.kind, hint: err.hint, location: err.location, path: err.path, cause: err });
      }
      throw err;
    }
  }

  private async ensureNetworks(): Promise<void> {
    const keys = new Set([...this.selected].flatMap((s) => networkKeys(this.project.services[s]!)));
    for (const key of [...keys].sort()) {
      const spec = networkSpec(this.project, key);
      await this.r.services.networks.ensure(spec);
      if (!this.networksBefore.has(spec.name)) this.onEvent({ kind: 'network', name: spec.name, phase: 'created' });
      for (const text of spec.warnings) this.onEvent({ kind: 'warning', text });
    }
  }

  private serviceDone(name: string): Promise<void> {
    let p = this.done.get(name);
    if (!p) {
      p = this.runService(name).catch((e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        this.failed.set(name, err);
        this.onEvent({ kind: 'service', service: name, phase: 'failed', detail: err.message });
        throw err;
      });
      // a failure is read from `failed`; the promise itself must not be an unhandled rejection
      p.catch(() => undefined);
      this.done.set(name, p);
    }
    return p;
  }

  private async runService(name: string): Promise<void> {
    const deps = this.graph.dependencies(name).filter((e) => this.selected.has(e.to));
    for (const edge of deps) await this.waitFor(edge);
    this.checkAborted();
    const actions = this.p.services.get(name) ?? [];
    await Promise.all(actions.map((a) => this.queue.add(() => this.apply(name, a))));
    // a dependent waiting for this service to be healthy needs the healthchecks running now
    if (!this.opts.noStart && this.containersOf(name).some((id) => supervised(this.r.containers.record(id)))) {
      await this.r.superviseProject(this.project.name);
    }
  }

  private async waitFor(edge: Edge): Promise<void> {
    try {
      await this.serviceDone(edge.to);
    } catch {
      throw new DependencyFailed(edge.from, edge.to);
    }
    if (edge.kind !== 'depends_on' || edge.condition === 'service_started') return;
    this.onEvent({ kind: 'service', service: edge.from, phase: 'waiting', detail: `${edge.to} ${edge.condition === 'service_healthy' ? 'healthy' : 'completed'}` });
    await awaitCondition(this.r, edge, this.containersOf(edge.to), () => this.checkAborted());
  }

  private containersOf(service: string): string[] {
    return projectRecords(this.r.containers, this.project.name)
      .filter((r) => r.labels[LABELS.service] === service && r.labels[LABELS.oneoff] !== 'True')
      .map((r) => r.id);
  }

  private async apply(service: string, a: Action): Promise<void> {
    this.checkAborted();
    const svc = this.project.services[service]!;
    const containers = this.r.containers;
    switch (a.kind) {
      case 'keep':
        this.onEvent({ kind: 'container', service, id: a.id, phase: 'running' });
        return;
      case 'start':
        if (this.opts.noStart) return;
        this.onEvent({ kind: 'container', service, id: a.id, phase: 'starting' });
        await containers.start(a.id);
        this.onEvent({ kind: 'container', service, id: a.id, phase: 'started' });
        return;
      case 'remove':
        this.onEvent({ kind: 'container', service, id: a.id, phase: 'stopping' });
        await containers.stop(a.id, this.stopOpts()).catch(() => undefined);
        await this.r.services.remove(a.id);
        this.onEvent({ kind: 'container', service, id: a.id, phase: 'removed' });
        return;
      case 'recreate':
        this.onEvent({ kind: 'container', service, id: a.id, phase: 'recreating' });
        await containers.stop(a.id, this.stopOpts()).catch(() => undefined);
        await this.r.services.remove(a.id);
        await this.createAndStart(service, svc, a.number);
        return;
      case 'create':
        await this.createAndStart(service, svc, a.number);
        return;
    }
  }

  private async createAndStart(service: string, svc: Service, number: number): Promise<void> {
    const id = ContainerFactory.containerName(this.project.name, svc, number);
    this.onEvent({ kind: 'container', service, id, phase: 'creating' });
    const image = this.images.get(service)!;
    const made = await this.r.services.create({
      project: this.project,
      service: svc,
      image: this.r.images.runtimeImage(image),
      number,
      ...(this.r.options.runtime && { runtime: this.r.options.runtime }),
      labels: {
        [LABELS.configHash]: serviceConfigHash(svc, image.id),
        [LABELS.oneoff]: 'False',
        [LABELS.image]: image.id,
        [LABELS.workingDir]: this.project.working_dir,
        [LABELS.configFiles]: this.project.config_files.join(','),
      },
    });
    this.made.set(service, [...(this.made.get(service) ?? []), made.record.id]);
    for (const w of made.warnings) this.onEvent({ kind: 'warning', text: `${id}: ${w}` });
    this.onEvent({ kind: 'container', service, id, phase: 'created' });
    if (this.opts.noStart) return;
    this.checkAborted();
    this.onEvent({ kind: 'container', service, id, phase: 'starting' });
    await this.r.containers.start(made.record.id);
    this.onEvent({ kind: 'container', service, id, phase: 'started' });
  }

  private stopOpts(): { gracePeriod?: number } {
    return grace(this.opts.stopTimeoutMs);
  }

  private checkAborted(): void {
    if (this.opts.signal?.aborted) throw new StackError('interrupted', { kind: 'conflict', hint: 'run `stack up` again to finish, or `stack down` to remove what was made' });
  }

  /** Undoes what this run made for services that failed; networks it made that nothing uses go too. */
  private async rollback(): Promise<void> {
    for (const service of this.failed.keys()) {
      for (const id of this.made.get(service) ?? []) {
        await this.r.services.remove(id).catch(() => undefined);
        this.onEvent({ kind: 'container', service, id, phase: 'removed' });
      }
    }
    for (const net of this.r.services.networks.list()) {
      if (this.networksBefore.has(net.name) || Object.keys(net.endpoints).length > 0) continue;
      await this.r.services.networks.remove(net.name).catch(() => undefined);
      this.onEvent({ kind: 'network', name: net.name, phase: 'removed' });
    }
  }
}

/**
 * Waits until the dependency's containers `ids` meet `edge`'s condition (healthy, or exited
 * with 0; `service_started` holds once they were started); throws when they no longer can.
 */
async function awaitCondition(r: Reconciler, edge: Edge, ids: readonly string[], checkAborted: () => void = () => undefined): Promise<void> {
  if (edge.condition === 'service_started') return;
  for (const id of ids) {
    for (;;) {
      checkAborted();
      if (edge.condition === 'service_healthy') {
        const health = r.health.status(id);
        if (health === undefined) {
          throw new StackError(`service "${edge.from}" depends on "${edge.to}" being healthy, but ${edge.to} has no healthcheck`, {
            path: `services.${edge.from}.depends_on.${edge.to}`,
            hint: `give ${edge.to} a healthcheck, or use condition: service_started`,
          });
        }
        if (health === 'healthy') break;
        if (health === 'unhealthy') throw new StackError(`dependency ${id} is unhealthy`, { kind: 'conflict', hint: `see \`stack logs ${edge.to}\`` });
        if (r.containers.exitStatus(id)) throw new StackError(`dependency ${id} exited before it became healthy`, { kind: 'conflict', hint: `see \`stack logs ${edge.to}\`` });
      } else {
        const exit = r.containers.exitStatus(id);
        if (exit) {
          if (exit.code === 0) break;
          throw new StackError(`service "${edge.from}" not started: dependency ${id} exited with code ${exit.code}`, { kind: 'conflict', hint: `see \`stack logs ${edge.to}\`` });
        }
      }
      await sleep(POLL_MS);
    }
  }
}

/** The project's service containers (not one-off ones) by service, in number order. */
function serviceContainerIds(containers: Reconciler['containers'], project: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const records = projectRecords(containers, project)
    .filter((r) => r.labels[LABELS.oneoff] !== 'True')
    .sort((a, b) => Number(a.labels[LABELS.number] ?? 0) - Number(b.labels[LABELS.number] ?? 0));
  for (const r of records) {
    const service = r.labels[LABELS.service] ?? '';
    out.set(service, [...(out.get(service) ?? []), r.id]);
  }
  return out;
}

/** The volumes a container mounts, by name: their data directories are the mounts' sources. */
function volumeNames(volumes: VolumeStore, rec: ContainerRecord): string[] {
  return rec.volumeMounts.flatMap((m) => {
    if (m.source === undefined || path.basename(m.source) !== '_data') return [];
    const name = path.basename(path.dirname(m.source));
    try {
      return volumes.dataDir(name) === m.source ? [name] : [];
    } catch {
      return []; // a bind mount whose parent is no volume name
    }
  });
}

/** a service not started because a dependency failed */
class DependencyFailed extends StackError {
  constructor(service: string, dependency: string) {
    super(`service "${service}" not started: its dependency "${dependency}" failed`, { kind: 'conflict' });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
