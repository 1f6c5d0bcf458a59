/**
 * A test bed for container lifecycle tests inside one `describe`: a temp state/run dir, a
 * busybox lower dir, a Containers instance, and `create` for containers running a minimal
 * spec; everything made is removed after the suite, cgroup parent included.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { Containers, type CreateRequest } from '../../engine/runtime/containers.js';
import { containerDirs, socketDir, type EnginePaths } from '../../engine/runtime/paths.js';
import { makeBusyboxRootfs } from './busybox-rootfs.js';
import { minimalSpec } from './minimal-spec.js';

export interface ContainerBed {
  readonly paths: EnginePaths;
  readonly lower: string;
  readonly containers: Containers;
  create(args: string[], extra?: Partial<CreateRequest>): Promise<string>;
  /** removes a container made some other way after the suite too */
  track(id: string): void;
  /** what a removed container left behind: mounts, dirs, runtime state, conmon, cgroups */
  leftovers(id: string): string[];
}

export function containerBed(
  runtime: { name: 'crun' | 'runc'; binary: string },
  opts: { prefix: string; cgroupRoot: string; stateDir?: (base: string) => string },
): ContainerBed {
  let base = '';
  let paths: EnginePaths | undefined;
  let lower = '';
  let containers: Containers | undefined;
  let n = 0;
  const made: string[] = [];
  before(() => {
    base = mkdtempSync(path.join(tmpdir(), `${opts.prefix}-${runtime.name}-`));
    paths = { stateDir: opts.stateDir?.(base) ?? path.join(base, 'state'), runDir: path.join(base, 'run') };
    lower = makeBusyboxRootfs(path.join(base, 'image'));
    containers = new Containers(paths);
  });
  after(async () => {
    for (const id of made) await containers!.remove(id, { force: true }).catch(() => undefined);
    for (const c of readdirSync('/sys/fs/cgroup')) {
      const dir = path.join('/sys/fs/cgroup', c, opts.cgroupRoot);
      if (existsSync(dir)) rmdirSync(dir);
    }
    rmSync(base, { recursive: true, force: true });
  });
  return {
    get paths() {
      return paths!;
    },
    get lower() {
      return lower;
    },
    get containers() {
      return containers!;
    },
    leftovers(id) {
      const out: string[] = [];
      const dirs = containerDirs(paths!, id);
      if (readFileSync('/proc/self/mountinfo', 'utf8').includes(dirs.rootfs)) out.push('rootfs mount');
      if (existsSync(dirs.state)) out.push('state dir');
      if (existsSync(dirs.run)) out.push('run dir');
      if (isLink(path.join(socketDir(paths!), id))) out.push('socket dir link');
      for (const rt of ['runc', 'crun']) if (existsSync(path.join(paths!.runDir, 'runtime', rt, id))) out.push(`${rt} state`);
      if (spawnSync('pgrep', ['-f', `conmon .*-c ${id} `]).status === 0) out.push('conmon process');
      for (const c of readdirSync('/sys/fs/cgroup')) if (existsSync(path.join('/sys/fs/cgroup', c, opts.cgroupRoot, id))) out.push(`cgroup ${c}`);
      return out;
    },
    track(id) {
      made.push(id);
    },
    async create(args, extra = {}) {
      const id = `t${process.pid}-${runtime.name}-${++n}`;
      made.push(id);
      await containers!.create({
        id,
        name: id,
        spec: minimalSpec(args, { cgroupsPath: `${opts.cgroupRoot}/${id}` }),
        rootfs: { kind: 'overlay', lower: [lower] },
        runtime,
        ...extra,
      });
      return id;
    },
  };
}

/** a dangling link too (existsSync follows it) */
function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
