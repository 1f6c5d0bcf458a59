/**
 * Dockerfile -> image, daemonless. Stages build as promises: the target stage starts every
 * stage it needs (FROM <stage>, COPY --from=<stage>) at once, so independent stages run in
 * parallel and only what the target needs is built, as BuildKit does. Each instruction
 * either changes the image config only (ENV, CMD, ...: an empty history entry) or yields one
 * layer: RUN through a real container, COPY/ADD/WORKDIR written into a fresh overlay upper
 * dir over the stage's layers. Every step is looked up in the build cache first.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError, type Location } from '../../errors.js';
import type { ContainerFactory } from '../../runtime/container-factory.js';
import { enginePaths as defaultEnginePaths, type EnginePaths } from '../../runtime/paths.js';
import type { ImageConfig } from '../../runtime/spec/image-config.js';
import { DEFAULT_PATH, envList, envMap } from '../../runtime/spec/env.js';
import { resolveUser } from '../../runtime/spec/user.js';
import { mountOverlay, unmount } from '../../sys/mounts.js';
import { makeDirsInRoot } from '../../sys/read-in-root.js';
import {
  expandInstruction,
  expandWord,
  findStage,
  parseDockerfile,
  PREDEFINED_ARGS,
  resolveGlobalArgs,
  stageArgValue,
  type Dockerfile,
  type Instruction,
  type Stage,
} from '../dockerfile/index.js';
import type { ImageConfigFile, LayerRecord, StoredImage } from '../store/image-store.js';
import { hostArch } from '../store/oci-types.js';
import { ImageStore } from '../store/image-store.js';
import { BuildCache, stepKey } from './build-cache.js';
import { BuildContext, cleanRel, type ContextSource } from './build-context.js';
import { copyIntoRoot, type CopySource } from './copy-files.js';
import { BUILD_PROJECT, runStep } from './run-step.js';
import { archiveKind, fetchToFile, isRemoteUrl, tarStream, type ArchiveKind } from './add-sources.js';

export interface BuildRequest {
  /** the build context directory */
  context: string;
  /** path of the Dockerfile; default <context>/Dockerfile */
  dockerfile?: string | undefined;
  /** the Dockerfile's text, instead of a file (compose's dockerfile_inline) */
  dockerfileInline?: string | undefined;
  target?: string | undefined;
  /** --build-arg / build.args; undefined = take the value from the environment, as docker */
  buildArgs?: Record<string, string | null | undefined> | undefined;
  tags?: string[] | undefined;
  labels?: Record<string, string> | undefined;
  noCache?: boolean | undefined;
  network?: 'host' | 'none' | undefined;
  onEvent?: ((e: BuildEvent) => void) | undefined;
}

export type BuildEvent =
  | { type: 'step'; stage: string; step: number; steps: number; text: string; cached: boolean }
  | { type: 'output'; stage: string; text: string }
  | { type: 'warning'; text: string };

export interface BuildResult {
  image: StoredImage;
  steps: number;
  cached: number;
  warnings: string[];
}

/** A stage being built: its layers and config so far, and what variables it sees. */
interface StageState {
  key: string;
  layers: LayerRecord[];
  image: ImageConfigFile;
  /** ARGs declared in this stage, with their values (undefined: declared without one) */
  args: Map<string, string | undefined>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it) */
  cmdSet: boolean;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];

export class Builder {
  readonly cache: BuildCache;
  private readonly tmp: string;

  constructor(
    readonly store: ImageStore,
    readonly enginePaths: EnginePaths = defaultEnginePaths(),
  ) {
    this.cache = new BuildCache(path.join(store.root, 'build-cache'));
    this.tmp = path.join(store.root, 'tmp');
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    const dockerfilePath = req.dockerfile ? path.resolve(req.context, req.dockerfile) : path.join(path.resolve(req.context), 'Dockerfile');
    const text = req.dockerfileInline ?? readDockerfile(dockerfilePath);
    const df = parseDockerfile(text, req.dockerfileInline !== undefined ? 'Dockerfile (inline)' : dockerfilePath);
    const context = BuildContext.open(req.context, req.dockerfileInline === undefined ? dockerfilePath : undefined);
    const run = new BuildRun(this, df, context, req);
    try {
      const target = req.target !== undefined ? findStage(df, req.target) : df.stages[df.stages.length - 1]!;
      const state = await run.stage(target);
      const image = await this.store.commit(finalConfig(state.image, req.labels), state.layers, req.tags ?? []);
      for (const name of run.unusedBuildArgs()) run.warn(`build arg ${name} was given but no ARG in the Dockerfile declares it`);
      return { image, steps: run.steps, cached: run.cachedSteps, warnings: run.warnings };
    } finally {
      await run.close();
    }
  }

  /** internals shared with BuildRun */
  tmpDir(prefix: string): string {
    mkdirSync(this.tmp, { recursive: true });
    const dir = path.join(this.tmp, `${prefix}-${randomBytes(6).toString('hex')}`);
    mkdirSync(dir, { mode: 0o700 });
    return dir;
  }
}

class BuildRun {
  steps = 0;
  cachedSteps = 0;
  readonly warnings: string[] = [];
  private readonly stages = new Map<number, Promise<StageState>>();
  private readonly globalArgs: Map<string, string>;
  /** --build-arg values, with bare names taken from the environment */
  private readonly buildArgs = new Map<string, string>();
  private readonly usedBuildArgs = new Set<string>();
  /** made on the first RUN that misses the cache: a cached build loads no runtime code */
  private factory: Promise<ContainerFactory> | undefined;
  /** an empty lower dir: overlay needs one under a stage that has no layer yet (FROM scratch) */
  private emptyDir: string | undefined;

  private readonly pulls = new Map<string, Promise<StoredImage>>();

  constructor(
    private readonly builder: Builder,
    private readonly df: Dockerfile,
    private readonly context: BuildContext,
    private readonly req: BuildRequest,
  ) {
    for (const [name, v] of Object.entries(req.buildArgs ?? {})) {
      // `--build-arg NAME` with no value takes it from the environment, as docker
      const value = v === undefined || v === null ? process.env[name] : v;
      if (value !== undefined) this.buildArgs.set(name, value);
    }
    this.globalArgs = resolveGlobalArgs(df.globalArgs, this.buildArgs, new Map(), df.escape);
    for (const i of df.globalArgs) for (const a of i.args) this.usedBuildArgs.add(a.name);
  }

  warn(text: string): void {
    this.warnings.push(text);
    this.req.onEvent?.({ type: 'warning', text });
  }

  unusedBuildArgs(): string[] {
    return Object.keys(this.req.buildArgs ?? {}).filter((n) => !this.usedBuildArgs.has(n) && !PREDEFINED_ARGS.includes(n));
  }

  /** The state at the end of a stage; each stage is built once however many others need it. */
  stage(stage: Stage): Promise<StageState> {
    let p = this.stages.get(stage.index);
    if (!p) {
      p = this.buildStage(stage);
      // a stage nobody awaits yet must not crash the process with an unhandled rejection
      p.catch(() => undefined);
      this.stages.set(stage.index, p);
    }
    return p;
  }

  async close(): Promise<void> {
    if (this.emptyDir) rmSync(this.emptyDir, { recursive: true, force: true });
    if (!this.factory) return;
    try {
      (await this.factory).cgroups.removeProject(BUILD_PROJECT.name);
    } catch {
      // another build of this machine may still be running steps under it
    }
  }

  private async buildStage(stage: Stage): Promise<StageState> {
    // start every stage this one needs, so they build side by side
    for (const dep of this.dependencies(stage)) void this.stage(dep);
    const name = stage.name ?? `stage-${stage.index}`;
    let state = await this.fromState(stage);
    const total = stage.instructions.length + 1;
    this.event({ type: 'step', stage: name, step: 1, steps: total, text: stage.from.original, cached: false });
    const onbuild = state.image.config.OnBuild ?? [];
    if (onbuild.length > 0) {
      state.image.config.OnBuild = null;
      for (const trigger of parseTriggers(onbuild, stage.from.location)) state = await this.step(stage, name, state, trigger, 0, total);
    }
    let n = 1;
    for (const instr of stage.instructions) state = await this.step(stage, name, state, instr, ++n, total);
    return state;
  }

  private async step(stage: Stage, stageName: string, state: StageState, raw: Instruction, n: number, total: number): Promise<StageState> {
    this.steps++;
    const lookup = (v: string) => lookupVar(state, v);
    const instr = raw.kind === 'ARG' ? raw : expandInstruction(raw, lookup, this.df.escape);
    const label = (cached: boolean) => this.event({ type: 'step', stage: stageName, step: n, steps: total, text: raw.original, cached });
    const next: StageState = { ...state, image: cloneImage(state.image), args: new Map(state.args) };
    const cfg = next.image.config;
    // config-only steps are cached too: their history entry (with its time) must be the same
    // on a rebuild, or the image id would change with nothing changed
    const meta = (createdBy: string) => this.cachedOr(next, stepKey(state.key, createdBy), createdBy, label, async () => undefined);
    switch (instr.kind) {
      case 'ARG': {
        for (const a of instr.args) {
          this.usedBuildArgs.add(a.name);
          const value = stageArgValue(a, instr, {
            buildArgs: this.buildArgs,
            globalArgs: this.globalArgs,
            lookup: (v) => lookupVar(next, v),
            escape: this.df.escape,
          });
          next.args.set(a.name, value);
        }
        // ARG changes no image bytes (only the steps that read the value carry it in their
        // keys), so it is always as good as cached
        label(true);
        this.cachedSteps++;
        return next;
      }
      case 'ENV': {
        const env = envMap(cfg.Env);
        for (const { key, value } of instr.pairs) env.set(key, value);
        cfg.Env = envList(env);
        return meta(`ENV ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
      }
      case 'LABEL':
        cfg.Labels = { ...cfg.Labels };
        for (const { key, value } of instr.pairs) cfg.Labels[key] = value;
        return meta(`LABEL ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
      case 'MAINTAINER':
        next.image.author = instr.name;
        return meta(`MAINTAINER ${instr.name}`);
      case 'EXPOSE':
        cfg.ExposedPorts = { ...cfg.ExposedPorts };
        for (const p of instr.ports.flatMap((port) => expandPorts(port, instr.location))) cfg.ExposedPorts[p] = {};
        return meta(`EXPOSE map[${Object.keys(cfg.ExposedPorts).join(' ')}]`);
      case 'USER':
        cfg.User = instr.user;
        return meta(`USER ${instr.user}`);
      case 'STOPSIGNAL':
        cfg.StopSignal = instr.signal;
        return meta(`STOPSIGNAL ${instr.signal}`);
      case 'VOLUME':
        cfg.Volumes = { ...cfg.Volumes };
        for (const v of instr.paths) cfg.Volumes[v] = {};
        return meta(`VOLUME [${instr.paths.join(' ')}]`);
      case 'SHELL':
        cfg.Shell = instr.argv;
        return meta(`SHELL [${instr.argv.join(' ')}]`);
      case 'CMD':
        cfg.Cmd = commandArgv(instr.command, cfg.Shell);
        next.cmdSet = true;
        return meta(`CMD ${JSON.stringify(cfg.Cmd)}`);
      case 'ENTRYPOINT':
        cfg.Entrypoint = commandArgv(instr.command, cfg.Shell);
        // docker: a new ENTRYPOINT drops the CMD inherited from the base image
        if (!state.cmdSet) cfg.Cmd = null;
        return meta(`ENTRYPOINT ${JSON.stringify(cfg.Entrypoint)}`);
      case 'HEALTHCHECK':
        cfg.Healthcheck = healthcheckConfig(instr);
        return meta(`HEALTHCHECK ${JSON.stringify(cfg.Healthcheck.Test)}`);
      case 'ONBUILD':
        cfg.OnBuild = [...(cfg.OnBuild ?? []), instr.expression];
        return meta(`ONBUILD ${instr.expression}`);
      case 'WORKDIR': {
        const dir = path.posix.resolve(cfg.WorkingDir || '/', instr.path);
        cfg.WorkingDir = dir;
        const key = stepKey(state.key, `WORKDIR ${dir}`);
        return this.layerStep(next, key, `WORKDIR ${dir}`, label, async (root) => {
          makeDirs(root, dir);
        });
      }
      case 'RUN':
        return this.runInstruction(stageName, state, next, instr, label);
      case 'COPY':
      case 'ADD':
        return this.copyInstruction(stage, state, next, instr, label);
    }
  }

  private async runInstruction(
    stageName: string,
    state: StageState,
    next: StageState,
    instr: Extract<Instruction, { kind: 'RUN' }>,
    label: (cached: boolean) => void,
  ): Promise<StageState> {
    const cfg = next.image.config;
    const argv = instr.command.form === 'exec' ? instr.command.argv : [...(cfg.Shell ?? DEFAULT_SHELL), shellScript(instr)];
    const env = envMap(cfg.Env);
    if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
    // build args reach RUN as environment variables, under the image's own ENV
    const argEnv = [...state.args].filter(([k, v]) => v !== undefined && !env.has(k)).map(([k, v]) => `${k}=${v}`).sort();
    const createdBy = `RUN ${argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ` : ''}${argv.join(' ')}`;
    const key = stepKey(state.key, createdBy, this.req.network ?? 'host');
    const fullEnv = [...envList(env), ...argEnv];
    return this.cachedOr(next, key, createdBy, label, async () => {
      const upper = this.builder.tmpDir('run');
      rmSync(upper, { recursive: true });
      try {
        await runStep({
          factory: await this.containerFactory(),
          paths: this.builder.enginePaths,
          layers: lowerDirs(state.layers, this.emptyLower()),
          argv,
          env: fullEnv,
          user: cfg.User || undefined,
          workingDir: cfg.WorkingDir || undefined,
          network: this.req.network ?? 'host',
          upperDest: upper,
          onOutput: (text) => this.event({ type: 'output', stage: stageName, text }),
          location: instr.location,
          instruction: instr.original,
        });
        return await this.layerFrom(upper);
      } finally {
        rmSync(upper, { recursive: true, force: true });
      }
    });
  }

  private async copyInstruction(
    stage: Stage,
    state: StageState,
    next: StageState,
    instr: Extract<Instruction, { kind: 'COPY' | 'ADD' }>,
    label: (cached: boolean) => void,
  ): Promise<StageState> {
    const cfg = next.image.config;
    const where = { location: instr.location, instruction: instr.original };
    const dest = absoluteDest(instr.dest, cfg.WorkingDir);
    let from: { ctx: BuildContext; id: string; release: () => void };
    const fromRef = instr.kind === 'COPY' ? instr.from : undefined;
    if (fromRef !== undefined) {
      from = await this.sourceRoot(stage, fromRef, instr.location);
    } else {
      from = { ctx: this.context, id: 'context', release: () => undefined };
    }
    const tmpDirs: string[] = [];
    const fileDir = (prefix: string) => {
      const dir = this.builder.tmpDir(prefix);
      tmpDirs.push(dir);
      return dir;
    };
    try {
      // every operand with the context it is read from: the build context (or --from root),
      // a download dir for ADD's URLs, a dir holding the heredoc files
      const inputs: { ctx: BuildContext; source: ContextSource; unpack: ArchiveKind | undefined }[] = [];
      const remote = instr.kind === 'ADD' ? instr.sources.filter(isRemoteUrl) : [];
      const local = instr.sources.filter((s) => !remote.includes(s));
      if (local.length > 0) {
        for (const source of from.ctx.sources(local, where)) {
          inputs.push({ ctx: from.ctx, source, unpack: instr.kind === 'ADD' && source.stats.isFile() ? await archiveKind(source.hostPath) : undefined });
        }
      }
      for (const url of remote) {
        const dir = fileDir('add');
        inputs.push({ ctx: new BuildContext(dir), source: await fetchToFile(url, dir, where), unpack: undefined });
      }
      if (instr.heredocs.length > 0) {
        const dir = fileDir('heredoc');
        const ctx = new BuildContext(dir);
        for (const h of instr.heredocs) inputs.push({ ctx, source: writeHeredoc(dir, h), unpack: undefined });
      }
      const mode = instr.chmod !== undefined ? parseMode(instr.chmod, instr.location) : undefined;
      const checksum = inputs.map((i) => i.ctx.checksum([i.source])).join(',');
      const createdBy = `${instr.kind} ${instr.chown ? `--chown=${instr.chown} ` : ''}${instr.chmod ? `--chmod=${instr.chmod} ` : ''}${instr.sources.join(' ')} ${dest}`;
      const key = stepKey(state.key, createdBy, from.id, checksum);
      const multiple = instr.sources.length + instr.heredocs.length > 1 || instr.sources.some((s) => /[*?[]/.test(s));
      return await this.layerStep(next, key, createdBy, label, async (root) => {
        const ids = instr.chown ? resolveUser(root, { user: instr.chown, service: 'build' }) : { uid: 0, gid: 0 };
        const sources: CopySource[] = [];
        for (const { ctx, source, unpack } of inputs) {
          const name = path.posix.basename(source.rel);
          if (unpack) {
            const unpacked = path.join(fileDir('unpack'), 'x');
            await (await import('../layers/index.js')).extractLayer(tarStream(source.hostPath, unpack), unpacked);
            const tree: ContextSource = { rel: '', hostPath: unpacked, stats: lstatSync(unpacked) };
            sources.push({ entries: new BuildContext(unpacked).walk(tree), name, isDir: true });
          } else {
            sources.push({ entries: ctx.walk(source), name, isDir: source.stats.isDirectory() });
          }
        }
        copyIntoRoot({ root, sources, dest, multiple, owner: { uid: ids.uid, gid: ids.gid }, mode, location: instr.location, instruction: instr.original });
      });
    } finally {
      from.release();
      for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
    }
  }

  /** The root COPY --from reads: an earlier stage (by name or index) or an image from the store. */
  private async sourceRoot(stage: Stage, ref: string, location: Location): Promise<{ ctx: BuildContext; id: string; release: () => void }> {
    const other = this.stageByRef(ref, stage.index);
    let layers: LayerRecord[];
    let id: string;
    if (other) {
      const st = await this.stage(other);
      layers = st.layers;
      id = st.key;
    } else {
      const img = await this.resolveImage(ref, location);
      layers = img.layers;
      id = img.id;
    }
    const { root, release } = this.readOnlyView(layers);
    return { ctx: new BuildContext(root), id, release };
  }

  /** A read-only merged view of layers (overlay needs two lower dirs when there is no upper). */
  private readOnlyView(layers: LayerRecord[]): { root: string; release: () => void } {
    if (layers.length === 0) return { root: this.emptyLower(), release: () => undefined };
    if (layers.length === 1) return { root: layers[0]!.dir, release: () => undefined };
    const target = this.builder.tmpDir('view');
    mountOverlay({ lower: lowerDirs(layers, ''), target });
    return {
      root: target,
      release: () => {
        unmount(target);
        rmSync(target, { recursive: true, force: true });
      },
    };
  }

  /** A step that writes into the image: a fresh upper dir over the stage's layers, then a layer. */
  private async layerStep(next: StageState, key: string, createdBy: string, label: (cached: boolean) => void, write: (root: string) => Promise<void>): Promise<StageState> {
    return this.cachedOr(next, key, createdBy, label, async () => {
      const dir = this.builder.tmpDir('step');
      const upper = path.join(dir, 'upper');
      const work = path.join(dir, 'work');
      const merged = path.join(dir, 'merged');
      for (const d of [upper, work, merged]) mkdirSync(d);
      try {
        mountOverlay({ lower: lowerDirs(next.layers, this.emptyLower()), upper, work, target: merged });
        try {
          await write(merged);
        } finally {
          unmount(merged);
        }
        return await this.layerFrom(upper);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  /** Cache lookup, else `make` (which returns the new layer, or undefined when nothing changed). */
  private async cachedOr(
    next: StageState,
    key: string,
    createdBy: string,
    label: (cached: boolean) => void,
    make: () => Promise<LayerRecord | undefined>,
  ): Promise<StageState> {
    next.key = key;
    if (!this.req.noCache) {
      const hit = this.cache.get(key);
      const layers = hit?.layers.map((d) => this.builder.store.layer(d));
      if (hit && layers && layers.every((l) => l !== undefined)) {
        label(true);
        this.cachedSteps++;
        return { ...next, layers: layers as LayerRecord[], image: hit.image };
      }
    }
    label(false);
    const layer = await make();
    next.layers = layer ? [...next.layers, layer] : next.layers;
    next.image.rootfs = { type: 'layers', diff_ids: next.layers.map((l) => l.diffId) };
    next.image.history = [...(next.image.history ?? []), { created: new Date().toISOString(), created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }];
    this.cache.put(key, { layers: next.layers.map((l) => l.diffId), image: next.image });
    return next;
  }

  private get cache(): BuildCache {
    return this.builder.cache;
  }

  /** A layer from an upper dir; an empty one (nothing changed) makes no layer, as BuildKit. */
  private async layerFrom(upper: string): Promise<LayerRecord | undefined> {
    if (!existsSync(upper) || readdirSync(upper).length === 0) return undefined;
    return this.builder.store.addLayerFromDir(upper);
  }

  private emptyLower(): string {
    this.emptyDir ??= this.builder.tmpDir('empty');
    return this.emptyDir;
  }

  private async fromState(stage: Stage): Promise<StageState> {
    const ref = this.fromRef(stage);
    const args = new Map<string, string | undefined>();
    if (ref.toLowerCase() === 'scratch') {
      return { key: stepKey('scratch'), layers: [], image: emptyImage(), args, cmdSet: false };
    }
    const other = this.stageByRef(ref, stage.index);
    if (other) {
      const st = await this.stage(other);
      // BuildKit: a stage built FROM an earlier stage inherits the ARGs in scope there
      return { key: st.key, layers: st.layers, image: cloneImage(st.image), args: new Map(st.args), cmdSet: false };
    }
    const img = await this.resolveImage(ref, stage.from.location);
    return { key: stepKey(img.id), layers: img.layers, image: cloneImage(img.config), args, cmdSet: false };
  }

  /** A base image from the store, pulled when missing (as docker build does); one pull per image per build. */
  private resolveImage(ref: string, location: Location): Promise<StoredImage> {
    const found = this.builder.store.find(ref);
    if (found) return Promise.resolve(found);
    let p = this.pulls.get(ref);
    if (!p) {
      p = this.pull(ref, location);
      this.pulls.set(ref, p);
    }
    return p;
  }

  private async pull(ref: string, location: Location): Promise<StoredImage> {
    this.req.onEvent?.({ type: 'output', stage: '', text: `pulling ${ref}: it is not in the local image store` });
    const { Registries, pullImage } = await import('../../registry/index.js');
    const registries = new Registries();
    try {
      return (await pullImage(this.builder.store, registries, this.builder.enginePaths, ref)).image;
    } catch (e) {
      if (!(e instanceof StackError)) throw e;
      throw new StackError(`image ${ref} is not in the local image store, and pulling it failed: ${e.message}`, {
        kind: e.kind,
        location,
        hint: `make it available (stack image pull ${ref}, stack image import ROOTFS.tar ${ref}, or stack image load)`,
        cause: e,
      });
    } finally {
      await registries.close();
    }
  }

  /** A stage named by `FROM x` / `--from=x`: by name, or by index for --from. */
  private stageByRef(ref: string, before: number): Stage | undefined {
    const lower = ref.toLowerCase();
    const byName = this.df.stages.find((s) => s.name === lower && s.index < before);
    if (byName) return byName;
    if (/^\d+$/.test(ref)) {
      const s = this.df.stages[Number(ref)];
      if (s && s.index < before) return s;
    }
    return undefined;
  }

  private dependencies(stage: Stage): Stage[] {
    const out: Stage[] = [];
    const add = (ref: string) => {
      const s = this.stageByRef(ref, stage.index);
      if (s && !out.includes(s)) out.push(s);
    };
    add(this.fromRef(stage));
    for (const i of stage.instructions) if (i.kind === 'COPY' && i.from !== undefined && !i.from.includes('$')) add(i.from);
    return out;
  }

  private containerFactory(): Promise<ContainerFactory> {
    this.factory ??= (async () => {
      const [{ ContainerFactory }, { createCgroupManager }] = await Promise.all([
        import('../../runtime/container-factory.js'),
        import('../../cgroups/cgroup-manager.js'),
      ]);
      return new ContainerFactory(this.builder.enginePaths, createCgroupManager());
    })();
    return this.factory;
  }

  /** FROM's image, expanded with the global ARGs only (docker's scoping) */
  private fromRef(stage: Stage): string {
    return expandWord(stage.from.image, (n) => this.globalArgs.get(n), this.df.escape);
  }

  private event(e: BuildEvent): void {
    this.req.onEvent?.(e);
  }
}

function readDockerfile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new StackError(`no Dockerfile at ${file}`, { kind: 'not-found', hint: 'create it, or name another with -f / build.dockerfile' });
  }
}

function lookupVar(state: StageState, name: string): string | undefined {
  const env = envMap(state.image.config.Env);
  return env.get(name) ?? state.args.get(name);
}

function commandArgv(c: { form: 'shell'; text: string } | { form: 'exec'; argv: string[] }, shell: string[] | null | undefined): string[] {
  return c.form === 'exec' ? c.argv : [...(shell ?? DEFAULT_SHELL), c.text];
}

/** A RUN in shell form, with its heredocs appended the way a shell reads them. */
function shellScript(instr: Extract<Instruction, { kind: 'RUN' }>): string {
  if (instr.command.form !== 'shell') return '';
  const heredocs = instr.heredocs ?? [];
  if (heredocs.length === 0) return instr.command.text;
  // `RUN <<EOF` alone: the heredoc is the script
  if (/^\s*<<-?["']?[A-Za-z_][A-Za-z0-9_]*["']?\s*$/.test(instr.command.text) && heredocs.length === 1) return heredocs[0]!.content;
  return [instr.command.text, ...heredocs.flatMap((h) => [h.content.replace(/\n$/, ''), h.name])].join('\n');
}

function healthcheckConfig(h: Extract<Instruction, { kind: 'HEALTHCHECK' }>): NonNullable<ImageConfig['Healthcheck']> {
  if (h.none) return { Test: ['NONE'] };
  const test = h.command.form === 'exec' ? ['CMD', ...h.command.argv] : ['CMD-SHELL', h.command.text];
  const ns = (ms: number) => ms * 1_000_000;
  return {
    Test: test,
    ...(h.interval && { Interval: ns(h.interval) }),
    ...(h.timeout && { Timeout: ns(h.timeout) }),
    ...(h.startPeriod && { StartPeriod: ns(h.startPeriod) }),
    ...(h.startInterval && { StartInterval: ns(h.startInterval) }),
    ...(h.retries && { Retries: h.retries }),
  };
}

/** `80`, `80/udp`, `8000-8002/tcp` -> `80/tcp`, ... */
function expandPorts(spec: string, location: Location): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(spec);
  if (!m) throw new StackError(`EXPOSE: invalid port "${spec}"`, { location, hint: 'write PORT, PORT/tcp, PORT/udp or a range like 8000-8010' });
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (hi < lo || hi > 65535) throw new StackError(`EXPOSE: invalid port range "${spec}"`, { location });
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  return out;
}

function parseMode(s: string, location: Location): number {
  if (!/^[0-7]{3,4}$/.test(s)) throw new StackError(`--chmod=${s}: expected an octal mode such as 0755`, { location });
  return Number.parseInt(s, 8);
}

function absoluteDest(dest: string, workdir: string | undefined): string {
  const abs = dest.startsWith('/') ? dest : path.posix.join(workdir || '/', dest);
  // keep the trailing slash: it says "directory"
  return dest.endsWith('/') && !abs.endsWith('/') ? `${abs}/` : abs;
}

function writeHeredoc(dir: string, h: { name: string; content: string }): ContextSource {
  const rel = cleanRel(h.name) || 'heredoc';
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, h.content);
  // heredoc files are 0644 whatever the umask, as BuildKit writes them
  chmodSync(file, 0o644);
  return { rel, hostPath: file, stats: lstatSync(file) };
}

function makeDirs(root: string, dir: string): void {
  // WORKDIR creates the directory (root-owned, 0755) when the image lacks it
  makeDirsInRoot(root, dir, { uid: 0, gid: 0, mode: 0o755 });
}

function lowerDirs(layers: readonly LayerRecord[], empty: string): string[] {
  const dirs = layers.map((l) => l.dir).reverse();
  return dirs.length > 0 ? dirs : [empty];
}

function emptyImage(): ImageConfigFile {
  return {
    architecture: hostArch(),
    os: 'linux',
    config: { Env: [`PATH=${DEFAULT_PATH}`] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

function cloneImage(img: ImageConfigFile): ImageConfigFile {
  return structuredClone(img);
}

function finalConfig(img: ImageConfigFile, labels: Record<string, string> | undefined): ImageConfigFile {
  const out = cloneImage(img);
  if (labels && Object.keys(labels).length > 0) out.config.Labels = { ...out.config.Labels, ...labels };
  out.created = out.history?.at(-1)?.created ?? new Date().toISOString();
  return out;
}

/** ONBUILD triggers of a base image, parsed as the instructions they are. */
function parseTriggers(triggers: readonly string[], location: Location): Instruction[] {
  const df = parseDockerfile(`FROM scratch\n${triggers.join('\n')}\n`, `ONBUILD triggers (${location.file}:${location.line})`);
  return df.stages[0]!.instructions;
}
