/**
 * `stack logs [SERVICE...]`: the output of the services' containers, read from the files
 * conmon writes, so it needs nothing running. Lines of different containers come in time
 * order; with -f new lines follow as they are written, until Ctrl-C or until every
 * container has exited for good (compose's `logs -f`).
 */
import { followLog, readLog, type LogLine } from '../../engine/runtime/log-follow.js';
import { logTimeNs, timeArgNs } from '../../engine/runtime/log-time.js';
import { containerDirs } from '../../engine/runtime/paths.js';
import { decideRestart, parseRestartPolicy } from '../../engine/supervisor/restart-policy.js';
import { StackError } from '../../engine/errors.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { indexOption, openProject, scopeContainers } from '../project-scope.js';
import { colorWanted, LogFormatter } from '../render/log-prefix.js';

const POLL_MS = 100;

export const logsCommand: Command = {
  name: 'logs',
  summary: "Show the output of the services' containers",
  usage: 'stack logs [OPTIONS] [SERVICE...]',
  options: [
    { name: 'follow', short: 'f', type: 'boolean', description: 'keep printing new lines as they come, until Ctrl-C' },
    { name: 'tail', short: 'n', type: 'string', value: 'N', description: 'only the last N lines of each container (default: all)' },
    { name: 'timestamps', short: 't', type: 'boolean', description: 'show the time of each line' },
    { name: 'since', type: 'string', value: 'TIME', description: 'lines from this time on: RFC 3339 (2024-01-02T13:23:37Z) or a duration before now (42m)' },
    { name: 'until', type: 'string', value: 'TIME', description: 'lines up to this time: RFC 3339 or a duration before now' },
    { name: 'no-color', type: 'boolean', description: 'monochrome output' },
    { name: 'no-log-prefix', type: 'boolean', description: 'no container name in front of each line' },
    { name: 'index', type: 'string', value: 'N', description: 'only replica N of the (one) named service' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const scope = openProject(ctx, services);
    const index = indexOption(options.index, services);
    const records = scopeContainers(scope, index !== undefined ? { index } : {});
    const tail = tailOption(options.tail as string | undefined);
    const now = BigInt(Date.now()) * 1_000_000n;
    const since = options.since !== undefined ? timeArgNs(options.since as string, '--since', now) : undefined;
    const until = options.until !== undefined ? timeArgNs(options.until as string, '--until', now) : undefined;
    const inWindow = (l: LogLine) => {
      const t = logTimeNs(l.time);
      return t === undefined || ((since === undefined || t >= since) && (until === undefined || t <= until));
    };
    const format = new LogFormatter(records, {
      color: options['no-color'] !== true && colorWanted(ctx.env),
      prefix: options['no-log-prefix'] !== true,
      timestamps: options.timestamps === true,
    });
    const paths = scope.reconciler.paths;
    const snapshots = records.map((rec) => ({ id: rec.id, ...readLog(containerDirs(paths, rec.id).log) }));
    const shown = snapshots.flatMap((s) => {
      const lines = s.lines.filter(inWindow);
      return lines.slice(tail === undefined ? 0 : Math.max(0, lines.length - tail)).map((line) => ({ id: s.id, line, time: logTimeNs(line.time) ?? 0n }));
    });
    // a stable sort: lines of one container with the same time keep their order
    shown.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const s of shown) ctx.stdout(format.line(s.id, s.line));
    if (options.follow !== true || records.length === 0) return 0;

    const stop = new AbortController();
    let interrupted = false;
    const onSignal = () => {
      interrupted = true;
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    // the follow ends once every container is done, if one of them ended while it ran (a
    // project that had stopped before is followed until it runs again and stops, as in compose)
    const containers = scope.reconciler.containers;
    const runningAtStart = records.filter((r) => containers.exitStatus(r.id) === undefined).map((r) => r.id);
    // exited, and its restart policy will not start it again (the supervisor's own decision); or removed
    const forGood = (id: string) => {
      let exit;
      try {
        exit = containers.exitStatus(id);
        if (!exit) return false;
        const run = containers.runState(id);
        const facts = { exitCode: exit.code, restartCount: run.restartCount, stoppedByUser: run.stoppedByUser, ranMs: 0, previousDelay: 0 };
        return !decideRestart(parseRestartPolicy(containers.record(id).restart ?? 'no'), facts).restart;
      } catch {
        return true;
      }
    };
    const follow = (id: string, from: number) =>
      followLog(
        containerDirs(paths, id).log,
        (l) => {
          if (inWindow(l)) ctx.stdout(format.line(id, l));
        },
        { from, signal: stop.signal, pollMs: POLL_MS },
      );
    const following = new Map(snapshots.map((s) => [s.id, follow(s.id, s.offset)]));
    // all done twice in a row: a container being re-created is gone for a moment only
    let doneChecks = 0;
    const watch = setInterval(() => {
      if (until !== undefined && BigInt(Date.now()) * 1_000_000n > until) stop.abort();
      // containers that appear while we follow (a scale-up, a re-creation) are followed from their start
      for (const rec of scopeContainers(scope, index !== undefined ? { index } : {})) {
        if (following.has(rec.id)) continue;
        records.push(rec);
        format.add(rec);
        following.set(rec.id, follow(rec.id, 0));
      }
      const allDone = runningAtStart.length > 0 && [...following.keys()].every(forGood);
      doneChecks = allDone ? doneChecks + 1 : 0;
      if (doneChecks >= 2) stop.abort();
    }, POLL_MS * 2);
    try {
      await new Promise<void>((resolve) => (stop.signal.aborted ? resolve() : stop.signal.addEventListener('abort', () => resolve(), { once: true })));
      await Promise.all(following.values());
    } finally {
      clearInterval(watch);
      process.removeListener('SIGINT', onSignal);
    }
    return interrupted ? 130 : 0;
  },
};

function tailOption(value: string | undefined): number | undefined {
  if (value === undefined || value === 'all') return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new StackError(`--tail ${value}: expected a number of lines or "all"`, { hint: 'for example --tail 20' });
  return n;
}
