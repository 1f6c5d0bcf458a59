/**
 * What `ps -ef` shows of a process, read from /proc/<pid> (`stack top` lists the processes
 * in a container's cgroup): ids as the host sees them, start and CPU time, terminal, and
 * the command line.
 */
import { readFileSync } from 'node:fs';

/**
 * USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on every architecture Linux
 * runs on (the kernel converts its internal HZ for userspace).
 */
const CLOCK_TICKS = 100;

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** effective uid */
  uid: number;
  /** the controlling terminal's device number; 0 for none */
  tty: number;
  /** ms since the epoch */
  startedAt: number;
  /** user + system CPU time, ms */
  cpuMs: number;
  /** the arguments, or `[name]` for a process without any (a kernel thread, a zombie) */
  command: string;
}

/** The process, or undefined when it is gone. */
export function readProcess(pid: number, procRoot = '/proc'): ProcessEntry | undefined {
  let stat: string;
  let status: string;
  let cmdline: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    status = readFileSync(`${procRoot}/${pid}/status`, 'utf8');
    cmdline = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcess(pid, stat, status, cmdline, bootTimeMs(procRoot));
}

/** The pure part of readProcess: the contents of stat, status and cmdline. */
export function parseProcess(pid: number, stat: string, status: string, cmdline: string, bootMs: number): ProcessEntry {
  // the name is in parentheses and may contain anything, spaces and parentheses included
  const close = stat.lastIndexOf(')');
  const name = stat.slice(stat.indexOf('(') + 1, close);
  // fields from the 3rd (state) on: ppid is the 4th, tty_nr the 7th, utime/stime the 14th/15th, starttime the 22nd
  const f = stat.slice(close + 2).split(' ');
  const field = (n: number) => Number(f[n - 3] ?? 0);
  const uid = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
  const args = cmdline.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  return {
    pid,
    ppid: field(4),
    uid: uid ? Number(uid[1]) : 0,
    tty: field(7),
    startedAt: bootMs + (field(22) * 1000) / CLOCK_TICKS,
    cpuMs: ((field(14) + field(15)) * 1000) / CLOCK_TICKS,
    command: args.length > 0 ? args.join(' ') : `[${name}]`,
  };
}

function bootTimeMs(procRoot: string): number {
  const m = /^btime (\d+)$/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
  return m ? Number(m[1]) * 1000 : 0;
}
