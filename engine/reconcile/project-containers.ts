/**
 * A project's containers, found by their labels (compose's own names, so tools that know
 * compose's conventions read them too): what `up` plans against, what `ps` lists and what
 * `down` removes, with no other project state to lose or get out of step.
 */
import type { ObservedContainer } from '../plan/planner.js';
import type { ContainerRecord, Containers } from '../runtime/containers.js';

export const LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  configHash: 'com.docker.compose.config-hash',
  image: 'com.docker.compose.image',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
} as const;

export function projectRecords(containers: Containers, project?: string): ContainerRecord[] {
  const out: ContainerRecord[] = [];
  for (const id of containers.list()) {
    let rec: ContainerRecord;
    try {
      rec = containers.record(id);
    } catch {
      continue; // removed meanwhile
    }
    const p = rec.labels[LABELS.project];
    if (p !== undefined && (project === undefined || p === project)) out.push(rec);
  }
  return out;
}

/** The project's containers with their state, for the planner. */
export async function observe(containers: Containers, project: string): Promise<ObservedContainer[]> {
  return Promise.all(
    projectRecords(containers, project).map(async (rec) => {
      const status = await containers.status(rec.id).catch(() => 'unknown' as const);
      return {
        id: rec.id,
        service: rec.labels[LABELS.service] ?? '',
        number: Number(rec.labels[LABELS.number] ?? 0),
        oneoff: rec.labels[LABELS.oneoff] === 'True',
        configHash: rec.labels[LABELS.configHash] ?? '',
        state: status,
      };
    }),
  );
}

/** Images containers were made from (compose's image label), each with a container using it. */
export function imagesInUse(containers: Containers): Map<string, string> {
  const out = new Map<string, string>();
  for (const rec of projectRecords(containers)) {
    const image = rec.labels[LABELS.image];
    if (image !== undefined && !out.has(image)) out.set(image, rec.name);
  }
  return out;
}
