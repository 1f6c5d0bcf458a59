/**
 * Pull and push progress in a terminal, with ink: a row per layer with a bar, bytes done of
 * the total and the rate over the last second or so, redrawn at most ten times a second.
 */
import { Box, render, Text } from 'ink';
import { useEffect, useState } from 'react';
import { formatBytes, shortDigest, type TransferEvent, type TransferSink } from './transfer-progress.js';

interface Row {
  id: string;
  phase: string;
  bytes: number;
  size: number;
  /** (time, bytes) samples for the rate */
  samples: [number, number][];
  done: boolean;
}

const BAR = 30;
const RATE_WINDOW_MS = 1500;
const WORDS: Record<string, string> = {
  waiting: 'Waiting',
  downloading: 'Downloading',
  retrying: 'Retrying',
  exists: 'Already exists',
  mounted: 'Mounted',
  uploading: 'Pushing',
  done: 'Done',
};

class Rows {
  rows: Row[] = [];
  lines: string[] = [];
  private listeners = new Set<() => void>();

  push(e: TransferEvent): void {
    if (e.kind === 'layer' || e.kind === 'blob') {
      const id = shortDigest(e.digest);
      const now = performance.now();
      const old = this.rows.find((r) => r.id === id);
      const samples = [...(old?.samples ?? []), [now, e.bytes] as [number, number]].filter(([t]) => now - t <= RATE_WINDOW_MS);
      const done = e.phase === 'done' || e.phase === 'exists' || e.phase === 'mounted';
      const row: Row = { id, phase: e.phase, bytes: e.bytes, size: e.size, samples, done };
      this.rows = old ? this.rows.map((r) => (r.id === id ? row : r)) : [...this.rows, row];
    } else if (e.kind === 'resolved') {
      this.lines = [...this.lines, `${e.ref}: ${e.layers.length} layers, ${formatBytes(e.layers.reduce((n, l) => n + l.size, 0))}`];
    } else if (e.kind === 'pulled') {
      this.lines = [...this.lines, `${e.ref}: ${e.status === 'up-to-date' ? 'image is up to date' : 'downloaded'} (${e.digest})`];
    } else {
      this.lines = [...this.lines, `${e.ref}: pushed ${e.tag} (${e.digest})`];
    }
    for (const l of this.listeners) l();
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

function rate(r: Row): string {
  const first = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  if (!first || !last || last[0] - first[0] < 200 || r.done) return '';
  return `${formatBytes(((last[1] - first[1]) * 1000) / (last[0] - first[0]))}/s`;
}

function Transfer({ rows }: { rows: Rows }) {
  const [, setVersion] = useState(0);
  useEffect(() => {
    let dirty = false;
    const off = rows.subscribe(() => (dirty = true));
    const t = setInterval(() => {
      if (dirty) setVersion((v) => v + 1);
      dirty = false;
    }, 100);
    return () => {
      off();
      clearInterval(t);
    };
  }, [rows]);
  return (
    <Box flexDirection="column">
      {rows.lines.map((l, i) => (
        <Text key={`l${i}`}>{l}</Text>
      ))}
      {rows.rows.map((r) => {
        const filled = r.size > 0 ? Math.round((Math.min(r.bytes, r.size) / r.size) * BAR) : BAR;
        return (
          <Text key={r.id}>
            {r.id}: <Text color={r.done ? 'green' : 'cyan'}>{(WORDS[r.phase] ?? r.phase).padEnd(14)}</Text>
            {r.done ? '' : `[${'='.repeat(filled)}${filled < BAR ? '>' : ''}${' '.repeat(Math.max(0, BAR - filled - 1))}] `}
            <Text dimColor>
              {formatBytes(r.bytes)}/{formatBytes(r.size)} {rate(r)}
            </Text>
          </Text>
        );
      })}
    </Box>
  );
}

export function ttyTransferProgress(stream: NodeJS.WriteStream): TransferSink {
  const rows = new Rows();
  const app = render(<Transfer rows={rows} />, { stdout: stream, exitOnCtrlC: false, patchConsole: false });
  return {
    onEvent: (e) => rows.push(e),
    finish: async () => {
      await new Promise((r) => setTimeout(r, 120));
      app.unmount();
      await app.waitUntilExit();
    },
  };
}
