/**
 * The labels every generated object carries, so `kube down` finds the project's objects
 * and Services find their pods. The keys are compose's own (as under `up`, and as
 * docker's compose-bridge uses them on Kubernetes) plus the recommended managed-by label.
 * The stack file's own labels are kept: as labels where Kubernetes accepts them, else as
 * annotations (a traefik rule is not a valid label value), else dropped with a warning.
 */
import type { StringMap } from '../model/types.js';
import { isLabelValue, isQualifiedKey, labelValue } from './names.js';

export const KUBE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const MANAGER = 'stack';

/** Networks a pod is on, for NetworkPolicies: `com.docker.compose.network/<name>: "true"`. */
export function networkLabel(network: string): string {
  return `com.docker.compose.network/${network}`;
}

export function projectLabels(project: string): StringMap {
  return { [KUBE_LABELS.project]: labelValue(project), [KUBE_LABELS.managedBy]: MANAGER };
}

/** What a service's pods are selected by: never the user's labels, which may change while selectors cannot. */
export function serviceSelector(project: string, service: string): StringMap {
  return { [KUBE_LABELS.project]: labelValue(project), [KUBE_LABELS.service]: labelValue(service) };
}

/** `kube down`'s label selector. */
export function projectSelector(project: string): string {
  return Object.entries(projectLabels(project)).map(([k, v]) => `${k}=${v}`).join(',');
}

export interface SortedMetadata {
  labels: StringMap;
  annotations: StringMap;
  /** keys Kubernetes accepts neither as labels nor as annotations */
  rejected: string[];
}

/** The stack file's labels (or annotations) split into what Kubernetes takes as labels and as annotations. */
export function sortMetadata(entries: StringMap | undefined, asAnnotations = false): SortedMetadata {
  const out: SortedMetadata = { labels: {}, annotations: {}, rejected: [] };
  for (const [k, v] of Object.entries(entries ?? {})) {
    if (!isQualifiedKey(k)) out.rejected.push(k);
    else if (!asAnnotations && isLabelValue(v)) out.labels[k] = v;
    else out.annotations[k] = v;
  }
  return out;
}
