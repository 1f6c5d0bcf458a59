/**
 * Rules the schema cannot express: references between services, networks, volumes,
 * secrets and configs, and attributes that exclude each other. All problems are collected
 * so the user sees every one in a single run.
 */
import { ErrorList, StackError } from '../errors.js';
import { isMap } from '../load/plain.js';
import { locate, type PathSegment } from '../load/source-map.js';
import { didYouMean } from './suggest.js';
import type { Project } from '../model/types.js';

export interface RuleContext {
  /** the merged data tree, for positions */
  root: unknown;
  /** services removed by profiles, with their profiles */
  disabled: Map<string, string[]>;
  errors: ErrorList;
  warnings: string[];
}

export function checkReferences(project: Project, ctx: RuleContext): void {
  const services = Object.keys(project.services);
  const fail = (path: PathSegment[], message: string, hint?: string, key = false) => {
    ctx.errors.add(new StackError(message, { location: locate(ctx.root, path, { key }), path: path.join('.'), hint }));
  };
  const serviceHint = (name: string) => {
    const profiles = ctx.disabled.get(name);
    if (profiles) return `"${name}" is only enabled with a profile: add --profile ${profiles[0]}`;
    return didYouMean(name, services) ?? `define a service named "${name}"`;
  };
  const containerNames = new Map<string, string>();

  for (const [name, s] of Object.entries(project.services)) {
    const at = (...p: PathSegment[]) => ['services', name, ...p];
    if (!s.image && !s.build && !s.extra.provider) {
      fail(at(), `service "${name}" has neither an image nor a build context`, 'add `image: <name>` or `build: <dir>`', true);
    }
    for (const [dep, d] of Object.entries(s.depends_on)) {
      if (project.services[dep]) continue;
      if (!d.required) {
        delete s.depends_on[dep];
        continue;
      }
      const why = ctx.disabled.has(dep) ? 'which is not enabled by the active profiles' : 'which is not defined';
      fail(at('depends_on', dep), `service "${name}" depends on "${dep}", ${why}`, serviceHint(dep), true);
    }
    (s.links ?? []).forEach((link, i) => {
      const target = link.split(':')[0]!;
      if (!project.services[target]) fail(at('links', i), `service "${name}" links to undefined service "${target}"`, serviceHint(target));
    });
    if (s.network_mode?.startsWith('service:')) {
      const target = s.network_mode.slice('service:'.length);
      if (!project.services[target]) {
        fail(at('network_mode'), `service "${name}" uses the network of undefined service "${target}"`, serviceHint(target));
      }
    }
    (s.volumes_from ?? []).forEach((vf, i) => {
      if (vf.startsWith('container:')) return;
      const target = vf.split(':')[0]!;
      if (!project.services[target]) fail(at('volumes_from', i), `service "${name}" takes volumes from undefined service "${target}"`, serviceHint(target));
    });
    for (const net of Object.keys(s.networks ?? {})) {
      if (!project.networks[net]) {
        fail(at('networks', net), `service "${name}" uses network "${net}", which is not defined`, didYouMean(net, Object.keys(project.networks)) ?? `declare it under the top-level \`networks:\``, true);
      }
    }
    const raw = isMap(ctx.root) && isMap(ctx.root.services) ? ctx.root.services[name] : undefined;
    if (s.network_mode !== undefined && isMap(raw) && raw.networks !== undefined) {
      fail(at('network_mode'), `service "${name}" sets both network_mode and networks`, 'use one of them');
    }
    s.volumes.forEach((v, i) => {
      if (v.type === 'volume' && v.source && !project.volumes[v.source]) {
        fail(at('volumes', i), `service "${name}" mounts volume "${v.source}", which is not declared`, didYouMean(v.source, Object.keys(project.volumes)) ?? `declare it under the top-level \`volumes:\`, or write a path (./${v.source}) for a bind mount`);
      }
    });
    for (const kind of ['secrets', 'configs'] as const) {
      (s[kind] ?? []).forEach((ref, i) => {
        if (!project[kind][ref.source]) {
          fail(at(kind, i), `service "${name}" uses ${kind.slice(0, -1)} "${ref.source}", which is not declared`, didYouMean(ref.source, Object.keys(project[kind])) ?? `declare it under the top-level \`${kind}:\``);
        }
      });
    }
    if (s.container_name) {
      const other = containerNames.get(s.container_name);
      if (other) fail(at('container_name'), `services "${other}" and "${name}" both use container_name "${s.container_name}"`, 'container names must be unique');
      containerNames.set(s.container_name, name);
      const replicas = s.deploy?.replicas ?? s.scale ?? 1;
      if (replicas > 1) fail(at('container_name'), `service "${name}" sets container_name and runs ${replicas} replicas`, 'remove container_name so replicas get their own names');
    }
  }
}
