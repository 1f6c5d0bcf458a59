/**
 * The connection `kube apply` and `kube down` use: the kubeconfig kubectl reads (KUBECONFIG,
 * else ~/.kube/config, else the in-cluster service account), its current context or
 * `--context`, and the namespace: `--namespace`, else the context's, else `default`.
 * @kubernetes/client-node is imported here only, on demand: it takes about a second to load.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { StackError } from '../errors.js';

export interface ClusterOptions {
  context?: string;
  namespace?: string;
}

export interface Cluster {
  api: KubernetesObjectApi;
  namespace: string;
  context: string;
  server: string;
}

export type { KubernetesObject };

export async function connect(opts: ClusterOptions = {}): Promise<Cluster> {
  // without any of these the client would quietly talk to http://localhost:8080
  const configured = (process.env.KUBECONFIG ?? '') !== '' || existsSync(path.join(homedir(), '.kube', 'config')) || process.env.KUBERNETES_SERVICE_HOST !== undefined;
  if (!configured) {
    throw new StackError('no Kubernetes cluster is configured', { kind: 'not-found', hint: 'point KUBECONFIG at a kubeconfig, or create ~/.kube/config (kind, minikube and cloud CLIs write one)' });
  }
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (e) {
    throw new StackError(`cannot read the kubeconfig: ${(e as Error).message}`, { kind: 'system', hint: 'check KUBECONFIG or ~/.kube/config' });
  }
  if (opts.context !== undefined) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new StackError(`no context "${opts.context}" in the kubeconfig`, { kind: 'not-found', hint: known.length > 0 ? `contexts: ${known.join(', ')}` : 'the kubeconfig has no contexts' });
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new StackError(`the kubeconfig's context "${kc.getCurrentContext()}" names no cluster`, { kind: 'not-found', hint: 'pick another with --context' });
  const context = kc.getCurrentContext();
  const namespace = opts.namespace ?? kc.getContextObject(context)?.namespace ?? 'default';
  return { api: k8s.KubernetesObjectApi.makeApiClient(kc), namespace, context, server: cluster.server };
}

/** The HTTP status of a failed API call, or undefined when the server was not reached. */
export function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** A failed API call as a user error: the server's own message, or why it was not reached. */
export function clusterError(e: unknown, cluster: Cluster, what: string): StackError {
  const status = statusOf(e);
  if (status === undefined) {
    return new StackError(`${what}: cannot reach the Kubernetes API at ${cluster.server}: ${(e as Error).message}`, { kind: 'system', hint: `is the cluster of context "${cluster.context}" running?`, cause: e });
  }
  const body = (e as { body?: unknown }).body;
  let message = (e as Error).message;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string } | undefined;
    if (parsed?.message) message = parsed.message;
  } catch {
    // not JSON: keep the client's message
  }
  const kind = status === 404 ? 'not-found' : status === 409 ? 'conflict' : status === 401 || status === 403 ? 'system' : 'invalid';
  return new StackError(`${what}: ${message}`, { kind, cause: e, ...(status === 403 && { hint: `the credentials of context "${cluster.context}" are not allowed to do this` }) });
}
