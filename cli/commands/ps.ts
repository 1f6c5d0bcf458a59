/**
 * `stack ps`: the project's containers (running ones; -a for all), as a table or JSON,
 * with their state, health and published ports.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadProject } from '../../engine/index.js';
import { StackError } from '../../engine/errors.js';
import { serviceImageName } from '../../engine/image/service-image.js';
import { NftFirewall } from '../../engine/network/firewall/nft-firewall.js';
import { LABELS, projectRecords } from '../../engine/reconcile/project-containers.js';
import { Containers } from '../../engine/runtime/containers.js';
import { readHealth } from '../../engine/supervisor/health.js';
import { containerDirs, enginePaths } from '../../engine/runtime/paths.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { loadOptionsFrom } from './config.js';

interface Row {
  Name: string;
  Service: string;
  Image: string;
  Command: string;
  State: string;
  Status: string;
  ExitCode: number;
  Created: string;
  /** the healthcheck's verdict, empty without one */
  Health: string;
  Publishers: Array<{ URL: string; PublishedPort: number; TargetPort: number; Protocol: string }>;
}

export const psCommand: Command = {
  name: 'ps',
  summary: "List the project's containers",
  usage: 'stack ps [OPTIONS] [SERVICE...]',
  options: [
    { name: 'all', short: 'a', type: 'boolean', description: 'show stopped containers too' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default) or json' },
    { name: 'quiet', short: 'q', type: 'boolean', description: 'only container names' },
    { name: 'services', type: 'boolean', description: 'only service names' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const format = (options.format as string | undefined) ?? 'table';
    if (format !== 'table' && format !== 'json') throw new StackError(`--format ${format}: expected table or json`);
    const { project } = loadProject(loadOptionsFrom(ctx));
    for (const s of services) if (!project.services[s]) throw new StackError(`no such service: ${s}`, { kind: 'not-found' });
    const paths = enginePaths(ctx.env);
    const containers = new Containers(paths);
    const ports = new NftFirewall().publishedPorts();
    const rows: Row[] = [];
    for (const rec of projectRecords(containers, project.name)) {
      const service = rec.labels[LABELS.service] ?? '';
      if (services.length > 0 && !services.includes(service)) continue;
      const state = await containers.status(rec.id);
      if (state !== 'running' && !options.all) continue;
      const exit = containers.exitStatus(rec.id);
      const model = project.services[service];
      const health = state === 'running' ? readHealth(paths, rec.id)?.status ?? '' : '';
      rows.push({
        Name: rec.name,
        Service: service,
        Image: model ? serviceImageName(project.name, model) : rec.labels[LABELS.image] ?? '',
        Command: commandOf(paths, rec.id),
        State: state,
        Status: state === 'running' ? `Up ${ago(rec.created)}${health ? ` (${health})` : ''}` : state === 'exited' ? `Exited (${exit?.code ?? '?'})${exit?.oomKilled ? ' (OOM killed)' : ''}` : state === 'created' ? 'Created' : 'Unknown',
        ExitCode: exit?.code ?? 0,
        Created: rec.created,
        Health: health,
        Publishers: ports
          .filter((p) => p.owner === rec.id)
          .map((p) => ({ URL: p.hostIp, PublishedPort: p.hostPort, TargetPort: p.containerPort, Protocol: p.protocol })),
      });
    }
    rows.sort((a, b) => a.Name.localeCompare(b.Name));
    if (options.services) {
      for (const s of [...new Set(rows.map((r) => r.Service))]) ctx.stdout(`${s}\n`);
    } else if (options.quiet) {
      for (const r of rows) ctx.stdout(`${r.Name}\n`);
    } else if (format === 'json') {
      ctx.stdout(`${JSON.stringify(rows)}\n`);
    } else {
      const table = [['NAME', 'IMAGE', 'COMMAND', 'SERVICE', 'STATUS', 'PORTS'], ...rows.map((r) => [r.Name, r.Image, truncate(r.Command, 24), r.Service, r.Status, r.Publishers.map((p) => `${p.URL}:${p.PublishedPort}->${p.TargetPort}/${p.Protocol}`).join(', ')])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) ctx.stdout(`${row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')}\n`);
    }
    return 0;
  },
};

function commandOf(paths: ReturnType<typeof enginePaths>, id: string): string {
  try {
    const spec = JSON.parse(readFileSync(path.join(containerDirs(paths, id).bundle, 'config.json'), 'utf8')) as { process?: { args?: string[] } };
    return JSON.stringify((spec.process?.args ?? []).join(' '));
  } catch {
    return '';
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 4)}..."` : s;
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  if (s < 3600) return `${Math.round(s / 60)} minute${Math.round(s / 60) === 1 ? '' : 's'}`;
  return `${Math.round(s / 3600)} hour${Math.round(s / 3600) === 1 ? '' : 's'}`;
}
