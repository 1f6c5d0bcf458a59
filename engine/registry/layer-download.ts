/**
 * One layer from a registry into the image store, streamed: the bytes are appended to the
 * blob's ingest file, hashed and counted, and extracted into a staging dir as they arrive,
 * so download and extraction overlap. A dropped connection is picked up where it stopped
 * (`Range`), and so is a pull that was interrupted: the ingest file's bytes are replayed
 * first. Nothing is stored until the size and digest are right (and the diffID is the one
 * the image config names); a blob that is wrong is deleted, ingest file and all.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync, statSync, truncateSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { Readable } from 'node:stream';
import { StackError } from '../errors.js';
import type { ImageStore, LayerRecord } from '../image/store/image-store.js';
import type { Descriptor } from '../image/store/oci-types.js';
import { withFileLock } from '../sys/flock.js';
import { RangeNotSatisfiable, type RegistryClient } from './registry-client.js';
import { isTransient } from './transport.js';

export interface LayerProgress {
  (phase: 'downloading' | 'retrying', bytes: number): void;
}

/** Content that is not what its descriptor promised: the ingest file goes too. */
class IntegrityError extends StackError {}

const ATTEMPTS = 5;
const INGEST_LOCK_MS = 30 * 60_000;

export async function downloadLayer(
  store: ImageStore,
  client: RegistryClient,
  repo: string,
  desc: Descriptor,
  expectedDiffId: string | undefined,
  progress: LayerProgress,
  signal?: AbortSignal,
): Promise<LayerRecord> {
  const ingest = store.ingestPath(desc.digest);
  return withFileLock(ingest, INGEST_LOCK_MS, async () => {
    // another process may have stored it while we waited
    const known = store.layerFromBlob(desc.digest);
    if (known) return known;
    let have = statSync(ingest).size;
    if (have > desc.size) {
      truncateSync(ingest, 0);
      have = 0;
    }
    const stage = store.stagingDir();
    // written by libuv's threads: the event loop stays free for hashing and extracting
    const out = createWriteStream(ingest, { flags: 'a' });
    let writeError: Error | undefined;
    out.on('error', (e) => (writeError ??= e));
    // every write queued so far lands (or fails) before the file is adopted or removed
    const closed = () => new Promise<void>((resolve) => (out.closed ? resolve() : (out.once('close', () => resolve()), out.end())));
    try {
      const hash = createHash('sha256');
      let total = 0;
      let complete = false;
      let downloadError: unknown;
      async function* counted(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of blobBytes(client, repo, desc, ingest, have, out, progress, signal)) {
            total += chunk.length;
            if (total > desc.size) throw wrongSize(desc, 'more');
            hash.update(chunk);
            yield chunk;
          }
          if (total !== desc.size) throw wrongSize(desc, total);
          complete = true;
        } catch (e) {
          downloadError = e;
          throw e;
        }
      }
      const bytes = counted();
      const { extractLayer } = await import('../image/layers/index.js');
      let diffId: string | undefined;
      let unpackError: unknown;
      try {
        ({ diffId } = await extractLayer(Readable.from(borrowed(bytes)), path.join(stage, 'diff')));
      } catch (e) {
        if (downloadError !== undefined) throw downloadError;
        unpackError = e;
      }
      // Damaged content usually breaks the gzip or tar stream before its end: the rest is
      // read all the same, so that the digest can tell damage from a layer made wrongly.
      // Whatever the unpacker left unread is read too (hashed and kept in the ingest file).
      while (!complete && !(await bytes.next()).done);
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest !== desc.digest) {
        throw new IntegrityError(`blob ${desc.digest} failed verification: its content hashes to ${digest}`, {
          kind: 'invalid',
          hint: 'the registry holds damaged content, or something between it and this machine changed it; nothing was stored',
        });
      }
      if (unpackError !== undefined) throw unpackFailure(desc, unpackError);
      if (expectedDiffId !== undefined && diffId !== expectedDiffId) {
        throw new IntegrityError(`layer ${desc.digest} unpacks to ${diffId}, but the image config says ${expectedDiffId}`, {
          kind: 'invalid',
          hint: 'the image was assembled wrongly; nothing was stored',
        });
      }
      await closed();
      if (writeError) throw writeError;
      return store.installLayer(stage, ingest, { diffId: diffId!, digest, size: desc.size, mediaType: desc.mediaType });
    } catch (e) {
      await closed();
      rmSync(stage, { recursive: true, force: true });
      if (e instanceof IntegrityError) rmSync(ingest, { force: true });
      throw e;
    }
  });
}

/**
 * The generator's values, without handing the generator over: a consumer that stops early
 * (and so returns the iterator it was given) leaves it open for the caller to read on.
 */
async function* borrowed<T>(it: AsyncGenerator<T>): AsyncGenerator<T> {
  for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
}

/** A blob that is what its manifest says but does not unpack: the image is broken, not the transfer. */
function unpackFailure(desc: Descriptor, e: unknown): Error {
  // the machine's trouble (a full disk, a failed syscall) is not the layer's: kept for the next try
  if (e instanceof StackError && e.kind !== 'invalid') return e;
  return new IntegrityError(`layer ${desc.digest} is not a valid layer: ${(e as Error).message}`, {
    kind: 'invalid',
    cause: e,
    hint: 'its content is what the manifest names, so the image was made wrongly; nothing was stored',
  });
}

/**
 * The blob's bytes in order: what the ingest file already holds, then the registry's from
 * there on, resumed with `Range` after a transient failure; each new byte is appended to
 * the ingest file before it is passed on.
 */
async function* blobBytes(
  client: RegistryClient,
  repo: string,
  desc: Descriptor,
  ingest: string,
  have: number,
  out: WriteStream,
  progress: LayerProgress,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  if (have > 0) {
    for await (const chunk of createReadStream(ingest, { start: 0, end: have - 1 }) as AsyncIterable<Buffer>) yield chunk;
  }
  let offset = have;
  let failures = 0;
  while (offset < desc.size) {
    signal?.throwIfAborted();
    let skip = 0;
    try {
      const res = await client.getBlob(repo, desc.digest, offset);
      // a registry that ignores Range starts over: drop what we have
      skip = offset - res.offset;
      // a stalled body yields nothing to notice the abort with: ending it does
      const stop = () => res.body.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', stop, { once: true });
      try {
        for await (const raw of res.body as AsyncIterable<Buffer>) {
          signal?.throwIfAborted();
          let chunk = raw;
          if (skip > 0) {
            const drop = Math.min(skip, chunk.length);
            skip -= drop;
            chunk = chunk.subarray(drop);
            if (chunk.length === 0) continue;
          }
          if (!out.write(chunk)) await once(out, 'drain', signal ? { signal } : {});
          offset += chunk.length;
          progress('downloading', offset);
          yield chunk;
        }
      } finally {
        signal?.removeEventListener('abort', stop);
        if (!res.body.destroyed) res.body.destroy();
      }
      // the body ended early: go on from where it stopped
      if (offset < desc.size) throw Object.assign(new Error('the connection closed before the blob was complete'), { code: 'UND_ERR_SOCKET' });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof RangeNotSatisfiable) throw wrongSize(desc, offset);
      if (!isTransient(e) || ++failures >= ATTEMPTS) {
        if (e instanceof StackError) throw e;
        throw client.transport.networkError(e);
      }
      progress('retrying', offset);
      await new Promise((r) => setTimeout(r, 200 * failures));
    }
  }
}

function wrongSize(desc: Descriptor, got: number | 'more'): IntegrityError {
  const what = got === 'more' ? `larger than the ${desc.size} bytes` : `${got} bytes, not the ${desc.size}`;
  return new IntegrityError(`blob ${desc.digest} is ${what} its manifest says`, {
    kind: 'invalid',
    hint: 'the registry holds damaged content or the manifest is wrong; nothing was stored',
  });
}
