/**
 * `stack kill [SERVICE...]`: sends a signal (SIGKILL unless -s says otherwise) to the
 * services' running containers, one-off ones included, as compose does.
 */
import { constants } from 'node:os';
import { StackError } from '../../engine/errors.js';
import { LABELS } from '../../engine/reconcile/project-containers.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { openProject, scopeContainers } from '../project-scope.js';
import { progressFor } from '../render/up-progress.js';

export const killCommand: Command = {
  name: 'kill',
  summary: "Send a signal to the services' running containers",
  usage: 'stack kill [OPTIONS] [SERVICE...]',
  options: [{ name: 'signal', short: 's', type: 'string', value: 'SIGNAL', description: 'the signal, by name or number (default SIGKILL)' }],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const signal = signalName((options.signal as string | undefined) ?? 'SIGKILL');
    const scope = openProject(ctx, services);
    const containers = scope.reconciler.containers;
    const running = [];
    for (const rec of scopeContainers(scope, { oneOff: true })) if ((await containers.status(rec.id)) === 'running') running.push(rec);
    if (running.length === 0) {
      ctx.stderr('No container to kill\n');
      return 0;
    }
    const progress = await progressFor(undefined, ctx.stderr, ctx.env);
    await Promise.all(
      running.map(async (rec) => {
        const service = rec.labels[LABELS.service] ?? '';
        progress.onEvent({ kind: 'container', service, id: rec.id, phase: 'killing' });
        await containers.kill(rec.id, signal);
        progress.onEvent({ kind: 'container', service, id: rec.id, phase: 'killed' });
      }),
    ).finally(() => progress.finish());
    return 0;
  },
};

/** `SIGHUP`, `hup` or `1` -> what the runtime's kill takes; anything else is refused here, with a hint. */
export function signalName(value: string): string {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 64) return value;
  } else {
    const upper = value.toUpperCase();
    const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (name in constants.signals) return name;
  }
  throw new StackError(`invalid signal: ${value}`, { hint: 'give a name or a number: -s SIGTERM, -s HUP, -s 9' });
}
