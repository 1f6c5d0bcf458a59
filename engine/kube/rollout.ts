/**
 * Whether a workload has rolled out, from the object the API returns, with kubectl's rules
 * (`kubectl rollout status`): the controller has seen the latest spec, every replica is
 * updated and available; a Job has completed. Pure, so `kube apply` polls with it.
 */

export type Rollout = { state: 'done' } | { state: 'waiting'; reason: string } | { state: 'failed'; reason: string };

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

export interface WorkloadStatus {
  kind: string;
  metadata?: { generation?: number };
  spec?: { replicas?: number; completions?: number; updateStrategy?: { type?: string } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    succeeded?: number;
    conditions?: Condition[];
  };
}

export function rolloutState(o: WorkloadStatus): Rollout {
  const s = o.status ?? {};
  const condition = (type: string) => s.conditions?.find((c) => c.type === type && c.status === 'True');
  if (o.kind === 'Job') {
    if (condition('Complete')) return { state: 'done' };
    const failed = condition('Failed');
    if (failed) return { state: 'failed', reason: failed.message ?? failed.reason ?? 'the job failed' };
    return { state: 'waiting', reason: `${s.succeeded ?? 0} of ${o.spec?.completions ?? 1} completed` };
  }
  if ((o.metadata?.generation ?? 0) > (s.observedGeneration ?? -1)) return { state: 'waiting', reason: 'the controller has not seen the new spec yet' };
  const wanted = o.spec?.replicas ?? 1;
  switch (o.kind) {
    case 'Deployment': {
      const progressing = s.conditions?.find((c) => c.type === 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded') return { state: 'failed', reason: progressing.message ?? 'the rollout exceeded its progress deadline' };
      if ((s.updatedReplicas ?? 0) < wanted) return { state: 'waiting', reason: `${s.updatedReplicas ?? 0} of ${wanted} replicas updated` };
      if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return { state: 'waiting', reason: `${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replicas still terminating` };
      if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0)) return { state: 'waiting', reason: `${s.availableReplicas ?? 0} of ${s.updatedReplicas ?? 0} updated replicas available` };
      return { state: 'done' };
    }
    case 'StatefulSet': {
      if ((s.readyReplicas ?? 0) < wanted) return { state: 'waiting', reason: `${s.readyReplicas ?? 0} of ${wanted} replicas ready` };
      if (o.spec?.updateStrategy?.type !== 'OnDelete' && s.updateRevision !== s.currentRevision) {
        return { state: 'waiting', reason: `${s.updatedReplicas ?? 0} of ${wanted} replicas updated` };
      }
      return { state: 'done' };
    }
    case 'DaemonSet': {
      const desired = s.desiredNumberScheduled ?? 0;
      if ((s.updatedNumberScheduled ?? 0) < desired) return { state: 'waiting', reason: `${s.updatedNumberScheduled ?? 0} of ${desired} pods updated` };
      if ((s.numberAvailable ?? 0) < desired) return { state: 'waiting', reason: `${s.numberAvailable ?? 0} of ${desired} pods available` };
      return { state: 'done' };
    }
    default:
      return { state: 'done' };
  }
}
