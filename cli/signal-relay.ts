/**
 * The signals `stack run` gets while its container runs, passed on as docker's CLI does
 * (ForwardAllSignals). Ctrl-C must end the container even when its process ignores SIGINT,
 * as a pid 1 without a handler does: SIGINT and SIGTERM are forwarded, and the container is
 * killed once its stop grace period is over, or at once on a second one. A signal that
 * comes before the container exists is kept, so the caller can skip starting it.
 */
import type { Containers } from '../engine/runtime/containers.js';

const RELAYED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
const STOPPING: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGTERM']);

export class SignalRelay {
  /** the first stopping signal, if one came */
  stoppedBy: NodeJS.Signals | undefined;
  private target: { containers: Containers; id: string; gracePeriod: number } | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly onSignal = (sig: NodeJS.Signals) => this.relay(sig);

  constructor() {
    for (const s of RELAYED) process.on(s, this.onSignal);
  }

  /** From now on, signals go to this container. */
  attach(containers: Containers, id: string, gracePeriod: number): void {
    this.target = { containers, id, gracePeriod };
  }

  /** Gives the signals back to the process's defaults. */
  close(): void {
    for (const s of RELAYED) process.off(s, this.onSignal);
    clearTimeout(this.killTimer);
  }

  private relay(sig: NodeJS.Signals): void {
    const stopping = STOPPING.has(sig);
    const again = stopping && this.stoppedBy !== undefined;
    if (stopping) this.stoppedBy ??= sig;
    const t = this.target;
    if (!t) return;
    // the container may have exited already; removal follows then
    const kill = (s: string) => void t.containers.kill(t.id, s).catch(() => undefined);
    if (again) return kill('SIGKILL');
    kill(sig);
    if (stopping) this.killTimer = setTimeout(() => kill('SIGKILL'), t.gracePeriod);
  }
}
