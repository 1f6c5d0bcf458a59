/**
 * `stack kube down`: deletes what carries the project's labels in the namespace, workloads
 * first (the reverse of apply order). Claims stay unless `volumes` is asked for, as
 * `stack down` keeps named volumes without `-v`; claims a StatefulSet made from its
 * templates carry the labels too, so they go with them.
 */
import type { Cluster } from './cluster.js';
import { projectObjects, remove } from './apply.js';
import { kindRank, objectRef } from './objects.js';

export interface DownOptions {
  project: string;
  volumes: boolean;
  onEvent: (line: string) => void;
}

/** Deletes the project's objects; returns how many there were. */
export async function deleteProject(cluster: Cluster, opts: DownOptions): Promise<number> {
  const objects = await projectObjects(cluster, opts.project, opts.volumes);
  objects.sort((a, b) => kindRank(b.kind) - kindRank(a.kind) || objectRef(a).localeCompare(objectRef(b)));
  for (const o of objects) await remove(cluster, o, opts.onEvent);
  return objects.length;
}
