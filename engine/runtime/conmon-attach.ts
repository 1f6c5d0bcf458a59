/**
 * conmon's attach socket: `attach` in the bundle, SOCK_SEQPACKET, one client connection per
 * attached session. Each record conmon sends is one read of the container's stdout or
 * stderr, prefixed with a byte naming the stream (conmon's stdpipe_t: 2 stdout, 3 stderr);
 * what a client sends is raw input for the container's stdin, and shutting down its writing
 * side ends that input, if conmon was started to close stdin then (`-i` without
 * `--leave-stdin-open`). conmon closes every connection as the container exits, just
 * before it writes the exit file.
 */
import path from 'node:path';
import type { Writable } from 'node:stream';
import { connectSeqpacket } from '../sys/unix-seqpacket.js';

const STDOUT = 2;
const STDERR = 3;
/**
 * conmon reads a client record into a buffer of CONN_SOCK_BUF_SIZE (32 KiB) and the rest
 * of a longer one is lost, so input goes in records no longer than that
 */
const MAX_INPUT_RECORD = 32 * 1024;

export interface AttachStreams {
  /** forwarded to the container's stdin; its end ends the container's input when conmon closes stdin on it */
  stdin?: NodeJS.ReadableStream;
  stdout: Writable;
  stderr: Writable;
}

export interface AttachSession {
  /** disconnects; the container goes on */
  detach(): void;
  /** 'exited' once conmon closed the connection (the container exited), 'detached' after detach() */
  closed: Promise<'exited' | 'detached'>;
}

export function attachSocketPath(bundle: string): string {
  return path.join(bundle, 'attach');
}

/** Connects to conmon's attach socket in `bundle`; a failed connect throws a SysError (ENOENT, ECONNREFUSED ...). */
export function attachToMonitor(bundle: string, streams: AttachStreams): AttachSession {
  const sock = connectSeqpacket(attachSocketPath(bundle));
  const input = streams.stdin;
  let detached = false;
  const resumeSock = () => sock.resume();
  const resumeInput = () => input?.resume();

  const onRecord = (record: Buffer) => {
    const out = record[0] === STDOUT ? streams.stdout : record[0] === STDERR ? streams.stderr : undefined;
    // conmon sends no other stream; a record without data carries nothing
    if (!out || record.length < 2) return;
    // a slow reader slows conmon, which blocks on this socket, and so the container's output
    if (!out.write(record.subarray(1))) {
      sock.pause();
      out.once('drain', resumeSock);
    }
  };
  const onInput = (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let ok = true;
    for (let off = 0; off < data.length; off += MAX_INPUT_RECORD) ok = sock.write(data.subarray(off, off + MAX_INPUT_RECORD));
    if (!ok) {
      input?.pause();
      sock.once('drain', resumeInput);
    }
  };
  const onInputEnd = () => sock.end();

  const stopInput = () => {
    if (!input) return;
    input.off('data', onInput);
    input.off('end', onInputEnd);
    sock.off('drain', resumeInput);
    // we set it flowing; left so, it would lose what it reads (and keep a process's stdin open)
    input.pause();
  };

  const closed = new Promise<'exited' | 'detached'>((resolve, reject) => {
    sock.on('data', onRecord);
    sock.on('close', () => {
      stopInput();
      streams.stdout.off('drain', resumeSock);
      streams.stderr.off('drain', resumeSock);
      // the output streams may still hold records a slow reader has not taken: settle only
      // once each has processed everything written to it (writes complete in order, so an
      // empty write's callback runs after all of them)
      const flushed = (w: NodeJS.WritableStream) => new Promise<void>((done) => void w.write(Buffer.alloc(0), () => done()));
      void Promise.all([flushed(streams.stdout), flushed(streams.stderr)]).then(() => resolve(detached ? 'detached' : 'exited'));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // conmon closing the connection under a write of ours, as the container exits
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return;
      reject(e);
    });
  });
  if (input) {
    input.on('data', onInput);
    input.on('end', onInputEnd);
    input.resume();
  }
  return {
    detach() {
      if (detached || sock.destroyed) return;
      detached = true;
      sock.destroy();
    },
    closed,
  };
}
