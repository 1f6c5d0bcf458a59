/**
 * `up`/`down` progress in a terminal, with ink: one line per network, service and
 * container, its current phase and how long it has taken, updated in place. Plain lines
 * (up-progress.ts) are for everything that is not a terminal.
 */
import { Box, render, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { UpEvent } from '../../engine/reconcile/reconciler.js';

interface Row {
  key: string;
  label: string;
  phase: string;
  detail?: string;
  started: number;
  ended?: number;
}

const DONE = new Set(['created', 'started', 'running', 'stopped', 'killed', 'removed', 'built', 'pulled', 'failed', 'skipped']);
const FAILED = new Set(['failed']);
const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

class RowStore {
  rows: Row[] = [];
  warnings: string[] = [];
  private listeners = new Set<() => void>();

  push(e: UpEvent): void {
    if (e.kind === 'warning') {
      this.warnings = [...this.warnings, e.text];
    } else {
      const key = e.kind === 'container' ? `c:${e.id}` : e.kind === 'service' ? `s:${e.service}` : `${e.kind}:${e.name}`;
      const label = e.kind === 'container' ? `Container ${e.id}` : e.kind === 'service' ? `Service ${e.service}` : e.kind === 'network' ? `Network ${e.name}` : `Volume ${e.name}`;
      const now = performance.now();
      const existing = this.rows.find((r) => r.key === key);
      const next: Row = {
        key,
        label,
        phase: e.phase,
        ...('detail' in e && e.detail !== undefined && { detail: e.detail }),
        started: existing?.started ?? now,
        ...(DONE.has(e.phase) && { ended: now }),
      };
      this.rows = existing ? this.rows.map((r) => (r.key === key ? next : r)) : [...this.rows, next];
    }
    for (const l of this.listeners) l();
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

function Progress({ store }: { store: RowStore }) {
  const [, setVersion] = useState(0);
  const [tick, setTick] = useState(0);
  useEffect(() => store.subscribe(() => setVersion((v) => v + 1)), [store]);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 100);
    return () => clearInterval(t);
  }, []);
  const width = Math.max(0, ...store.rows.map((r) => r.label.length));
  return (
    <Box flexDirection="column">
      {store.warnings.map((w, i) => (
        <Text key={`w${i}`} color="yellow">
          warning: {w}
        </Text>
      ))}
      {store.rows.map((r) => {
        const secs = (((r.ended ?? performance.now()) - r.started) / 1000).toFixed(1);
        const mark = FAILED.has(r.phase) ? <Text color="red">✘</Text> : r.ended !== undefined ? <Text color="green">✔</Text> : <Text color="cyan">{SPIN[tick % SPIN.length]}</Text>;
        return (
          <Text key={r.key}>
            {' '}
            {mark} {r.label.padEnd(width)}  <Text color={FAILED.has(r.phase) ? 'red' : r.ended !== undefined ? 'green' : 'cyan'}>{r.phase[0]!.toUpperCase() + r.phase.slice(1)}</Text>{' '}
            <Text dimColor>{secs}s</Text>
            {r.detail ? <Text dimColor> ({r.detail})</Text> : null}
          </Text>
        );
      })}
    </Box>
  );
}

/** Renders to `stream` (stderr) until `finish()`; the last frame stays on the screen. */
export function ttyUpProgress(stream: NodeJS.WriteStream): { onEvent: (e: UpEvent) => void; finish: () => Promise<void> } {
  const store = new RowStore();
  const app = render(<Progress store={store} />, { stdout: stream, exitOnCtrlC: false, patchConsole: false });
  return {
    onEvent: (e) => store.push(e),
    finish: async () => {
      // the last events' re-render is scheduled, not done: let it land before unmounting
      await new Promise((r) => setTimeout(r, 30));
      app.unmount();
      await app.waitUntilExit();
    },
  };
}
