/**
 * Reading conmon's k8s-file logs (`<RFC3339Nano time> <stream> <P|F> <text>` per record,
 * P records joined to the next F), whole or followed as they grow: `logs -f` and attached
 * `up` tail the file conmon writes, so they need no connection to anything running.
 */
import { closeSync, openSync, readFileSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

const RECORD = /^(\S+) (stdout|stderr) ([PF]) (.*)$/;

/** Parses records into lines; `partial` carries unfinished P records between calls. */
export function parseLogRecords(text: string, partial: Partial<Record<LogLine['stream'], string>> = {}): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    const m = RECORD.exec(line);
    if (!m) continue;
    const stream = m[2] as LogLine['stream'];
    const joined = (partial[stream] ?? '') + m[4]!;
    if (m[3] === 'P') {
      partial[stream] = joined;
      continue;
    }
    delete partial[stream];
    out.push({ time: m[1]!, stream, text: joined });
  }
  return out;
}

export interface LogSnapshot {
  lines: LogLine[];
  /** where the last complete line ends: a follow from here neither repeats nor misses a line */
  offset: number;
}

/**
 * The log's lines as the file holds them now. A line still being written (a record without
 * its newline, or P records without their F) is left to a follow from `offset`.
 */
export function readLog(file: string): LogSnapshot {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return { lines: [], offset: 0 };
  }
  const pending = new Set<string>();
  let offset = 0;
  let pos = 0;
  for (let nl = buf.indexOf(10, pos); nl >= 0; nl = buf.indexOf(10, pos)) {
    const m = RECORD.exec(buf.subarray(pos, nl).toString('utf8'));
    pos = nl + 1;
    if (m?.[3] === 'P') pending.add(m[2]!);
    else if (m) pending.delete(m[2]!);
    if (pending.size === 0) offset = pos;
  }
  return { lines: parseLogRecords(buf.subarray(0, offset).toString('utf8')), offset };
}

export interface FollowOptions {
  /** start at the end of the file instead of its beginning */
  fromEnd?: boolean;
  /** start at this byte offset (a readLog's `offset`) */
  from?: number;
  signal?: AbortSignal;
  /** a slow poll covers watches that miss events */
  pollMs?: number;
}

/**
 * Calls `onLine` for each line of the log as it is written, until `signal` aborts. A file
 * that does not exist yet is waited for; one that shrinks (a container re-created under the
 * same name) is read again from its start.
 */
export function followLog(file: string, onLine: (line: LogLine) => void, opts: FollowOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    let offset = opts.from ?? (opts.fromEnd ? sizeOf(file) : 0);
    let rest = '';
    const partial: Partial<Record<LogLine['stream'], string>> = {};
    let watcher: FSWatcher | undefined;
    const read = () => {
      const size = sizeOf(file);
      if (size < offset) {
        offset = 0;
        rest = '';
      }
      if (size === offset) return;
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - offset);
        const n = readSync(fd, buf, 0, buf.length, offset);
        offset += n;
        const text = rest + buf.subarray(0, n).toString('utf8');
        const cut = text.lastIndexOf('\n');
        rest = cut < 0 ? text : text.slice(cut + 1);
        if (cut >= 0) for (const l of parseLogRecords(text.slice(0, cut), partial)) onLine(l);
      } finally {
        closeSync(fd);
      }
    };
    const tryWatch = () => {
      if (watcher) return;
      try {
        watcher = watch(file, () => read());
      } catch {
        // not there yet: the poll picks it up
      }
    };
    const poll = setInterval(() => {
      tryWatch();
      read();
    }, opts.pollMs ?? 250);
    const stop = () => {
      clearInterval(poll);
      watcher?.close();
      read();
      resolve();
    };
    if (opts.signal?.aborted) return stop();
    opts.signal?.addEventListener('abort', stop, { once: true });
    tryWatch();
    read();
  });
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
