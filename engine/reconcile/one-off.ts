/**
 * A one-off container of a service (`stack run`), as compose makes one: the service with
 * the command line's overrides, a name of its own, `oneoff` labels, no restart policy, and
 * no published port unless asked for. Pure but for the random slug.
 */
import { randomBytes } from 'node:crypto';
import type { Port, Project, Service } from '../model/types.js';
import type { OneOff } from '../runtime/container-factory.js';

export interface OneOffOptions {
  /** replaces the service's command; empty keeps it */
  command?: string[];
  /** replaces the entrypoint; without a command, the service's command goes too */
  entrypoint?: string[];
  /** over the service's; a variable without a value takes the project environment's, if it has one */
  environment?: Record<string, string | undefined>;
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  capAdd?: string[];
  capDrop?: string[];
  /** the service's own `ports`, or these (none by default) */
  ports: Port[] | 'service';
  /** the container has a stdin */
  interactive: boolean;
  /** a pseudo-terminal (compose's default when ours is one; -T turns it off) */
  tty?: boolean;
}

export const ONEOFF_LABEL = 'com.docker.compose.oneoff';
export const SLUG_LABEL = 'com.docker.compose.slug';

/** compose's one-off identity: 64 hex digits, the first 12 in the default name */
export function newSlug(): string {
  return randomBytes(32).toString('hex');
}

/** `<project>-<service>-run-<12 hex>` */
export function oneOffName(project: string, service: string, slug: string): string {
  return `${project}-${service}-run-${slug.slice(0, 12)}`;
}

export function oneOffService(project: Project, service: Service, o: OneOffOptions): Service {
  const out: Service = { ...service, tty: o.tty === true, stdin_open: o.interactive };
  delete out.restart;
  delete out.container_name;
  if (service.deploy?.restart_policy) {
    out.deploy = { ...service.deploy };
    delete out.deploy.restart_policy;
  }
  if (o.command && o.command.length > 0) out.command = o.command;
  if (o.entrypoint) {
    out.entrypoint = o.entrypoint;
    if (!o.command || o.command.length === 0) out.command = [];
  }
  if (o.user) out.user = o.user;
  if (o.workingDir) out.working_dir = o.workingDir;
  if (o.environment) {
    const env = { ...service.environment };
    for (const [key, value] of Object.entries(o.environment)) {
      const resolved = value ?? project.environment[key];
      if (resolved !== undefined) env[key] = resolved;
    }
    out.environment = env;
  }
  if (o.labels) out.labels = { ...service.labels, ...o.labels };
  // as compose: an added capability leaves the drop list, a dropped one the add list
  if (o.capAdd?.length) {
    out.cap_add = [...(out.cap_add ?? []), ...o.capAdd];
    out.cap_drop = out.cap_drop?.filter((c) => !o.capAdd!.includes(c));
  }
  if (o.capDrop?.length) {
    out.cap_drop = [...(out.cap_drop ?? []), ...o.capDrop];
    out.cap_add = out.cap_add?.filter((c) => !o.capDrop!.includes(c));
  }
  if (o.ports !== 'service') out.ports = o.ports;
  return out;
}

/** What makes the container one-off for the factory: its name and labels. */
export function oneOff(name: string, slug: string, opts: Pick<OneOff, 'stdin' | 'useAliases'> = {}): OneOff {
  return { name, labels: { [SLUG_LABEL]: slug, [ONEOFF_LABEL]: 'True' }, ...opts };
}
