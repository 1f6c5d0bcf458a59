/**
 * `up`/`down` progress as plain lines, compose's wording (what CI logs and pipes get):
 * ` Container app-web-1  Started  0.4s`.
 */
import { StackError } from '../../engine/errors.js';
import type { UpEvent } from '../../engine/reconcile/reconciler.js';

const WORDS: Record<string, string> = {
  creating: 'Creating',
  created: 'Created',
  recreating: 'Recreating',
  starting: 'Starting',
  started: 'Started',
  running: 'Running',
  restarting: 'Restarting',
  stopping: 'Stopping',
  killing: 'Killing',
  killed: 'Killed',
  stopped: 'Stopped',
  removing: 'Removing',
  removed: 'Removed',
  failed: 'Error',
  pulling: 'Pulling',
  pulled: 'Pulled',
  building: 'Building',
  built: 'Built',
  waiting: 'Waiting',
  skipped: 'Skipped',
};

/** Only the lines that say something finished, unless `verbose`: a pipe does not need "Creating" and "Created". */
const FINAL = new Set(['created', 'started', 'running', 'stopped', 'killed', 'removed', 'failed', 'built', 'pulled', 'waiting']);

export function plainUpProgress(write: (text: string) => void, opts: { verbose?: boolean } = {}): (e: UpEvent) => void {
  const began = new Map<string, number>();
  return (e) => {
    if (e.kind === 'warning') {
      write(`warning: ${e.text}\n`);
      return;
    }
    const key = e.kind === 'container' ? e.id : e.kind === 'service' ? `service ${e.service}` : e.name;
    const now = performance.now();
    if (!began.has(key)) began.set(key, now);
    if (!opts.verbose && !FINAL.has(e.phase)) return;
    const what = e.kind === 'container' ? `Container ${e.id}` : e.kind === 'service' ? `Service ${e.service}` : e.kind === 'network' ? `Network ${e.name}` : `Volume ${e.name}`;
    const secs = ((now - began.get(key)!) / 1000).toFixed(1);
    const detail = 'detail' in e && e.detail ? `  (${e.detail})` : '';
    write(` ${what}  ${WORDS[e.phase] ?? e.phase}  ${secs}s${detail}\n`);
  };
}

export interface ProgressSink {
  onEvent: (e: UpEvent) => void;
  finish: () => Promise<void>;
}

/**
 * `--progress auto|tty|plain|quiet`: ink in a terminal (loaded only then: it costs ~100 ms),
 * plain lines for pipes and CI logs.
 */
export async function progressFor(mode: unknown, write: (text: string) => void, env: Readonly<Record<string, string | undefined>>): Promise<ProgressSink> {
  const m = mode === undefined ? 'auto' : String(mode);
  if (!['auto', 'tty', 'plain', 'quiet'].includes(m)) {
    throw new StackError(`--progress ${m}: expected auto, tty, plain or quiet`);
  }
  if (m === 'quiet') return { onEvent: () => undefined, finish: async () => undefined };
  if (m === 'tty' || (m === 'auto' && process.stderr.isTTY && env.CI === undefined)) {
    const { ttyUpProgress } = await import('./up-tty.js');
    return ttyUpProgress(process.stderr);
  }
  return { onEvent: plainUpProgress(write), finish: async () => undefined };
}
