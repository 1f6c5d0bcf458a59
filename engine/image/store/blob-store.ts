/**
 * `blobs/sha256/<hex>` of the OCI layout. A blob is written to the store's tmp dir, hashed
 * on the way, flushed, and renamed into place, so a blob file that exists is complete;
 * reads check the content against its name, so a damaged store is reported as such
 * instead of producing a wrong image.
 */
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StackError } from '../../errors.js';
import { checkDigest, copyHashed, sha256, VerifyingStream, type ByteSource } from './digest.js';

export class BlobStore {
  readonly dir: string;

  constructor(
    layoutDir: string,
    private readonly tmp: () => string,
  ) {
    this.dir = path.join(layoutDir, 'blobs', 'sha256');
  }

  path(digest: string): string {
    return path.join(this.dir, checkDigest(digest, 'blob').slice('sha256:'.length));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  size(digest: string): number {
    return statSync(this.path(digest)).size;
  }

  read(digest: string): Buffer {
    let data: Buffer;
    try {
      data = readFileSync(this.path(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing(digest, this.dir);
      throw e;
    }
    const actual = sha256(data);
    if (actual !== digest) throw corrupt(digest, actual, this.dir);
    return data;
  }

  readJson<T>(digest: string): T {
    const data = this.read(digest);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (e) {
      throw new StackError(`blob ${digest} in the image store is not valid JSON`, { kind: 'system', cause: e, hint: repairHint(this.dir) });
    }
  }

  /** The blob's bytes as a stream that fails at its end if they do not match the digest. */
  openVerified(digest: string): Readable {
    const file = this.path(digest);
    if (!existsSync(file)) throw missing(digest, this.dir);
    const verifier = new VerifyingStream(digest, (actual) => corrupt(digest, actual, this.dir));
    return createReadStream(file)
      .on('error', (e) => verifier.destroy(e))
      .pipe(verifier);
  }

  async write(data: ByteSource, expectedDigest?: string): Promise<{ digest: string; size: number }> {
    if (expectedDigest !== undefined) checkDigest(expectedDigest, 'expected blob digest');
    const tmpFile = path.join(this.tmp(), 'blob');
    try {
      const { digest, size } = await copyHashed(data, tmpFile);
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        throw new StackError(`content does not match its digest: expected ${expectedDigest}, got ${digest}`, {
          kind: 'invalid',
          hint: 'the source is damaged or was changed after its digest was recorded',
        });
      }
      this.adopt(tmpFile, digest);
      return { digest, size };
    } finally {
      rmSync(path.dirname(tmpFile), { recursive: true, force: true });
    }
  }

  /**
   * Moves a file already known to hash to `digest` into place (same filesystem). Replacing
   * an existing blob is harmless (same bytes) and repairs one that was damaged.
   */
  adopt(file: string, digest: string): void {
    mkdirSync(this.dir, { recursive: true });
    renameSync(file, this.path(digest));
  }

  remove(digest: string): number {
    const file = this.path(digest);
    try {
      const { size } = statSync(file);
      rmSync(file);
      return size;
    } catch {
      return 0;
    }
  }

  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((n) => `sha256:${n}`);
  }
}

function repairHint(dir: string): string {
  return `the image store under ${path.dirname(path.dirname(dir))} is damaged; remove the image (stack rmi --force) and load or import it again`;
}

function missing(digest: string, dir: string): StackError {
  return new StackError(`blob ${digest} is missing from the image store`, { kind: 'system', hint: repairHint(dir) });
}

function corrupt(digest: string, actual: string, dir: string): StackError {
  return new StackError(`blob ${digest} in the image store is corrupt: its content hashes to ${actual}`, { kind: 'system', hint: repairHint(dir) });
}
