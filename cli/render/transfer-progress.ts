/**
 * Pull and push progress. Plain lines in docker's words for pipes and CI logs (one line
 * when a layer starts, finishes or retries, never a line per chunk); in a terminal, ink
 * bars per layer (transfer-tty.tsx), loaded only then.
 */
import { StackError } from '../../engine/errors.js';
import type { PullEvent } from '../../engine/registry/pull.js';
import type { PushEvent } from '../../engine/registry/push.js';

export type TransferEvent = PullEvent | PushEvent;

export interface TransferSink {
  onEvent: (e: TransferEvent) => void;
  finish: () => Promise<void>;
}

export function shortDigest(digest: string): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + 12);
}

const PULL_WORDS: Partial<Record<Extract<PullEvent, { kind: 'layer' }>['phase'], string>> = {
  exists: 'Already exists',
  waiting: 'Pulling fs layer',
  retrying: 'Retrying',
  done: 'Pull complete',
};

export function plainTransferProgress(write: (text: string) => void): (e: TransferEvent) => void {
  return (e) => {
    switch (e.kind) {
      case 'resolved':
        write(`${e.ref}: Pulling from ${e.ref.replace(/[:@][^/]*$/, '')}\n`);
        break;
      case 'layer': {
        const word = PULL_WORDS[e.phase];
        if (word) write(`${shortDigest(e.digest)}: ${word}${e.phase === 'retrying' ? ` from ${formatBytes(e.bytes)}` : ''}\n`);
        break;
      }
      case 'pulled':
        write(`Digest: ${e.digest}\nStatus: ${e.status === 'up-to-date' ? `Image is up to date for ${e.ref}` : `Downloaded newer image for ${e.ref}`}\n`);
        break;
      case 'blob': {
        const word = { waiting: 'Preparing', exists: 'Layer already exists', mounted: `Mounted from ${e.from ?? ''}`, done: 'Pushed', uploading: '' }[e.phase];
        if (word) write(`${shortDigest(e.digest)}: ${word}\n`);
        break;
      }
      case 'pushed':
        write(`${e.tag}: digest: ${e.digest} size: ${e.size}\n`);
        break;
    }
  };
}

/** `--progress auto|tty|plain|quiet`, as `up` reads it. */
export async function transferProgressFor(mode: unknown, write: (text: string) => void, env: Readonly<Record<string, string | undefined>>): Promise<TransferSink> {
  const m = mode === undefined ? 'auto' : String(mode);
  if (!['auto', 'tty', 'plain', 'quiet'].includes(m)) throw new StackError(`--progress ${m}: expected auto, tty, plain or quiet`);
  if (m === 'quiet') return { onEvent: () => undefined, finish: async () => undefined };
  if (m === 'tty' || (m === 'auto' && process.stderr.isTTY && env.CI === undefined)) {
    const { ttyTransferProgress } = await import('./transfer-tty.js');
    return ttyTransferProgress(process.stderr);
  }
  return { onEvent: plainTransferProgress(write), finish: async () => undefined };
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}
