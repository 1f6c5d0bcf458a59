/**
 * A RUN step: a real container (the runtime's ContainerFactory: overlay rootfs over the
 * stage's layers, docker's capabilities, seccomp, masked paths, a cgroup) whose overlay
 * upper dir becomes the step's layer. What the runtime itself put into the upper dir — mount
 * points for /etc/hosts, /proc and the like that the image did not have — is taken out
 * again, so a layer holds only what the command changed (BuildKit removes these "mount
 * stubs" the same way).
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StackError, type Location } from '../../errors.js';
import { emptyService, type Project, type Service } from '../../model/types.js';
import type { ContainerFactory } from '../../runtime/container-factory.js';
import type { OciSpec } from '../../runtime/oci-spec.js';
import { followLog } from '../../runtime/log-follow.js';
import { containerDirs, type EnginePaths } from '../../runtime/paths.js';
import type { ImageConfig } from '../../runtime/spec/image-config.js';

export interface RunStepRequest {
  factory: ContainerFactory;
  paths: EnginePaths;
  /** extracted layer dirs of the stage so far, topmost first */
  layers: string[];
  argv: string[];
  env: string[];
  user?: string | undefined;
  workingDir?: string | undefined;
  network: 'host' | 'none';
  /** where the step's changes (the upper dir) are moved to */
  upperDest: string;
  onOutput?: ((line: string) => void) | undefined;
  location: Location;
  instruction: string;
}

/** The build's own project: its cgroup parent and container names keep builds apart from stacks. */
export const BUILD_PROJECT: Project = {
  name: 'stack-build',
  working_dir: '/',
  config_files: [],
  services: {},
  networks: {},
  volumes: {},
  secrets: {},
  configs: {},
  extensions: {},
  disabled_services: [],
  environment: {},
};

export async function runStep(req: RunStepRequest): Promise<void> {
  const name = `stack-build-${randomBytes(6).toString('hex')}`;
  const service: Service = {
    ...emptyService('build'),
    container_name: name,
    entrypoint: req.argv,
    command: null,
    network_mode: req.network,
    ...(req.user !== undefined && { user: req.user }),
    ...(req.workingDir !== undefined && { working_dir: req.workingDir }),
  };
  // The image's VOLUMEs are not mounted during a build, and its Env is given whole here.
  const config: ImageConfig = { Env: req.env };
  const { containers } = req.factory;
  let created = false;
  try {
    await req.factory.create({ project: BUILD_PROJECT, service, image: { layers: req.layers, config }, number: 1, network: { kind: req.network } });
    created = true;
    const spec = JSON.parse(readFileSync(path.join(containerDirs(req.paths, name).bundle, 'config.json'), 'utf8')) as OciSpec;
    // the command's output is shown as it runs: a long step is not a silent one
    const lines: string[] = [];
    const done = new AbortController();
    const following = followLog(containerDirs(req.paths, name).log, (l) => {
      lines.push(l.text);
      req.onOutput?.(l.text);
    }, { signal: done.signal, pollMs: 100 });
    await containers.start(name);
    const status = await containers.wait(name);
    done.abort();
    await following;
    if (!status || status.code !== 0) {
      const tail = lines.slice(-5).join('\n  ');
      throw new StackError(`${req.instruction}: the command exited with code ${status?.code ?? 'unknown'}${status?.oomKilled ? ' (killed: out of memory)' : ''}`, {
        location: req.location,
        hint: tail ? `its last output:\n  ${tail}` : 'it printed nothing; run the command in a container to see why',
      });
    }
    await containers.takeUpper(name, req.upperDest);
    removeMountStubs(req.upperDest, req.layers, spec.mounts.map((m) => m.destination));
  } finally {
    if (created) await containers.remove(name, { force: true });
    try {
      req.factory.cgroups.removeContainer(BUILD_PROJECT.name, name);
    } catch {
      // the runtime's delete normally removed it already
    }
  }
}

/**
 * Removes from `upper` each mount point the runtime created: an empty file or directory at a
 * mount destination that no lower layer has, then the directories that were copied up only
 * to hold it (empty, and present in a lower layer).
 */
export function removeMountStubs(upper: string, lowers: readonly string[], destinations: readonly string[]): void {
  const inLower = (rel: string) => lowers.some((l) => lstatOrUndefined(path.join(l, rel)) !== undefined);
  for (const dest of [...destinations].sort((a, b) => b.length - a.length)) {
    const rel = dest.replace(/^\/+/, '');
    if (rel === '' || inLower(rel)) continue;
    const p = path.join(upper, rel);
    const st = lstatOrUndefined(p);
    if (!st) continue;
    if (st.isFile() && st.size === 0) rmSync(p);
    else if (st.isDirectory() && readdirSync(p).length === 0) rmdirSync(p);
    else continue;
    let dir = path.dirname(rel);
    while (dir !== '.' && dir !== '/') {
      const dp = path.join(upper, dir);
      if (!inLower(dir) || readdirSync(dp).length > 0) break;
      rmdirSync(dp);
      dir = path.dirname(dir);
    }
  }
}

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
