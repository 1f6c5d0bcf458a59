/**
 * `stack kube apply`: the generated objects into a namespace by server-side apply (field
 * manager `stack`, conflicts forced: the stack file is the truth, as `up` re-creates what
 * changed), then a wait until every workload has rolled out, as `up --wait`. An object of
 * the same name that the project does not own is never taken over. A Job whose template
 * changed (Jobs cannot be changed) is deleted and made again, as `up` re-creates a
 * container. Objects of services no longer in the stack file are orphans, as compose's
 * containers are: reported, or removed with `--remove-orphans`. Objects of no one service
 * (claims, Secrets, configs, policies) are never orphans, as `up` never removes volumes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from '../errors.js';
import { clusterError, statusOf, type Cluster, type KubernetesObject } from './cluster.js';
import { KUBE_LABELS, projectSelector, serviceSelector } from './labels.js';
import { labelValue } from './names.js';
import { KINDS, objectRef, type KubeObject } from './objects.js';
import { rolloutState, type WorkloadStatus } from './rollout.js';

const FIELD_MANAGER = 'stack';

export interface ApplyOptions {
  project: string;
  /** every service of the stack file, profiled ones too: an object of any other is an orphan */
  services: readonly string[];
  /** wait for the workloads to roll out */
  wait: boolean;
  /** give up waiting after this long (ms) */
  timeoutMs: number;
  removeOrphans?: boolean;
  /** progress, one line each */
  onEvent: (line: string) => void;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

/** What names an object in the API. */
export interface ObjectHeader {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
}

export async function applyManifests(cluster: Cluster, objects: readonly KubeObject[], opts: ApplyOptions): Promise<void> {
  await ensureNamespace(cluster, opts.onEvent);
  const placed = objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: cluster.namespace } }) as KubeObject);
  for (const object of placed) {
    const ref = objectRef(object);
    const existing = await read(cluster, object);
    const owner = existing?.metadata?.labels?.[KUBE_LABELS.project];
    if (existing && owner !== labelValue(opts.project)) {
      throw new StackError(`${ref} already exists in namespace ${cluster.namespace} and is not project ${opts.project}'s${owner ? ` (it is ${owner}'s)` : ''}`, {
        kind: 'conflict',
        hint: 'apply into another namespace (--namespace), or rename the service',
      });
    }
    try {
      await serverSideApply(cluster, object);
    } catch (e) {
      // a Job's template cannot change: re-create it, as `up` re-creates a changed container
      if (object.kind !== 'Job' || statusOf(e) !== 422 || !existing) throw clusterError(e, cluster, `applying ${ref}`);
      await remove(cluster, object, opts.onEvent);
      await serverSideApply(cluster, object).catch((e2: unknown) => {
        throw clusterError(e2, cluster, `applying ${ref}`);
      });
    }
    opts.onEvent(`applied ${ref}`);
  }
  await orphans(cluster, opts);
  if (opts.wait) await waitForRollout(cluster, placed.filter((o) => WORKLOADS.has(o.kind)), opts);
}

async function serverSideApply(cluster: Cluster, object: KubeObject): Promise<void> {
  const { PatchStrategy } = await import('@kubernetes/client-node');
  await cluster.api.patch(object as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

async function read(cluster: Cluster, object: ObjectHeader): Promise<KubernetesObject | undefined> {
  try {
    return await cluster.api.read({ apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: cluster.namespace } });
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw clusterError(e, cluster, `reading ${objectRef(object)}`);
  }
}

/** Deletes the object and waits until it is gone (a Job's name is free only then). */
export async function remove(cluster: Cluster, object: ObjectHeader, onEvent: (line: string) => void): Promise<void> {
  const ref = objectRef(object);
  const header = { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: cluster.namespace } };
  try {
    await cluster.api.delete(header, undefined, undefined, undefined, undefined, 'Foreground');
  } catch (e) {
    if (statusOf(e) !== 404) throw clusterError(e, cluster, `deleting ${ref}`);
  }
  for (let i = 0; i < 120 && (await read(cluster, object)); i++) await sleep(500);
  onEvent(`deleted ${ref}`);
}

async function ensureNamespace(cluster: Cluster, onEvent: (line: string) => void): Promise<void> {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: cluster.namespace } };
  try {
    await cluster.api.read(ns);
    return;
  } catch (e) {
    // credentials limited to the namespace cannot read it, but it exists
    if (statusOf(e) === 403) return;
    if (statusOf(e) !== 404) throw clusterError(e, cluster, `reading namespace ${cluster.namespace}`);
  }
  // made without the project's labels: `kube down` removes the project, not the namespace
  try {
    await cluster.api.create(ns);
  } catch (e) {
    if (statusOf(e) !== 409) throw clusterError(e, cluster, `creating namespace ${cluster.namespace}`);
  }
  onEvent(`created namespace ${cluster.namespace}`);
}

/** The project's objects in the namespace, of the kinds it generates (PVCs too unless `volumes` is false). */
export async function projectObjects(cluster: Cluster, project: string, volumes = true): Promise<ObjectHeader[]> {
  const out: ObjectHeader[] = [];
  for (const { kind, apiVersion } of KINDS) {
    if (kind === 'PersistentVolumeClaim' && !volumes) continue;
    try {
      const list = await cluster.api.list(apiVersion, kind, cluster.namespace, undefined, undefined, undefined, undefined, projectSelector(project));
      for (const o of list.items) {
        if (o.metadata?.name !== undefined) out.push({ apiVersion, kind, metadata: { name: o.metadata.name, labels: o.metadata.labels ?? {} } });
      }
    } catch (e) {
      throw clusterError(e, cluster, `listing ${kind}s`);
    }
  }
  return out;
}

async function orphans(cluster: Cluster, opts: ApplyOptions): Promise<void> {
  const known = new Set(opts.services.map(labelValue));
  const found = (await projectObjects(cluster, opts.project, false)).filter((o) => {
    const service = o.metadata.labels?.[KUBE_LABELS.service];
    return service !== undefined && !known.has(service);
  });
  for (const o of found) {
    if (opts.removeOrphans) await remove(cluster, o, opts.onEvent);
    else opts.onEvent(`warning: ${objectRef(o)} is of service "${o.metadata.labels?.[KUBE_LABELS.service]}", which is no longer in the stack file (remove it with --remove-orphans)`);
  }
}

async function waitForRollout(cluster: Cluster, workloads: readonly KubeObject[], opts: ApplyOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let pending = [...workloads];
  const last = new Map<string, string>();
  while (pending.length > 0) {
    const still: KubeObject[] = [];
    for (const w of pending) {
      const current = await read(cluster, w);
      const state = current ? rolloutState(current as WorkloadStatus) : { state: 'waiting' as const, reason: 'not found yet' };
      const ref = objectRef(w);
      if (state.state === 'done') {
        opts.onEvent(`${ref} ${w.kind === 'Job' ? 'completed' : 'rolled out'}`);
        continue;
      }
      if (state.state === 'failed') throw new StackError(`${ref} failed: ${state.reason}`, { kind: 'system', hint: `kubectl describe ${ref.toLowerCase()} -n ${cluster.namespace}` });
      const reason = `${state.reason}${await podTrouble(cluster, opts.project, w)}`;
      if (last.get(ref) !== reason) opts.onEvent(`waiting for ${ref}: ${reason}`);
      last.set(ref, reason);
      still.push(w);
    }
    pending = still;
    if (pending.length === 0) return;
    if (Date.now() >= deadline) {
      throw new StackError(`timed out waiting for ${pending.map((w) => `${objectRef(w)} (${last.get(objectRef(w))})`).join(', ')}`, {
        kind: 'system',
        hint: `kubectl get pods -n ${cluster.namespace} -l ${projectSelector(opts.project)} shows them; --wait-timeout waits longer`,
      });
    }
    await sleep(1000);
  }
}

/** Why a workload's pods are stuck, when their containers say (ImagePullBackOff, CrashLoopBackOff, ...). */
async function podTrouble(cluster: Cluster, project: string, workload: KubeObject): Promise<string> {
  const service = workload.metadata.labels?.[KUBE_LABELS.service];
  if (service === undefined) return '';
  const selector = Object.entries(serviceSelector(project, service)).map(([k, v]) => `${k}=${v}`).join(',');
  try {
    const pods = await cluster.api.list('v1', 'Pod', cluster.namespace, undefined, undefined, undefined, undefined, selector);
    const reasons = new Set<string>();
    for (const pod of pods.items as { status?: { initContainerStatuses?: ContainerStatus[]; containerStatuses?: ContainerStatus[] } }[]) {
      for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
        const waiting = c.state?.waiting;
        if (waiting?.reason && waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing') reasons.add(`${c.name}: ${waiting.reason}`);
      }
    }
    return reasons.size > 0 ? ` (${[...reasons].join(', ')})` : '';
  } catch {
    return ''; // only a detail of the progress line
  }
}

interface ContainerStatus {
  name: string;
  state?: { waiting?: { reason?: string } };
}
