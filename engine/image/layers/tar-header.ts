/**
 * Tar headers as layer tars use them: ustar blocks, with PAX extended headers for what ustar
 * cannot hold (long or non-ASCII names, big ids and sizes, xattrs). Our own codec rather than
 * tar-stream's because PAX values must be bytes: a file capability (security.capability) is
 * binary, and tar-stream carries PAX values as UTF-8 strings, which corrupts every byte above
 * 0x7f both ways. Writing follows Go's archive/tar (what docker and containerd read and
 * write); reading also accepts GNU long names and the old v7 layout.
 */
import { StackError } from '../../errors.js';

export const BLOCK_SIZE = 512;
/** Go's limit for a PAX or GNU long-name header: bounds what a hostile tar makes us buffer. */
export const MAX_SPECIAL_SIZE = 1024 * 1024;
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK_SIZE);

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** the name as stored: relative, directories ending in `/` */
  name: string;
  type: EntryType;
  /** permission bits including setuid, setgid and sticky */
  mode: number;
  uid: number;
  gid: number;
  /** seconds since the epoch */
  mtime: number;
  /** bytes of data that follow (regular files only) */
  size: number;
  /** symlink target, or the earlier entry a hardlink names */
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

const TYPEFLAGS: Record<EntryType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };
const ENTRY_TYPES = new Map<string, EntryType>([
  ['0', 'file'],
  ['\0', 'file'],
  ['7', 'file'], // contiguous file: a regular file everywhere that matters
  ['1', 'link'],
  ['2', 'symlink'],
  ['3', 'char'],
  ['4', 'block'],
  ['5', 'dir'],
  ['6', 'fifo'],
]);

export const PAX_XATTR_PREFIX = 'SCHILY.xattr.';

// field offsets and lengths of the ustar header
const NAME = [0, 100] as const;
const MODE = [100, 8] as const;
const UID = [108, 8] as const;
const GID = [116, 8] as const;
const SIZE = [124, 12] as const;
const MTIME = [136, 12] as const;
const CHKSUM = [148, 8] as const;
const TYPEFLAG = 156;
const LINKNAME = [157, 100] as const;
const MAGIC = [257, 6] as const;
const VERSION = [263, 2] as const;
const DEVMAJOR = [329, 8] as const;
const DEVMINOR = [337, 8] as const;
const PREFIX = [345, 155] as const;

export function paddingFor(size: number): Buffer {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK_SIZE - rest);
}

// ---- writing

/** The header blocks of one entry: a PAX header and its records first when ustar is not enough. */
export function encodeEntry(e: TarEntry): Buffer {
  const pax = new Map<string, Buffer>();
  const split = splitUstarName(e.name);
  if (!split) pax.set('path', Buffer.from(e.name));
  const linkFits = isAscii(e.linkname) && e.linkname.length <= LINKNAME[1];
  if (!linkFits) pax.set('linkpath', Buffer.from(e.linkname));
  const numeric = (key: string, field: readonly [number, number], n: number): number => {
    if (fitsOctal(n, field[1])) return n;
    pax.set(key, Buffer.from(String(n)));
    return 0;
  };
  const uid = numeric('uid', UID, e.uid);
  const gid = numeric('gid', GID, e.gid);
  const size = numeric('size', SIZE, e.size);
  const mtime = numeric('mtime', MTIME, e.mtime);
  for (const [name, value] of e.xattrs) {
    if (name.includes('=')) {
      throw new StackError(`cannot pack ${e.name}: xattr name "${name}" contains "=", which a tar PAX record cannot hold`, { kind: 'unsupported' });
    }
    pax.set(PAX_XATTR_PREFIX + name, value);
  }
  if (!fitsOctal(e.devmajor, DEVMAJOR[1]) || !fitsOctal(e.devminor, DEVMINOR[1])) {
    throw new StackError(`cannot pack ${e.name}: device number ${e.devmajor}:${e.devminor} does not fit a tar header`, { kind: 'unsupported' });
  }

  const block = Buffer.alloc(BLOCK_SIZE);
  // under PAX the ustar name is only a hint for readers that ignore PAX, as in Go
  writeString(block, NAME, split ? split.name : toAscii(e.name));
  if (split) writeString(block, PREFIX, split.prefix);
  writeOctal(block, MODE, e.mode & 0o7777);
  writeOctal(block, UID, uid);
  writeOctal(block, GID, gid);
  writeOctal(block, SIZE, size);
  writeOctal(block, MTIME, mtime);
  block.write(TYPEFLAGS[e.type], TYPEFLAG, 'latin1');
  writeString(block, LINKNAME, linkFits ? e.linkname : toAscii(e.linkname));
  writeUstarMagic(block);
  writeOctal(block, DEVMAJOR, e.devmajor);
  writeOctal(block, DEVMINOR, e.devminor);
  writeChecksum(block);
  if (pax.size === 0) return block;

  const records = encodePaxRecords(pax);
  const paxBlock = Buffer.alloc(BLOCK_SIZE);
  writeString(paxBlock, NAME, 'PaxHeaders.0');
  writeOctal(paxBlock, MODE, 0o644);
  writeOctal(paxBlock, UID, 0);
  writeOctal(paxBlock, GID, 0);
  writeOctal(paxBlock, SIZE, records.length);
  writeOctal(paxBlock, MTIME, 0);
  paxBlock.write('x', TYPEFLAG, 'latin1');
  writeUstarMagic(paxBlock);
  writeOctal(paxBlock, DEVMAJOR, 0);
  writeOctal(paxBlock, DEVMINOR, 0);
  writeChecksum(paxBlock);
  return Buffer.concat([paxBlock, records, paddingFor(records.length), block]);
}

/** ustar's name/prefix split (Go's splitUSTARPath): ASCII only, cut at a `/`. */
function splitUstarName(name: string): { name: string; prefix: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= NAME[1]) return { name, prefix: '' };
  let limit = name.length;
  if (limit > PREFIX[1] + 1) limit = PREFIX[1] + 1;
  else if (name[limit - 1] === '/') limit--;
  const i = name.lastIndexOf('/', limit - 1);
  const rest = name.length - i - 1;
  if (i <= 0 || rest === 0 || rest > NAME[1] || i > PREFIX[1]) return undefined;
  return { name: name.slice(i + 1), prefix: name.slice(0, i) };
}

/** `len key=value\n`, where len counts the whole record including its own digits; sorted by key. */
function encodePaxRecords(records: Map<string, Buffer>): Buffer {
  const out: Buffer[] = [];
  for (const key of [...records.keys()].sort()) {
    const value = records.get(key)!;
    const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len++;
    out.push(Buffer.from(`${len} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(out);
}

/** `digits` octal digits and a NUL fill a field of digits+1 bytes. */
function fitsOctal(n: number, fieldLength: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n < 8 ** (fieldLength - 1);
}

function writeOctal(block: Buffer, [off, len]: readonly [number, number], n: number): void {
  block.write(n.toString(8).padStart(len - 1, '0'), off, len - 1, 'latin1');
}

function writeString(block: Buffer, [off, len]: readonly [number, number], s: string): void {
  block.write(s, off, len, 'latin1');
}

function writeUstarMagic(block: Buffer): void {
  block.write('ustar\0', MAGIC[0], 'latin1');
  block.write('00', VERSION[0], 'latin1');
}

function writeChecksum(block: Buffer): void {
  block.fill(0x20, CHKSUM[0], CHKSUM[0] + CHKSUM[1]);
  const sum = checksums(block).unsigned;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, CHKSUM[0], 'latin1');
}

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

function toAscii(s: string): string {
  return s.replace(/[^\x01-\x7f]/g, '');
}

// ---- reading

export interface RawHeader {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** One header block, or undefined for an all-zero block (the end-of-archive marker). */
export function decodeHeader(block: Buffer): RawHeader | undefined {
  if (block.every((b) => b === 0)) return undefined;
  const stored = parseNumber(block, CHKSUM);
  const { unsigned, signed } = checksums(block);
  // some old tars summed signed bytes; Go accepts both, and so do we
  if (stored !== unsigned && stored !== signed) throw invalidTar('a header checksum does not match (not a tar, or corrupted)');
  const magic = block.toString('latin1', MAGIC[0], MAGIC[0] + MAGIC[1] + VERSION[1]);
  const ustar = magic === 'ustar\x0000';
  const gnu = magic === 'ustar  \0';
  let name = readString(block, NAME);
  // GNU keeps access and change times where ustar has the prefix
  if (ustar && block[PREFIX[0]] !== 0) name = `${readString(block, PREFIX)}/${name}`;
  let typeflag = String.fromCharCode(block[TYPEFLAG]!);
  // pre-POSIX tars mark directories only by the trailing slash
  if (typeflag === '\0' && name.endsWith('/')) typeflag = '5';
  return {
    name,
    typeflag,
    mode: readNumber(block, MODE) & 0o7777,
    uid: readNumber(block, UID),
    gid: readNumber(block, GID),
    size: readNumber(block, SIZE),
    mtime: readNumber(block, MTIME),
    linkname: readString(block, LINKNAME),
    devmajor: ustar || gnu ? readNumber(block, DEVMAJOR) : 0,
    devminor: ustar || gnu ? readNumber(block, DEVMINOR) : 0,
  };
}

export function entryType(typeflag: string): EntryType | undefined {
  return ENTRY_TYPES.get(typeflag);
}

/** PAX records; values stay bytes (xattrs are binary), keys are UTF-8. */
export function decodePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    const lenText = space < 0 ? '' : data.toString('latin1', off, space);
    const len = /^[0-9]{1,9}$/.test(lenText) ? Number(lenText) : NaN;
    const end = off + len;
    if (!(len > 0) || end > data.length || data[end - 1] !== 0x0a) throw invalidTar('a PAX header record is malformed');
    const eq = data.indexOf(0x3d, space + 1);
    if (eq < 0 || eq >= end - 1) throw invalidTar('a PAX header record has no "="');
    out.set(data.toString('utf8', space + 1, eq), Buffer.from(data.subarray(eq + 1, end - 1)));
    off = end;
  }
  return out;
}

function checksums(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const b = i >= CHKSUM[0] && i < CHKSUM[0] + CHKSUM[1] ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 0x7f ? b - 0x100 : b;
  }
  return { unsigned, signed };
}

function readString(block: Buffer, [off, len]: readonly [number, number]): string {
  const nul = block.indexOf(0, off);
  return block.toString('utf8', off, nul < 0 || nul > off + len ? off + len : nul);
}

/** Octal padded with spaces or NULs, or GNU's base-256 (high bit set) for big values. */
function readNumber(block: Buffer, field: readonly [number, number]): number {
  const n = parseNumber(block, field);
  if (n === undefined) throw invalidTar(`a header number is not valid (${JSON.stringify(block.toString('latin1', field[0], field[0] + field[1]))})`);
  return n;
}

function parseNumber(block: Buffer, [off, len]: readonly [number, number]): number | undefined {
  const field = block.subarray(off, off + len);
  if (field[0]! & 0x80) {
    const negative = field[0] === 0xff;
    let n = BigInt(field[0]! & (negative ? 0xff : 0x7f));
    for (const b of field.subarray(1)) n = (n << 8n) | BigInt(b);
    if (negative) n -= 1n << BigInt(8 * len);
    const safe = n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER);
    return safe ? Number(n) : undefined;
  }
  const text = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined;
}

export function invalidTar(message: string): StackError {
  return new StackError(`invalid layer tar: ${message}`, { kind: 'invalid' });
}
