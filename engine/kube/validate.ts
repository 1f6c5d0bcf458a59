/**
 * Every generated object checked against the Kubernetes OpenAPI schemas kubernetes-models
 * ships (Kubernetes 1.33), before it is printed or applied. A failure is our bug, not the
 * user's: it is reported as an internal error naming the object and the field. Loaded on
 * demand, so only `kube generate` and `kube apply` pay for the schemas.
 */
import { objectRef, type KubeKind, type KubeObject } from './objects.js';

type Validator = new (data: never) => { validate(): void };

async function models(): Promise<Record<KubeKind, Validator>> {
  const [v1Config, v1Secret, v1Pvc, v1Service, netpol, deploy, sts, ds, job] = await Promise.all([
    import('kubernetes-models/v1/ConfigMap'),
    import('kubernetes-models/v1/Secret'),
    import('kubernetes-models/v1/PersistentVolumeClaim'),
    import('kubernetes-models/v1/Service'),
    import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy'),
    import('kubernetes-models/apps/v1/Deployment'),
    import('kubernetes-models/apps/v1/StatefulSet'),
    import('kubernetes-models/apps/v1/DaemonSet'),
    import('kubernetes-models/batch/v1/Job'),
  ]);
  return {
    ConfigMap: v1Config.ConfigMap,
    Secret: v1Secret.Secret,
    PersistentVolumeClaim: v1Pvc.PersistentVolumeClaim,
    Service: v1Service.Service,
    NetworkPolicy: netpol.NetworkPolicy,
    Deployment: deploy.Deployment,
    StatefulSet: sts.StatefulSet,
    DaemonSet: ds.DaemonSet,
    Job: job.Job,
  };
}

export async function validateManifests(objects: readonly KubeObject[]): Promise<void> {
  const byKind = await models();
  for (const object of objects) {
    try {
      new byKind[object.kind](object as never).validate();
    } catch (e) {
      throw new Error(`generated ${objectRef(object)} does not match the Kubernetes schema: ${(e as Error).message}`, { cause: e });
    }
  }
}
