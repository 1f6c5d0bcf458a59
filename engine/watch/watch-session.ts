/**
 * A running `watch`: chokidar on every rule's path and on the stack files, changes batched
 * per rule with a short debounce, then the rule's action: sync into the running containers
 * (rootfs-sync.ts), rebuild (one build per build definition, then `up` of those services
 * alone), restart, sync+restart, sync+exec. Actions run one at a time, in order.
 *
 * Containers are observed with a slow poll: a change made while a service has no running
 * container waits for one, and a container not seen before (started, re-created by `up` or a
 * rebuild) is brought in line with the host by comparing its tree, copying only what differs.
 * A change to a stack file or .env reloads the model and runs `up` for the services whose
 * definition changed.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isUserError } from '../errors.js';
import type { DependencyGraph } from '../graph/graph.js';
import { serviceBuildRequest, serviceImageName } from '../image/service-image.js';
import type { Project } from '../model/types.js';
import { LABELS, projectRecords } from '../reconcile/project-containers.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { ContainerRecord } from '../runtime/containers.js';
import { execProcess } from '../runtime/exec-stream.js';
import type { OciSpec } from '../runtime/oci-spec.js';
import { containerDirs } from '../runtime/paths.js';
import { CAPABILITY_NAMES, capabilitySets } from '../runtime/spec/capabilities.js';
import { syncPaths, syncTree, type SyncStats, type SyncTarget } from './rootfs-sync.js';
import { compileWatchRules, isSyncAction, type CompiledRule } from './watch-rules.js';

export type WatchEvent =
  | { kind: 'watching'; services: string[]; rules: number }
  | { kind: 'synced'; service: string; rule: string; container: string; written: number; removed: number; initial: boolean; ms: number }
  | { kind: 'waiting'; service: string; rule: string; files: number }
  | { kind: 'rebuilding'; services: string[] }
  | { kind: 'rebuilt'; services: string[]; ms: number }
  | { kind: 'restarted'; service: string; container: string }
  | { kind: 'exec'; service: string; container: string; exitCode: number; output: string }
  | { kind: 'reloaded'; services: string[] }
  | { kind: 'error'; text: string };

export interface LoadedModel {
  project: Project;
  graph: DependencyGraph;
}

export interface WatchOptions {
  reconciler: Reconciler;
  model: LoadedModel;
  /** the services watched; every service with rules when empty */
  services?: readonly string[];
  /** loads the model again (the CLI's loader, with its options); without it, stack file changes are not watched */
  reload?: () => LoadedModel;
  /** files whose change reloads the model: the stack files and .env */
  configFiles?: readonly string[];
  /** quiet time that closes a batch of changes, ms */
  debounceMs?: number;
  /** how often containers are looked at for starts and re-creations, ms */
  pollMs?: number;
  onEvent: (e: WatchEvent) => void;
}

const DEFAULT_DEBOUNCE_MS = 15;
/** a batch is acted on after this long even while changes keep coming */
const MAX_BATCH_MS = 300;
const DEFAULT_POLL_MS = 500;
const CHOKIDAR_CHANGE_THROTTLE_MS = 50;

interface Batch {
  paths: Set<string>;
  timer?: NodeJS.Timeout;
  first: number;
}

export class WatchSession {
  private model: LoadedModel;
  private rules: CompiledRule[] = [];
  private watchers: FSWatcher[] = [];
  private configWatcher: FSWatcher | undefined;
  private readonly batches = new Map<CompiledRule, Batch>();
  /** changes of sync rules whose service had no running container */
  private readonly waiting = new Map<CompiledRule, Set<string>>();
  /** each container's `created` when its sync rules last brought it in line */
  private readonly seen = new Map<string, string>();
  private readonly rebuildWanted = new Set<string>();
  private rebuildTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly opts: WatchOptions) {
    this.model = opts.model;
  }

  /** Checks the rules, brings running containers in line (initial_sync), and watches; resolves once watching. */
  static async start(opts: WatchOptions): Promise<WatchSession> {
    const s = new WatchSession(opts);
    s.rules = compileWatchRules(s.model.project, opts.services ?? []);
    await s.enqueue(() => s.observeContainers(true));
    await s.watchRules();
    if (opts.reload && opts.configFiles && opts.configFiles.length > 0) s.configWatcher = await s.watchConfig(opts.configFiles);
    s.poll = setInterval(() => void s.enqueue(() => s.observeContainers(false)), opts.pollMs ?? DEFAULT_POLL_MS);
    const services = [...new Set(s.rules.map((r) => r.service))];
    opts.onEvent({ kind: 'watching', services, rules: s.rules.length });
    return s;
  }

  get project(): Project {
    return this.model.project;
  }

  /** Resolves when every batch seen so far has been acted on. */
  async settled(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      await chain;
      const pending = [...this.batches.values()].some((b) => b.timer !== undefined) || this.rebuildTimer !== undefined;
      if (!pending && chain === this.chain) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.rebuildTimer);
    for (const b of this.batches.values()) clearTimeout(b.timer);
    await Promise.all([...this.watchers, ...(this.configWatcher ? [this.configWatcher] : [])].map((w) => w.close()));
    await this.chain;
  }

  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await fn();
      } catch (e) {
        this.opts.onEvent({ kind: 'error', text: isUserError(e) ? e.format() : (e as Error).message });
      }
    });
    this.chain = next;
    return next;
  }

  private async watchRules(): Promise<void> {
    this.watchers = await Promise.all(
      this.rules.map(async (rule) => {
        const w = watch(rule.path, {
          ignoreInitial: true,
          followSymlinks: false,
          // without stats it may be a directory, and a directory is never left out for `include`
          ignored: (p, stats) => rule.ignores(p, stats ? stats.isDirectory() : true),
        });
        w.on('all', (_event, p) => this.changed(rule, path.resolve(p)));
        w.on('error', (e) => this.opts.onEvent({ kind: 'error', text: `${rule.name}: ${(e as Error).message}` }));
        await new Promise<void>((r) => w.once('ready', () => r()));
        return w;
      }),
    );
  }

  private async watchConfig(files: readonly string[]): Promise<FSWatcher> {
    const w = watch([...files], { ignoreInitial: true });
    let timer: NodeJS.Timeout | undefined;
    w.on('all', () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.enqueue(() => this.reloadModel()), 100);
    });
    await new Promise<void>((r) => w.once('ready', () => r()));
    return w;
  }

  private changed(rule: CompiledRule, hostPath: string): void {
    if (this.closed) return;
    let batch = this.batches.get(rule);
    if (!batch) {
      batch = { paths: new Set(), first: Date.now() };
      this.batches.set(rule, batch);
    }
    if (batch.paths.size === 0) batch.first = Date.now();
    batch.paths.add(hostPath);
    clearTimeout(batch.timer);
    const wait = Math.max(0, Math.min(this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS, batch.first + MAX_BATCH_MS - Date.now()));
    batch.timer = setTimeout(() => {
      const paths = [...batch.paths];
      batch.paths.clear();
      batch.timer = undefined;
      if (rule.action === 'rebuild') this.wantRebuild(rule.service);
      else void this.enqueue(() => this.act(rule, paths));
    }, wait);
  }

  /** rebuild requests of rules that fire together are gathered, so a shared build runs once */
  private wantRebuild(service: string): void {
    this.rebuildWanted.add(service);
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = undefined;
      const services = [...this.rebuildWanted].sort();
      this.rebuildWanted.clear();
      void this.enqueue(() => this.rebuild(services));
    }, this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  private async act(rule: CompiledRule, paths: string[]): Promise<void> {
    if (rule.action === 'restart') {
      for (const rec of this.serviceContainers(rule.service)) await this.restart(rule.service, rec);
      return;
    }
    const running = await this.running(rule.service);
    if (running.length === 0) {
      const set = this.waiting.get(rule) ?? new Set<string>();
      for (const p of paths) set.add(p);
      this.waiting.set(rule, set);
      this.opts.onEvent({ kind: 'waiting', service: rule.service, rule: rule.name, files: set.size });
      return;
    }
    const copied = new Map(paths.map((p) => [p, fileState(p)]));
    for (const rec of running) {
      const t0 = performance.now();
      const stats = syncPaths(rule, this.syncTarget(rec), paths);
      this.report(rule, rec, stats, false, t0);
      await this.afterSync(rule, rec);
    }
    this.recheck(rule, copied);
  }

  /**
   * chokidar drops a file's change event that comes within 50 ms of the previous one, so a
   * second quick save would never be synced: once that window is over, files whose state is
   * no longer what was copied count as changed again.
   */
  private recheck(rule: CompiledRule, copied: Map<string, string>): void {
    setTimeout(() => {
      if (this.closed) return;
      for (const [p, state] of copied) if (fileState(p) !== state) this.changed(rule, p);
    }, CHOKIDAR_CHANGE_THROTTLE_MS + 10).unref();
  }

  private async afterSync(rule: CompiledRule, rec: ContainerRecord): Promise<void> {
    if (rule.action === 'sync+restart') await this.restart(rule.service, rec);
    if (rule.action === 'sync+exec') await this.exec(rule, rec);
  }

  private report(rule: CompiledRule, rec: ContainerRecord, stats: SyncStats, initial: boolean, t0: number): void {
    if (initial && stats.written === 0 && stats.removed === 0) return;
    this.opts.onEvent({
      kind: 'synced',
      service: rule.service,
      rule: rule.name,
      container: rec.name,
      written: stats.written,
      removed: stats.removed,
      initial,
      ms: performance.now() - t0,
    });
  }

  private async restart(service: string, rec: ContainerRecord): Promise<void> {
    await this.opts.reconciler.containers.restart(rec.id);
    this.opts.onEvent({ kind: 'restarted', service, container: rec.name });
  }

  private async exec(rule: CompiledRule, rec: ContainerRecord): Promise<void> {
    const x = rule.exec!;
    const { spec, rootfs } = this.bundle(rec);
    const proc = execProcess(
      spec,
      { args: x.command, env: x.environment, ...(x.workingDir !== undefined && { cwd: x.workingDir }), ...(x.user !== undefined && { user: x.user }) },
      rootfs,
      rec.name,
    );
    if (x.privileged) proc.capabilities = capabilitySets(CAPABILITY_NAMES, proc.user.uid);
    const r = await this.opts.reconciler.containers.exec(rec.id, proc);
    this.opts.onEvent({ kind: 'exec', service: rule.service, container: rec.name, exitCode: r.exitCode, output: r.stdout + r.stderr });
  }

  /** One build per build definition of `services`, then `up` of those services alone. */
  private async rebuild(services: string[]): Promise<void> {
    const { project, graph } = this.model;
    const t0 = performance.now();
    this.opts.onEvent({ kind: 'rebuilding', services });
    const groups = new Map<string, string[]>();
    for (const s of services) {
      const key = JSON.stringify(project.services[s]!.build);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const r = this.opts.reconciler;
    const { Builder } = await import('../image/build/builder.js');
    const builder = new Builder(r.images, r.paths);
    for (const group of groups.values()) {
      const tags = group.flatMap((s) => [serviceImageName(project.name, project.services[s]!), ...(project.services[s]!.build?.tags ?? [])]);
      const req = serviceBuildRequest(project, project.services[group[0]!]!);
      await builder.build({ ...req, tags: [...new Set(tags)] });
    }
    await r.up(project, graph, { services, noDeps: true, build: 'never' });
    this.opts.onEvent({ kind: 'rebuilt', services, ms: performance.now() - t0 });
  }

  /**
   * Running containers not seen before get their sync rules' trees compared and copied (at
   * the start only where `initial_sync` says so); changes that waited for a container are
   * applied to the first one running.
   */
  private async observeContainers(first: boolean): Promise<void> {
    const syncRules = this.rules.filter((r) => isSyncAction(r.action));
    for (const service of new Set(syncRules.map((r) => r.service))) {
      const rules = syncRules.filter((r) => r.service === service);
      const running = await this.running(service);
      for (const rec of running) {
        const fresh = this.seen.get(rec.id) !== rec.created;
        const waited = rules.filter((r) => (this.waiting.get(r)?.size ?? 0) > 0);
        if (!fresh && waited.length === 0) continue;
        this.seen.set(rec.id, rec.created);
        for (const rule of rules) {
          const pending = this.waiting.get(rule);
          const tree = fresh && (!first || rule.initialSync);
          if (!tree && !pending?.size) continue;
          const t0 = performance.now();
          const target = this.syncTarget(rec);
          const stats = pending?.size ? syncPaths(rule, target, pending) : { written: 0, removed: 0, unchanged: 0 };
          if (tree) {
            const t = syncTree(rule, target);
            stats.written += t.written;
            stats.removed += t.removed;
          }
          this.report(rule, rec, stats, !pending?.size, t0);
          if (pending?.size && !first) await this.afterSync(rule, rec);
        }
      }
      // what waited is kept until a container ran to take it
      if (running.length > 0) for (const rule of rules) this.waiting.delete(rule);
    }
  }

  private async reloadModel(): Promise<void> {
    const before = this.model.project;
    const next = this.opts.reload!();
    const affected = Object.keys(next.project.services)
      .filter((s) => JSON.stringify(next.project.services[s]) !== JSON.stringify(before.services[s]))
      .sort();
    this.model = next;
    const rules = compileWatchRules(next.project, (this.opts.services ?? []).filter((s) => next.project.services[s]));
    await Promise.all(this.watchers.map((w) => w.close()));
    this.rules = rules;
    await this.watchRules();
    if (affected.length > 0) await this.opts.reconciler.up(next.project, next.graph, { services: affected });
    this.opts.onEvent({ kind: 'reloaded', services: affected });
  }

  private serviceContainers(service: string): ContainerRecord[] {
    return projectRecords(this.opts.reconciler.containers, this.model.project.name)
      .filter((r) => r.labels[LABELS.service] === service && r.labels[LABELS.oneoff] !== 'True')
      .sort((a, b) => Number(a.labels[LABELS.number] ?? 0) - Number(b.labels[LABELS.number] ?? 0));
  }

  private async running(service: string): Promise<ContainerRecord[]> {
    const out: ContainerRecord[] = [];
    for (const rec of this.serviceContainers(service)) {
      if ((await this.opts.reconciler.containers.status(rec.id).catch(() => 'unknown')) === 'running') out.push(rec);
    }
    return out;
  }

  private bundle(rec: ContainerRecord): { spec: OciSpec; rootfs: string } {
    const dirs = containerDirs(this.opts.reconciler.paths, rec.id);
    const spec = JSON.parse(readFileSync(path.join(dirs.bundle, 'config.json'), 'utf8')) as OciSpec;
    return { spec, rootfs: rec.rootfs.kind === 'directory' ? rec.rootfs.path : dirs.rootfs };
  }

  private syncTarget(rec: ContainerRecord): SyncTarget {
    const { spec, rootfs } = this.bundle(rec);
    return { rootfs, mounts: rec.volumeMounts, owner: { uid: spec.process.user.uid, gid: spec.process.user.gid } };
  }
}

/** what a file looked like when it was copied: a later save changes one of these */
function fileState(p: string): string {
  try {
    const st = lstatSync(p);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return 'gone';
  }
}
