/**
 * What a container's restart policy and health need to know about its runs, beyond
 * conmon's exit file: when it last started, how often its policy started it again (docker's
 * RestartCount, reset when the user starts it), and whether the user stopped it (docker's
 * HasBeenManuallyStopped: no policy restarts it until it is started again). Kept next to
 * container.json, as durable as the container.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { containerDirs, type EnginePaths } from './paths.js';

export interface RunState {
  /** ISO time of the last start; absent until the container first starts */
  startedAt?: string;
  restartCount: number;
  stoppedByUser: boolean;
}

export function readRunState(paths: EnginePaths, id: string): RunState {
  try {
    const s = JSON.parse(readFileSync(file(paths, id), 'utf8')) as Partial<RunState>;
    return { ...(s.startedAt && { startedAt: s.startedAt }), restartCount: s.restartCount ?? 0, stoppedByUser: s.stoppedByUser === true };
  } catch {
    return { restartCount: 0, stoppedByUser: false };
  }
}

export function writeRunState(paths: EnginePaths, id: string, state: RunState): void {
  // losing it in a crash costs a restart count, and the next start writes it again
  writeFileAtomic(file(paths, id), JSON.stringify(state), { durable: false });
}

function file(paths: EnginePaths, id: string): string {
  return path.join(containerDirs(paths, id).state, 'run-state.json');
}
