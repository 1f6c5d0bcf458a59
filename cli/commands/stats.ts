/**
 * `stack stats [SERVICE...]`: CPU, memory, network, block I/O and pids of the services'
 * running containers, in docker's columns and units. On a terminal the table refreshes
 * every second until Ctrl-C; --no-stream (the default elsewhere) prints one. CPU % is the
 * CPU time used between two samples over the time between them (100% is one core).
 */
import { StackError } from '../../engine/errors.js';
import { sampleUsage, type ContainerUsage } from '../../engine/runtime/container-usage.js';
import type { ContainerRecord } from '../../engine/runtime/containers.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { openProject, scopeContainers, type ProjectScope } from '../project-scope.js';
import { formatTable } from '../render/table.js';

/** how far apart the two samples of a --no-stream CPU % are */
const SAMPLE_MS = 500;
const REFRESH_MS = 1000;

/** docker's fields (`docker stats --format json`), all strings as docker has them */
interface StatsRow {
  BlockIO: string;
  CPUPerc: string;
  Container: string;
  ID: string;
  MemPerc: string;
  MemUsage: string;
  Name: string;
  NetIO: string;
  PIDs: string;
}

export const statsCommand: Command = {
  name: 'stats',
  summary: "Show the resource use of the services' containers",
  usage: 'stack stats [OPTIONS] [SERVICE...]',
  options: [
    { name: 'no-stream', type: 'boolean', description: 'print once and return (the default when the output is no terminal)' },
    { name: 'format', type: 'string', value: 'FORMAT', description: 'table (default) or json (one object per container and line)' },
    { name: 'all', short: 'a', type: 'boolean', description: 'stopped containers too' },
  ],
  async run(ctx: CommandContext, options: OptionValues, services: string[]): Promise<number> {
    const format = (options.format as string | undefined) ?? 'table';
    if (format !== 'table' && format !== 'json') throw new StackError(`--format ${format}: expected table or json`);
    const scope = openProject(ctx, services);
    const stream = options['no-stream'] !== true && process.stdout.isTTY === true;
    const print = (rows: StatsRow[]) => {
      if (format === 'json') {
        for (const r of rows) ctx.stdout(`${JSON.stringify(r)}\n`);
        return;
      }
      const header = ['NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];
      ctx.stdout(formatTable([header, ...rows.map((r) => [r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs])], { padding: 3, minWidth: 10 }));
    };
    let previous = await sampleAll(scope, options.all === true);
    if (!stream) {
      await sleep(SAMPLE_MS);
      print(rowsOf(previous, await sampleAll(scope, options.all === true)));
      return 0;
    }
    let interrupted = false;
    const onSigint = () => {
      interrupted = true;
    };
    process.on('SIGINT', onSigint);
    try {
      while (!interrupted) {
        await sleep(REFRESH_MS);
        const current = await sampleAll(scope, options.all === true);
        ctx.stdout('\x1b[2J\x1b[H');
        print(rowsOf(previous, current));
        previous = current;
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    return 130;
  },
};

interface Sample {
  rec: ContainerRecord;
  usage: ContainerUsage | undefined;
}

async function sampleAll(scope: ProjectScope, all: boolean): Promise<Sample[]> {
  const { containers } = scope.reconciler;
  const cgroups = scope.reconciler.services.factory.cgroups;
  const out: Sample[] = [];
  for (const rec of scopeContainers(scope, { oneOff: true })) {
    const usage = (await containers.status(rec.id)) === 'running' ? sampleUsage(cgroups, containers, scope.project.name, rec.id) : undefined;
    if (usage || all) out.push({ rec, usage });
  }
  return out;
}

function rowsOf(before: readonly Sample[], after: readonly Sample[]): StatsRow[] {
  return after.map(({ rec, usage }) => {
    const prev = before.find((s) => s.rec.id === rec.id)?.usage;
    const cpu = usage && prev && usage.at > prev.at ? ((usage.cpuNs - prev.cpuNs) / ((usage.at - prev.at) * 1e6)) * 100 : 0;
    return {
      BlockIO: usage?.block ? `${decimalSize(usage.block.read)} / ${decimalSize(usage.block.write)}` : '0B / 0B',
      CPUPerc: `${Math.max(0, cpu).toFixed(2)}%`,
      Container: rec.id,
      ID: rec.id,
      MemPerc: `${(usage && usage.memoryLimit > 0 ? (usage.memory / usage.memoryLimit) * 100 : 0).toFixed(2)}%`,
      MemUsage: usage ? `${binarySize(usage.memory)} / ${binarySize(usage.memoryLimit)}` : '0B / 0B',
      Name: rec.name,
      NetIO: usage?.net ? `${decimalSize(usage.net.rx)} / ${decimalSize(usage.net.tx)}` : '0B / 0B',
      PIDs: String(usage?.pids ?? 0),
    };
  });
}

/** go-units' BytesSize: powers of 1024, 4 significant digits (`1.5MiB`) */
export function binarySize(n: number): string {
  return scaled(n, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'], 4);
}

/** go-units' HumanSizeWithPrecision(n, 3): powers of 1000 (`12.3kB`) */
export function decimalSize(n: number): string {
  return scaled(n, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB'], 3);
}

function scaled(n: number, base: number, units: readonly string[], digits: number): string {
  let i = 0;
  while (n >= base && i < units.length - 1) {
    n /= base;
    i++;
  }
  return `${Number(n.toPrecision(digits))}${units[i]}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
