/** The registry code's bookkeeping files, beside the image store. */
import path from 'node:path';
import type { EnginePaths } from '../runtime/paths.js';
import { BlobSources } from './blob-sources.js';
import { PullTimes } from './pull-times.js';

export function registryState(paths: EnginePaths): { sources: BlobSources; pullTimes: PullTimes } {
  const dir = path.join(paths.stateDir, 'registry');
  return { sources: new BlobSources(path.join(dir, 'blob-sources.json')), pullTimes: new PullTimes(path.join(dir, 'pull-times.json')) };
}
