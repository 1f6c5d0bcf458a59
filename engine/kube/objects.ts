/**
 * The Kubernetes objects `kube generate` makes, typed by kubernetes-models' interfaces (type
 * imports only: the compiler checks every field name and shape against the OpenAPI schema
 * those types come from, and nothing of the package is loaded at run time), and the order
 * in which they are applied: what a pod mounts or resolves before the pods.
 */
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta as ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

export type { ObjectMeta };
export type { IContainer as Container } from 'kubernetes-models/v1/Container';
export type { IPodSpec as PodSpec } from 'kubernetes-models/v1/PodSpec';
export type { IPodTemplateSpec as PodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
export type { IProbe as Probe } from 'kubernetes-models/v1/Probe';
export type { IVolume as PodVolume } from 'kubernetes-models/v1/Volume';
export type { IVolumeMount as VolumeMount } from 'kubernetes-models/v1/VolumeMount';
export type { IServicePort as ServicePort } from 'kubernetes-models/v1/ServicePort';
export type { IPersistentVolumeClaim as PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';

type Named<T extends { metadata?: ObjectMeta }> = T & { metadata: ObjectMeta & { name: string } };

export type ConfigMapObject = Named<IConfigMap>;
export type SecretObject = Named<ISecret>;
export type PvcObject = Named<IPersistentVolumeClaim>;
export type ServiceObject = Named<IService>;
export type NetworkPolicyObject = Named<INetworkPolicy>;
export type DeploymentObject = Named<IDeployment>;
export type StatefulSetObject = Named<IStatefulSet>;
export type DaemonSetObject = Named<IDaemonSet>;
export type JobObject = Named<IJob>;

export type KubeObject =
  | ConfigMapObject
  | SecretObject
  | PvcObject
  | ServiceObject
  | NetworkPolicyObject
  | DeploymentObject
  | StatefulSetObject
  | DaemonSetObject
  | JobObject;

export type KubeKind = KubeObject['kind'];

/** Apply order; `down` deletes in the reverse. */
export const KINDS: readonly { kind: KubeKind; apiVersion: string }[] = [
  { kind: 'ConfigMap', apiVersion: 'v1' },
  { kind: 'Secret', apiVersion: 'v1' },
  { kind: 'PersistentVolumeClaim', apiVersion: 'v1' },
  { kind: 'Service', apiVersion: 'v1' },
  { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1' },
  { kind: 'Deployment', apiVersion: 'apps/v1' },
  { kind: 'StatefulSet', apiVersion: 'apps/v1' },
  { kind: 'DaemonSet', apiVersion: 'apps/v1' },
  { kind: 'Job', apiVersion: 'batch/v1' },
];

export function kindRank(kind: string): number {
  return KINDS.findIndex((k) => k.kind === kind);
}

/** `Deployment/web`, as kubectl names objects. */
export function objectRef(o: { kind: string; metadata: { name: string } }): string {
  return `${o.kind}/${o.metadata.name}`;
}
