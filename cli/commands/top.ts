/**
 * `stack top [SERVICE...]`: the processes of the services' running containers (those in
 * each container's cgroup, exec'd ones included), in `ps -ef`'s columns, one table for
 * all, as compose prints it.
 */
import { readFileSync } from 'node:fs';
import { LABELS } from '../../engine/reconcile/project-containers.js';
import { readProcess, type ProcessEntry } from '../../engine/runtime/process-table.js';
import type { Command, CommandContext, OptionValues } from '../command.js';
import { openProject, scopeContainers } from '../project-scope.js';
import { formatTable } from '../render/table.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export const topCommand: Command = {
  name: 'top',
  summary: "Show the processes running in the services' containers",
  usage: 'stack top [SERVICE...]',
  options: [],
  async run(ctx: CommandContext, _options: OptionValues, services: string[]): Promise<number> {
    const scope = openProject(ctx, services);
    const { containers } = scope.reconciler;
    const cgroups = scope.reconciler.services.factory.cgroups;
    const users = hostUsers();
    const now = Date.now();
    const rows: string[][] = [];
    for (const rec of scopeContainers(scope, { oneOff: true })) {
      if ((await containers.status(rec.id)) !== 'running') continue;
      let pids: number[];
      try {
        pids = cgroups.pids(scope.project.name, rec.id);
      } catch {
        continue; // exited since its status was read
      }
      const procs = pids.map((pid) => readProcess(pid)).filter((p): p is ProcessEntry => p !== undefined).sort((a, b) => a.pid - b.pid);
      for (const p of procs) {
        rows.push([
          rec.labels[LABELS.service] ?? '',
          rec.labels[LABELS.number] ?? '',
          users.get(p.uid) ?? String(p.uid),
          String(p.pid),
          String(p.ppid),
          String(Math.floor((p.cpuMs * 100) / Math.max(1, now - p.startedAt))),
          startTime(p.startedAt, now),
          ttyName(p.tty),
          cpuTime(p.cpuMs),
          p.command,
        ]);
      }
    }
    if (rows.length > 0) ctx.stdout(formatTable([['SERVICE', '#', 'UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], ...rows], { padding: 2, minWidth: 4 }));
    return 0;
  },
};

/** uid -> name from the host's /etc/passwd: the names `ps` on the host would print */
function hostUsers(): Map<number, string> {
  const out = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid !== undefined && /^\d+$/.test(uid) && !out.has(Number(uid))) out.set(Number(uid), name);
    }
  } catch {
    // numbers then
  }
  return out;
}

/** ps's STIME: the time today, the day this year, else the year */
function startTime(ms: number, now: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  if (now - ms < 24 * 3600_000) return `${two(d.getHours())}:${two(d.getMinutes())}`;
  if (d.getFullYear() === new Date(now).getFullYear()) return `${MONTHS[d.getMonth()]}${two(d.getDate())}`;
  return String(d.getFullYear());
}

/** ps's TIME: [DD-]HH:MM:SS of CPU */
function cpuTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  const days = Math.floor(s / 86400);
  const hms = `${two(Math.floor((s % 86400) / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return days > 0 ? `${days}-${hms}` : hms;
}

/** tty_nr -> pts/N or ttyN; ? for none */
function ttyName(dev: number): string {
  if (dev === 0) return '?';
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return `tty${minor}`;
  return `${major},${minor}`;
}
