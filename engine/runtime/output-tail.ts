/**
 * An attached client's output made whole. conmon (2.1.6 here) relays each read of the
 * container's stdout and stderr to attach clients, but may drop what comes right before
 * the exit, and stops relaying to a client it could not write to; its log gets every
 * read. What attach delivered of a stream is thus a prefix of the stream in the log, and
 * once the container has exited, the rest is read from there.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';

export type StreamName = 'stdout' | 'stderr';

/**
 * Passes chunks on to `target`, with its backpressure, counting the bytes. Once the target
 * fails (a reader that went away: EPIPE), chunks are dropped and `onBroken` is told once,
 * so that the container, not this process, is what stops.
 */
export class CountingWritable extends Writable {
  bytes = 0;
  broken = false;
  private waiting: (() => void) | undefined;

  constructor(
    private readonly target: NodeJS.WritableStream,
    onBroken: () => void,
  ) {
    super();
    target.on('error', () => {
      if (this.broken) return;
      this.broken = true;
      this.waiting?.();
      onBroken();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.broken) return callback();
    this.bytes += chunk.length;
    if (this.target.write(chunk)) return callback();
    this.waiting = () => {
      this.waiting = undefined;
      this.target.off('drain', onDrain);
      callback();
    };
    const onDrain = this.waiting;
    this.target.once('drain', onDrain);
  }
}

/**
 * What the k8s-file log at `logFile` holds beyond the first `delivered` bytes of each
 * stream, in the log's order. Lines are `<time> <stream> <F|P> <bytes>`: F ends a line
 * (its newline was taken out), P is part of one.
 */
export function outputTail(logFile: string, delivered: Record<StreamName, number>): Array<{ stream: StreamName; data: Buffer }> {
  let log: Buffer;
  try {
    log = readFileSync(logFile);
  } catch {
    return [];
  }
  const seen: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  const out: Array<{ stream: StreamName; data: Buffer }> = [];
  for (let start = 0; start < log.length; ) {
    let end = log.indexOf(0x0a, start);
    if (end < 0) end = log.length;
    const record = parseRecord(log.subarray(start, end));
    start = end + 1;
    if (!record) continue;
    const { stream, data } = record;
    const skip = Math.max(0, delivered[stream] - seen[stream]);
    seen[stream] += data.length;
    if (skip < data.length) out.push({ stream, data: data.subarray(skip) });
  }
  return out;
}

function parseRecord(line: Buffer): { stream: StreamName; data: Buffer } | undefined {
  const first = line.indexOf(0x20);
  const second = line.indexOf(0x20, first + 1);
  if (first < 0 || second < 0 || line[second + 2] !== 0x20) return undefined;
  const stream = line.toString('latin1', first + 1, second);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const content = line.subarray(second + 3);
  return { stream, data: line[second + 1] === 0x46 /* F */ ? Buffer.concat([content, Buffer.from('\n')]) : content };
}
