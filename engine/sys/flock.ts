/**
 * Advisory whole-file locks (flock(2)) between processes. The kernel drops a lock with the
 * last descriptor of its open file, so a holder that dies never leaves a stale lock behind;
 * and since every call opens the file anew, two callers in one process exclude each other too.
 */
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import koffi from 'koffi';
import { StackError } from '../errors.js';
import { libc } from './libc.js';
import { errnoName, SysError } from './sys-error.js';

const flockFn = libc.func('int flock(int fd, int operation)');

const LOCK_EX = 2;
const LOCK_NB = 4;
const POLL_MS = 10;

/**
 * Runs `fn` holding an exclusive lock on `file` (created if missing). Polls rather than
 * blocks: a blocking flock would stall the event loop for as long as the holder keeps it.
 */
export async function withFileLock<T>(file: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  // node opens with O_CLOEXEC: children we spawn meanwhile do not inherit the lock
  const fd = openSync(file, 'a', 0o600);
  try {
    const deadline = Date.now() + timeoutMs;
    while (flockFn(fd, LOCK_EX | LOCK_NB) !== 0) {
      const code = errnoName(koffi.errno());
      if (code !== 'EWOULDBLOCK' && code !== 'EAGAIN' && code !== 'EINTR') throw new SysError('flock', [file, 'LOCK_EX'], code);
      if (Date.now() > deadline) throw new StackError(`${file} stayed locked for ${timeoutMs / 1000} s`, { kind: 'conflict', hint: 'another stack command holds it; try again when it is done' });
      await sleep(POLL_MS);
    }
    return await fn();
  } finally {
    closeSync(fd);
  }
}
