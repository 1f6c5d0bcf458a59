/**
 * The driver for hosts without a cgroup filesystem (some sandboxes and minimal VMs): nothing
 * to create or remove, no stats. Paths are still computed (and names still validated) so
 * callers need no special case; the runtime layer sees `layout.mode === 'none'` and runs
 * crun with `--cgroup-manager=disabled` and no `linux.resources`.
 */
import type { CgroupManager, CgroupStats } from './cgroup-manager.js';
import { CgroupNaming, containerCgroupPath, projectCgroupPath } from './cgroup-paths.js';
import type { CgroupLayout } from './detect.js';

export class NoopCgroupManager extends CgroupNaming implements CgroupManager {
  constructor(readonly layout: CgroupLayout) {
    super();
  }

  directories(project: string, containerId?: string): string[] {
    if (containerId === undefined) projectCgroupPath(project);
    else containerCgroupPath(project, containerId);
    return [];
  }

  ensureProject(project: string): void {
    projectCgroupPath(project);
  }

  removeContainer(project: string, containerId: string): void {
    containerCgroupPath(project, containerId);
  }

  removeProject(project: string): void {
    projectCgroupPath(project);
  }

  stats(project: string, containerId: string): CgroupStats {
    containerCgroupPath(project, containerId);
    return {};
  }

  pids(project: string, containerId: string): number[] {
    containerCgroupPath(project, containerId);
    return [];
  }
}
