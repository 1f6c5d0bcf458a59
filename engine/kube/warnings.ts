/**
 * What `kube generate` could not carry over faithfully. A warning names the stack file node
 * (`services.web.network_mode`, with file:line:col when the loader knows it) and says what
 * happens instead. Lossy ones (something of the stack file dropped or changed in meaning)
 * become errors with `--strict`; advice (a built image the cluster must be able to pull, a
 * loopback port left inside the cluster) is only printed.
 */
import { StackError, StackErrors, formatLocation, type Location } from '../errors.js';
import { locateInProject } from '../load/loader.js';
import type { Project } from '../model/types.js';

export interface KubeWarning {
  /** dotted path of the stack file node, e.g. services.web.network_mode */
  path: string;
  message: string;
  /** something is dropped or behaves differently on Kubernetes */
  lossy: boolean;
  location?: Location;
}

export class WarningList {
  readonly items: KubeWarning[] = [];

  constructor(private readonly project: Project) {}

  /** Something of the stack file has no faithful Kubernetes equivalent. */
  lossy(path: string, message: string): void {
    this.add(path, message, true);
  }

  /** Something the user should know or do; the mapping itself is faithful. */
  advise(path: string, message: string): void {
    this.add(path, message, false);
  }

  private add(path: string, message: string, lossy: boolean): void {
    if (this.items.some((w) => w.path === path && w.message === message)) return;
    const location = locateInProject(this.project, path);
    this.items.push({ path, message, lossy, ...(location && { location }) });
  }
}

export function formatWarning(w: KubeWarning): string {
  return `${w.location ? `${formatLocation(w.location)}: ` : ''}${w.path}: ${w.message}`;
}

/** `--strict`: every lossy warning as an error, all reported together. */
export function throwIfLossy(warnings: readonly KubeWarning[]): void {
  const lossy = warnings.filter((w) => w.lossy);
  const hint = lossy.length === 1 ? 'drop --strict to generate anyway, without what the warning names' : undefined;
  const errors = lossy.map((w) => new StackError(`${w.path}: ${w.message}`, { kind: 'unsupported', location: w.location, path: w.path, hint }));
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new StackErrors(errors);
}
