/**
 * Commands' side of a project's supervisor: ensureSupervisor() after containers were
 * created, started or removed returns once a supervisor has listed the project's
 * containers since, starting one when none runs and stopping it when the project has none
 * left. One lock for every project's supervisor, so that nothing per project stays behind
 * in the run dir once the project is gone (the pid and state files go with the process).
 */
import path from 'node:path';
import { daemonPid, ensureDaemon, type DaemonSpec } from '../daemon/daemon-control.js';
import { Containers } from '../runtime/containers.js';
import type { EnginePaths } from '../runtime/paths.js';
import { projectContainers } from './supervisor.js';

/** a load lists the containers and reads their records */
const LOAD_TIMEOUT_MS = 5000;

export function supervisorDir(paths: EnginePaths): string {
  return path.join(path.resolve(paths.runDir), 'supervisor');
}

export function supervisorPidFile(paths: EnginePaths, project: string): string {
  return path.join(supervisorDir(paths), `${project}.pid`);
}

export function supervisorLogFile(paths: EnginePaths): string {
  return path.join(supervisorDir(paths), 'supervisor.log');
}

/** Has a supervisor look at the project's containers as they are now; none runs for a project without any. */
export async function ensureSupervisor(paths: EnginePaths, project: string): Promise<void> {
  await ensureDaemon(supervisorDaemon(paths, project));
}

/** The pid of the project's supervisor, if one runs. */
export function supervisorPid(paths: EnginePaths, project: string): number | undefined {
  return daemonPid(supervisorDaemon(paths, project));
}

function supervisorDaemon(paths: EnginePaths, project: string): DaemonSpec {
  const stateDir = path.resolve(paths.stateDir);
  const runDir = path.resolve(paths.runDir);
  const containers = new Containers({ stateDir, runDir });
  return {
    name: 'supervisor',
    args: [project, stateDir, runDir],
    pidFile: supervisorPidFile(paths, project),
    lockFile: path.join(supervisorDir(paths), 'lock'),
    logFile: supervisorLogFile(paths),
    title: `the supervisor of project ${project}`,
    idle: () => projectContainers(containers, project).length === 0,
    loadTimeoutMs: LOAD_TIMEOUT_MS,
  };
}
