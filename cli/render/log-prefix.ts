/**
 * Container output as compose prints it, for attached `up` and `logs`: `service-n | ` in
 * front of each line, names padded to the longest one plus a space, each service in its
 * own colour when the output is a terminal (compose's rainbow, in the order the services
 * come).
 */
import type { LogLine } from '../../engine/runtime/log-follow.js';
import { formatLogTime, logTimeNs } from '../../engine/runtime/log-time.js';
import { LABELS } from '../../engine/reconcile/project-containers.js';
import type { ContainerRecord } from '../../engine/runtime/containers.js';

/** cyan, yellow, green, magenta, blue, then their bold variants */
const COLORS = ['36', '33', '32', '35', '34', '36;1', '33;1', '32;1', '35;1', '34;1'];

/** `service-n`: how compose names a container in front of its lines */
export function containerLabel(rec: ContainerRecord): string {
  const service = rec.labels[LABELS.service];
  const number = rec.labels[LABELS.number];
  return service !== undefined && number !== undefined ? `${service}-${number}` : rec.name;
}

/** Colour for a terminal that has not asked for none (https://no-color.org). */
export function colorWanted(env: Readonly<Record<string, string | undefined>>, stream: { isTTY?: boolean } = process.stdout): boolean {
  return (env.NO_COLOR === undefined || env.NO_COLOR === '') && stream.isTTY === true;
}

export interface PrefixOptions {
  color: boolean;
  /** false: no `name | ` at all (`--no-log-prefix`) */
  prefix?: boolean;
  /** the record's time before the text (`-t`) */
  timestamps?: boolean;
}

/** Formats the lines of `records`' containers, keyed by container id. */
export class LogFormatter {
  private readonly prefixes = new Map<string, string>();
  private readonly colorOf = new Map<string, string>();
  private readonly width: number;

  constructor(
    records: readonly ContainerRecord[],
    private readonly opts: PrefixOptions,
  ) {
    this.width = Math.max(0, ...records.map((r) => containerLabel(r).length)) + 1;
    for (const rec of records) this.add(rec);
  }

  /** A container to format lines of, also one that appears while logs are followed. */
  add(rec: ContainerRecord): void {
    const service = rec.labels[LABELS.service] ?? rec.id;
    if (!this.colorOf.has(service)) this.colorOf.set(service, COLORS[this.colorOf.size % COLORS.length]!);
    const text = `${containerLabel(rec).padEnd(this.width)} | `;
    this.prefixes.set(rec.id, this.opts.color ? `\x1b[${this.colorOf.get(service)}m${text}\x1b[0m` : text);
  }

  /** One line of output, newline included. */
  line(id: string, line: LogLine): string {
    const prefix = this.opts.prefix === false ? '' : this.prefixes.get(id) ?? '';
    const ns = this.opts.timestamps ? logTimeNs(line.time) : undefined;
    const time = this.opts.timestamps ? `${ns !== undefined ? formatLogTime(ns) : line.time} ` : '';
    return `${prefix}${time}${line.text}\n`;
  }
}
