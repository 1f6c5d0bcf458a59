/**
 * Reading a tar as a stream of entries, pulling bytes only as the consumer takes them, so
 * a layer of any size passes through in chunks and the writer's pace throttles the source.
 */
import { StackError } from '../../errors.js';
import {
  BLOCK_SIZE,
  decodeHeader,
  decodePaxRecords,
  entryType,
  type EntryType,
  invalidTar,
  MAX_SPECIAL_SIZE,
  PAX_XATTR_PREFIX,
  paddingFor,
  type RawHeader,
  type TarEntry,
} from './tar-header.js';

/** Exact-size reads over a chunk iterator. */
export class ByteSource {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private ended = false;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  /** `n` bytes, or fewer only when the input ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.pendingBytes < n && (await this.fill()));
    const parts: Buffer[] = [];
    let want = Math.min(n, this.pendingBytes);
    while (want > 0) {
      const part = this.take(want);
      parts.push(part);
      want -= part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Exactly `n` bytes in the chunks they arrive in. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.pendingBytes === 0 && !(await this.fill())) throw invalidTar('the archive ends in the middle of an entry');
      const part = this.take(n);
      n -= part.length;
      yield part;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n));
  }

  /** Reads the input to its end: its digest covers every byte, padding after the tar included. */
  async drain(): Promise<void> {
    this.pending.length = 0;
    this.pendingBytes = 0;
    while (await this.fill()) {
      this.pending.length = 0;
      this.pendingBytes = 0;
    }
  }

  /** Stops reading early; the input is released. */
  async close(): Promise<void> {
    if (!this.ended) await this.chunks.return?.();
    this.ended = true;
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.chunks.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    if (r.value.length > 0) {
      this.pending.push(r.value);
      this.pendingBytes += r.value.length;
    }
    return true;
  }

  private take(max: number): Buffer {
    const first = this.pending[0]!;
    if (first.length <= max) {
      this.pending.shift();
      this.pendingBytes -= first.length;
      return first;
    }
    this.pending[0] = first.subarray(max);
    this.pendingBytes -= max;
    return first.subarray(0, max);
  }
}

export interface TarItem {
  entry: TarEntry;
  /** The entry's data (regular files); what is not read is skipped when the next item is asked for. */
  data(): AsyncGenerator<Buffer>;
}

/**
 * The entries of a tar, with PAX and GNU long-name headers folded into the entry they
 * describe. Like Go's reader (what docker extracts with): only regular files have data,
 * whatever size the header of another type claims, and an archive that just stops after a
 * whole entry is complete.
 */
export async function* readTar(src: ByteSource): AsyncGenerator<TarItem> {
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await src.read(BLOCK_SIZE);
    if (block.length === 0) return;
    if (block.length < BLOCK_SIZE) throw invalidTar('the archive ends in the middle of a header');
    const header = decodeHeader(block);
    if (!header) {
      const second = await src.read(BLOCK_SIZE);
      if (second.every((b) => b === 0)) return;
      throw invalidTar('an empty block is followed by more data');
    }
    switch (header.typeflag) {
      case 'x':
        pax = decodePaxRecords(await special(src, header));
        continue;
      case 'g':
        // global defaults; docker ignores them too
        await special(src, header);
        continue;
      case 'L':
        longName = cString(await special(src, header));
        continue;
      case 'K':
        longLink = cString(await special(src, header));
        continue;
    }
    const type = entryType(header.typeflag);
    if (!type) {
      const what = header.typeflag === 'S' ? 'a GNU sparse file' : `entry type ${JSON.stringify(header.typeflag)}`;
      throw new StackError(`layer entry "${header.name}" is ${what}, which is not supported`, { kind: 'unsupported' });
    }
    const entry = toEntry(header, type, pax);
    if (longName !== undefined) entry.name = longName;
    if (longLink !== undefined) entry.linkname = longLink;
    pax = longName = longLink = undefined;

    let remaining = entry.size;
    yield {
      entry,
      async *data() {
        for await (const part of src.stream(remaining)) {
          remaining -= part.length;
          yield part;
        }
      },
    };
    await src.skip(remaining + paddingFor(entry.size).length);
  }
}

async function special(src: ByteSource, header: RawHeader): Promise<Buffer> {
  if (header.size > MAX_SPECIAL_SIZE) throw invalidTar(`an extended header of ${header.size} bytes is larger than ${MAX_SPECIAL_SIZE}`);
  const data = await src.read(header.size);
  if (data.length < header.size) throw invalidTar('the archive ends in the middle of an extended header');
  await src.skip(paddingFor(header.size).length);
  return data;
}

function toEntry(h: RawHeader, type: EntryType, pax: Map<string, Buffer> | undefined): TarEntry {
  const entry: TarEntry = {
    name: h.name,
    type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    mtime: h.mtime,
    size: h.size,
    linkname: h.linkname,
    devmajor: h.devmajor,
    devminor: h.devminor,
    xattrs: new Map(),
  };
  for (const [key, value] of pax ?? []) {
    if (value.length === 0) continue;
    const text = value.toString('utf8');
    if (key === 'path') entry.name = text;
    else if (key === 'linkpath') entry.linkname = text;
    else if (key === 'size') entry.size = paxInteger(key, text);
    else if (key === 'uid') entry.uid = paxInteger(key, text);
    else if (key === 'gid') entry.gid = paxInteger(key, text);
    else if (key === 'mtime') entry.mtime = paxTime(text);
    else if (key.startsWith(PAX_XATTR_PREFIX)) entry.xattrs.set(key.slice(PAX_XATTR_PREFIX.length), value);
    else if (key.startsWith('GNU.sparse.')) {
      throw new StackError(`layer entry "${entry.name}" is a GNU sparse file, which is not supported`, { kind: 'unsupported' });
    }
  }
  if (type !== 'file') entry.size = 0;
  return entry;
}

function paxInteger(key: string, text: string): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw invalidTar(`PAX ${key} ${JSON.stringify(text)} is not a valid number`);
  return n;
}

/** Seconds, possibly negative and with a fraction: the layer keeps whole seconds. */
function paxTime(text: string): number {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(text)) throw invalidTar(`PAX mtime ${JSON.stringify(text)} is not a valid time`);
  const seconds = Math.floor(Number(text));
  if (!Number.isSafeInteger(seconds)) throw invalidTar(`PAX mtime ${JSON.stringify(text)} is out of range`);
  return seconds;
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.toString('utf8', 0, nul < 0 ? buf.length : nul);
}
