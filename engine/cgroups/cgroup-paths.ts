/**
 * Where the engine's cgroups live inside every hierarchy, and the checks that keep a project
 * name or a container id from pointing anywhere else. The paths are the ones put in
 * config.json as `linux.cgroupsPath`: absolute, because crun and runc resolve a relative
 * cgroupsPath differently (against their own cgroup, or a runtime-chosen parent).
 */
import { StackError } from '../errors.js';

/** The root of every cgroup the engine creates, in every hierarchy. The one place it is named. */
export const CGROUP_ROOT = '/stack';

const PROJECT_NAME = /^[a-z0-9_-]+$/;
const CONTAINER_ID = /^[a-zA-Z0-9_.-]+$/;
/** longest file name the kernel accepts (NAME_MAX) */
const NAME_MAX = 255;

/**
 * Names that are already interface files inside a cgroup directory. mkdir of such a name
 * fails with EEXIST, which an idempotent "create if missing" would read as success, and the
 * engine would then write limits into a kernel file instead of a cgroup.
 */
const INTERFACE_FILES = new Set(['tasks', 'notify_on_release', 'release_agent']);
const INTERFACE_PREFIX =
  /^(cgroup|memory|memsw|cpu|cpuacct|cpuset|blkio|io|pids|devices|freezer|hugetlb|net_cls|net_prio|perf_event|rdma|misc)\./;

export function projectCgroupPath(project: string): string {
  checkProjectName(project);
  return `${CGROUP_ROOT}/${project}`;
}

export function containerCgroupPath(project: string, containerId: string): string {
  checkContainerId(containerId);
  return `${projectCgroupPath(project)}/${containerId}`;
}

export function checkProjectName(project: string): void {
  if (!PROJECT_NAME.test(project) || project.length > NAME_MAX || INTERFACE_FILES.has(project)) {
    throw new StackError(`invalid project name for a cgroup: ${JSON.stringify(project)}`, {
      kind: 'invalid',
      hint: 'project names are lowercase letters, digits, "_" and "-" (and not "tasks", "notify_on_release" or "release_agent")',
    });
  }
}

export function checkContainerId(id: string): void {
  // `.` and `..` match the character class but would climb the hierarchy.
  const ok = CONTAINER_ID.test(id) && id !== '.' && id !== '..' && id.length <= NAME_MAX &&
    !INTERFACE_FILES.has(id) && !INTERFACE_PREFIX.test(id);
  if (!ok) {
    throw new StackError(`invalid container id for a cgroup: ${JSON.stringify(id)}`, {
      kind: 'invalid',
      hint: 'container ids are letters, digits, "_", "." and "-", at most 255 characters, and not "." or ".." or the name of a cgroup file',
    });
  }
}

/** The naming every driver shares: where a project and a container live in the hierarchy. */
export abstract class CgroupNaming {
  projectPath(project: string): string {
    return projectCgroupPath(project);
  }

  containerPath(project: string, containerId: string): string {
    return containerCgroupPath(project, containerId);
  }
}
