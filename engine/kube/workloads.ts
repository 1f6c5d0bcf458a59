/**
 * The controller that runs a service's pods. A long-running service is a Deployment with
 * `scale` / `deploy.replicas` replicas; `deploy.mode: global` (one per node) a DaemonSet;
 * a StatefulSet when `x-stack: {kube: {workload: statefulset}}` or `--statefulsets` asks and
 * the service alone uses a named volume (each replica then gets a claim of its own); a
 * service that runs once a Job. A Deployment whose pods mount a claim is replaced pod by
 * pod stopping first, as `up` re-creates a container: a second pod on the same data would
 * be two databases on one directory, and a ReadWriteOnce claim cannot follow it to another node.
 */
import { StackError } from '../errors.js';
import { locateInProject } from '../load/loader.js';
import { isMap } from '../load/plain.js';
import type { Service, StringMap } from '../model/types.js';
import type { KubeContext } from './context.js';
import type { ServiceRoles } from './dependencies.js';
import { projectLabels, serviceSelector, sortMetadata } from './labels.js';
import { kubeName } from './names.js';
import type { DeploymentObject, PodTemplateSpec } from './objects.js';
import { podTemplate } from './pod.js';
import { claimSpec } from './volumes.js';

type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job';

export interface WorkloadInput {
  roles: ServiceRoles;
  /** services with a Service of their own name (a StatefulSet's governing Service) */
  withService: ReadonlySet<string>;
  /** named volumes each service alone uses */
  ownVolumes: ReadonlyMap<string, readonly string[]>;
  /** per service: labels for the networks its pods are on */
  networkLabels: ReadonlyMap<string, StringMap>;
}

function workloadKind(ctx: KubeContext, service: Service, input: WorkloadInput): WorkloadKind {
  if (input.roles.jobs.has(service.name)) return 'Job';
  if (service.deploy?.mode === 'global') return 'DaemonSet';
  const asked = requestedWorkload(ctx, service);
  if (asked === 'statefulset') return 'StatefulSet';
  if (asked === undefined && ctx.options.statefulSets && (input.ownVolumes.get(service.name) ?? []).length > 0) return 'StatefulSet';
  return 'Deployment';
}

/** `x-stack: {kube: {workload: deployment | statefulset}}` */
function requestedWorkload(ctx: KubeContext, service: Service): 'deployment' | 'statefulset' | undefined {
  const ext = service.extensions['x-stack'];
  const kube = isMap(ext) ? ext.kube : undefined;
  const workload = isMap(kube) ? kube.workload : undefined;
  if (workload === undefined) return undefined;
  if (workload === 'deployment' || workload === 'statefulset') return workload;
  const path = `services.${service.name}.x-stack.kube.workload`;
  throw new StackError(`${path}: expected deployment or statefulset, got ${JSON.stringify(workload)}`, { location: locateInProject(ctx.project, path), path });
}

export function workload(ctx: KubeContext, service: Service, input: WorkloadInput): void {
  const kind = workloadKind(ctx, service, input);
  const selector = serviceSelector(ctx.project.name, service.name);
  const own = sortMetadata({ ...service.labels, ...service.deploy?.labels });
  const metadataOf = (name: string) => ctx.metadata(name, { ...own.labels, ...selector }, own.annotations);
  const origin = `service "${service.name}"`;
  const labels = input.networkLabels.get(service.name) ?? {};
  const replicas = service.scale ?? service.deploy?.replicas ?? 1;
  switch (kind) {
    case 'Job': {
      const policy = service.deploy?.restart_policy;
      const onFailure = policy?.condition === 'on-failure' || (policy === undefined && service.restart?.startsWith('on-failure'));
      const template = podTemplate(ctx, input.roles, service, { restartPolicy: onFailure ? 'OnFailure' : 'Never', labels });
      const retries = policy?.max_attempts ?? (onFailure ? Number(service.restart?.split(':')[1]) || undefined : 0);
      const parallel = service.deploy?.mode === 'replicated-job' ? { completions: replicas, parallelism: replicas } : {};
      if (service.deploy?.mode === 'global-job') ctx.warnings.lossy(`services.${service.name}.deploy.mode`, 'global-job (once on every node) has no Kubernetes equivalent: it runs once');
      ctx.add({ apiVersion: 'batch/v1', kind: 'Job', metadata: metadataOf(ctx.serviceName(service.name)), spec: { ...(retries !== undefined && { backoffLimit: retries }), ...parallel, template } }, origin);
      return;
    }
    case 'DaemonSet': {
      const template = podTemplate(ctx, input.roles, service, { labels });
      ctx.add({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: metadataOf(ctx.serviceName(service.name)), spec: { selector: { matchLabels: selector }, template } }, origin);
      return;
    }
    case 'StatefulSet': {
      const claims = new Set(input.ownVolumes.get(service.name) ?? []);
      const template = podTemplate(ctx, input.roles, service, { claimTemplates: claims, labels });
      if (replicas > 1 && claims.size > 0) {
        ctx.warnings.advise(`services.${service.name}`, `each of the ${replicas} replicas gets volumes of its own (${[...claims].join(', ')}), where under \`up\` they share one`);
      }
      const volumeClaimTemplates = [...claims].map((key) => {
        const { labels: volumeLabels, spec } = claimSpec(ctx, key);
        // the claims made from these carry the labels, so `kube down --volumes` finds them
        return { metadata: { name: kubeName(key), labels: { ...volumeLabels, ...projectLabels(ctx.project.name) } }, spec };
      });
      // a pod name is <name>-<ordinal>, and its controller-revision-hash label <name>-<hash>: 52 leaves room
      ctx.add({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: metadataOf(kubeName(service.name, 52)),
        spec: {
          replicas,
          selector: { matchLabels: selector },
          ...(input.withService.has(service.name) && { serviceName: ctx.serviceName(service.name) }),
          // compose starts a service's replicas together
          podManagementPolicy: 'Parallel',
          template,
          ...(volumeClaimTemplates.length > 0 && { volumeClaimTemplates }),
        },
      }, origin);
      return;
    }
    case 'Deployment': {
      const template = podTemplate(ctx, input.roles, service, { labels });
      const deployment: DeploymentObject = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: metadataOf(ctx.serviceName(service.name)),
        spec: { replicas, selector: { matchLabels: selector }, ...strategy(ctx, service, template), template },
      };
      ctx.add(deployment, origin);
    }
  }
}

function strategy(ctx: KubeContext, service: Service, template: PodTemplateSpec): Pick<NonNullable<DeploymentObject['spec']>, 'strategy'> {
  const update = service.deploy?.update_config;
  const at = `services.${service.name}.deploy.update_config`;
  for (const key of Object.keys(update ?? {})) {
    if (key !== 'order' && key !== 'parallelism') ctx.warnings.lossy(`${at}.${key}`, 'has no Kubernetes equivalent: left out');
  }
  const parallelism = typeof update?.parallelism === 'number' && update.parallelism > 0 ? update.parallelism : 1;
  if (update?.order === 'start-first') return { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: parallelism, maxUnavailable: 0 } } };
  const claims = (template.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim !== undefined);
  if (claims) return { strategy: { type: 'Recreate' } };
  if (update?.order === 'stop-first' || update?.parallelism !== undefined) return { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: parallelism } } };
  return {};
}
