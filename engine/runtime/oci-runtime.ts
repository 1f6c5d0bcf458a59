/**
 * The OCI runtime binary (crun or runc). Always called with an explicit `--root`: crun
 * otherwise keeps its state under $XDG_RUNTIME_DIR/crun whenever that variable is set,
 * even for root, and a later `stack` process with another environment would not find it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';
import type { CgroupLayout } from '../cgroups/detect.js';
import { run } from '../sys/process.js';

export type RuntimeName = 'crun' | 'runc';

export interface RuntimeState {
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid: number;
  bundle: string;
}

export class OciRuntime {
  constructor(
    readonly name: RuntimeName,
    readonly binary: string,
    /** the runtime's state directory (`--root`) */
    readonly root: string,
  ) {}

  /** Global arguments, before the subcommand (also handed to conmon as --runtime-arg). */
  globalArgs(): string[] {
    return [`--root=${this.root}`];
  }

  async start(id: string): Promise<void> {
    await run(this.binary, [...this.globalArgs(), 'start', id]);
  }

  async kill(id: string, signal: string): Promise<void> {
    await run(this.binary, [...this.globalArgs(), 'kill', id, signal]);
  }

  async delete(id: string, force = false): Promise<void> {
    await run(this.binary, [...this.globalArgs(), 'delete', ...(force ? ['--force'] : []), id]);
  }

  /** The runtime's view of a container, or undefined when it does not know it. */
  async state(id: string): Promise<RuntimeState | undefined> {
    if (!existsSync(path.join(this.root, id))) return undefined;
    try {
      const r = await run(this.binary, [...this.globalArgs(), 'state', id]);
      return JSON.parse(r.stdout) as RuntimeState;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<string[]> {
    if (!existsSync(this.root)) return [];
    const r = await run(this.binary, [...this.globalArgs(), 'list', '-q']);
    return r.stdout.split('\n').filter(Boolean);
  }
}

export interface RuntimeChoice {
  name: RuntimeName;
  binary: string;
  /** why the default was not taken, for a one-line notice */
  notice?: string;
}

/**
 * The runtime to use: the one asked for (flag, STACK_RUNTIME, service `runtime:`), else crun
 * where it can run, else runc. crun 1.8 refuses hybrid cgroup hosts whose cgroup2 mount
 * holds a controller; there runc is the default.
 */
export function chooseRuntime(
  requested: string | undefined,
  layout: CgroupLayout,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RuntimeChoice {
  const ask = requested ?? env.STACK_RUNTIME;
  if (ask) {
    if (ask !== 'crun' && ask !== 'runc') {
      throw new StackError(`unknown runtime "${ask}"`, { kind: 'unsupported', hint: 'use crun or runc' });
    }
    return { name: ask, binary: findBinary(ask) };
  }
  const blocker = crunBlocker(layout);
  const crun = blocker ? undefined : lookPath('crun');
  if (crun) return { name: 'crun', binary: crun };
  return { name: 'runc', binary: findBinary('runc'), notice: blocker ? `using runc: ${blocker}` : 'using runc: crun is not installed' };
}

/** Why crun cannot run on this host, if it cannot. */
export function crunBlocker(layout: CgroupLayout): string | undefined {
  if (layout.mode !== 'hybrid' || layout.unifiedControllers.length === 0) return undefined;
  return `crun does not support hybrid cgroup hosts whose cgroup2 mount (${layout.unifiedMount}) holds controllers (${layout.unifiedControllers.join(' ')})`;
}

function lookPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function findBinary(name: string): string {
  const found = lookPath(name);
  if (found) return found;
  throw new StackError(`the OCI runtime ${name} is not installed`, { kind: 'not-found', hint: `install it: apt-get install ${name}` });
}
