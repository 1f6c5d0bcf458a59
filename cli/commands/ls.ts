/**
 * `stack ls`: every project that has containers in the store, found by their labels (no
 * stack file needed), with the count of its containers in each state and the stack files
 * that made them. As in compose, only running containers count unless -a is given, so a
 * stopped project shows with -a only.
 */
import { StackError } from '../../engine/errors.js';
import { LABELS, projectRecords } from '../../engine/reconcile/project-containers.js';
import { Containers, type ContainerStatus } from '../../engine/runtime/containers.js';
import { enginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { formatTable } from '../render/table.js';

interface ProjectRow {
  Name: string;
  Status: string;
  ConfigFiles: string;
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'List the projects that have containers',
  usage: 'stack ls [OPTIONS]',
  options: [
    { name: 'all', short: 'a', type: 'boolean', description: 'stopped projects too' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default) or json' },
    { name: 'quiet', short: 'q', type: 'boolean', description: 'only project names' },
  ],
  async run(ctx: CommandContext, options: OptionValues, positionals: string[]): Promise<number> {
    if (positionals.length > 0) throw new StackError('stack ls takes no arguments', { hint: 'it lists every project; see `stack ps` for one project' });
    const format = (options.format as string | undefined) ?? 'table';
    if (format !== 'table' && format !== 'json') throw new StackError(`--format ${format}: expected table or json`);
    const containers = new Containers(enginePaths(ctx.env));
    const projects = new Map<string, { states: ContainerStatus[]; files: string[] }>();
    for (const rec of projectRecords(containers)) {
      if (rec.labels[LABELS.oneoff] === 'True') continue;
      const state = await containers.status(rec.id).catch(() => 'unknown' as const);
      if (state !== 'running' && options.all !== true) continue;
      const name = rec.labels[LABELS.project]!;
      const p = projects.get(name) ?? { states: [], files: [] };
      p.states.push(state);
      for (const f of (rec.labels[LABELS.configFiles] ?? '').split(',')) if (f !== '' && !p.files.includes(f)) p.files.push(f);
      projects.set(name, p);
    }
    const rows: ProjectRow[] = [...projects.keys()].sort().map((name) => {
      const p = projects.get(name)!;
      return { Name: name, Status: combinedStatus(p.states), ConfigFiles: p.files.join(',') };
    });
    if (options.quiet === true) {
      for (const r of rows) ctx.stdout(`${r.Name}\n`);
    } else if (format === 'json') {
      ctx.stdout(`${JSON.stringify(rows)}\n`);
    } else {
      ctx.stdout(formatTable([['NAME', 'STATUS', 'CONFIG FILES'], ...rows.map((r) => [r.Name, r.Status, r.ConfigFiles])], { padding: 3, minWidth: 10 }));
    }
    return 0;
  },
};

/** compose's `exited(1), running(2)`: a count per state, states in alphabetical order */
function combinedStatus(states: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts.keys()].sort().map((s) => `${s}(${counts.get(s)})`).join(', ');
}
