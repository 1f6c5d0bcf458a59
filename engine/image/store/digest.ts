/**
 * Content addresses. The store only speaks sha256 (what every registry and tool writes);
 * any other algorithm in an archive is refused up front rather than trusted unchecked.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StackError } from '../../errors.js';

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function isDigest(s: string): boolean {
  return SHA256_DIGEST.test(s);
}

/** The digest checked for shape, or a user error naming what carried it. */
export function checkDigest(digest: unknown, what: string): string {
  if (typeof digest === 'string' && SHA256_DIGEST.test(digest)) return digest;
  if (typeof digest === 'string' && ANY_DIGEST.test(digest) && !digest.startsWith('sha256:')) {
    throw new StackError(`${what}: digest algorithm of ${digest} is not supported`, { kind: 'unsupported', hint: 'only sha256 digests are supported' });
  }
  throw new StackError(`${what}: invalid digest ${JSON.stringify(digest)}`, { hint: 'a digest is sha256: followed by 64 lowercase hex digits' });
}

export function digestHex(digest: string): string {
  return checkDigest(digest, 'digest').slice('sha256:'.length);
}

/** Passes bytes through unchanged while hashing and counting them. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export type ByteSource = Buffer | string | NodeJS.ReadableStream;

/** Copies a buffer, file (by path) or stream into `file`, flushed to disk, and returns what it hashed. */
export async function copyHashed(input: ByteSource, file: string): Promise<{ digest: string; size: number }> {
  const source = Buffer.isBuffer(input) ? Readable.from([input]) : typeof input === 'string' ? createReadStream(input) : input;
  const hasher = new HashingStream();
  await pipeline(source, hasher, createWriteStream(file, { flags: 'wx', mode: 0o644, flush: true }));
  return { digest: hasher.digest(), size: hasher.size };
}

export async function hashFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Passes bytes through and fails at the end of the stream if they do not hash to `expected`. */
export class VerifyingStream extends HashingStream {
  constructor(
    private readonly expected: string,
    private readonly mismatch: (actual: string) => Error,
  ) {
    super();
  }

  override _flush(done: TransformCallback): void {
    const actual = this.digest();
    done(actual === this.expected ? null : this.mismatch(actual));
  }
}
