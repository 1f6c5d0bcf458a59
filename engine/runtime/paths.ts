/**
 * Where the engine keeps things. Durable state (container records, bundles, overlay upper
 * dirs, logs) under STACK_ROOT (/var/lib/stack); what must vanish with a reboot (the OCI
 * runtime's state, conmon's pid and exit files, sockets) under STACK_RUN (/run/stack).
 */
import path from 'node:path';

export interface EnginePaths {
  stateDir: string;
  runDir: string;
}

export function enginePaths(env: Readonly<Record<string, string | undefined>> = process.env): EnginePaths {
  return { stateDir: env.STACK_ROOT ?? '/var/lib/stack', runDir: env.STACK_RUN ?? '/run/stack' };
}

export interface ContainerDirs {
  /** durable: container.json, bundle/, rootfs mount point, upper/, work/, ctr.log */
  state: string;
  bundle: string;
  rootfs: string;
  upper: string;
  work: string;
  log: string;
  /** conmon's persist dir: pidfile, conmon.pid, exit, oom */
  run: string;
}

export function containerDirs(p: EnginePaths, id: string): ContainerDirs {
  const state = path.join(p.stateDir, 'containers', id);
  return {
    state,
    bundle: path.join(state, 'bundle'),
    rootfs: path.join(state, 'rootfs'),
    upper: path.join(state, 'upper'),
    work: path.join(state, 'work'),
    log: path.join(state, 'ctr.log'),
    run: path.join(p.runDir, 'containers', id),
  };
}

export function runtimeRoot(p: EnginePaths, runtime: string): string {
  return path.join(p.runDir, 'runtime', runtime);
}

export function socketDir(p: EnginePaths): string {
  return path.join(p.runDir, 'sockets');
}
