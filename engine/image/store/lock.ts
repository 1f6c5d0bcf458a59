/**
 * Serialises changes to the store between stack processes (and between async callers in
 * one process). The lock is a file created with link(2), which fails atomically when it
 * exists, holding `<pid> <token>`; a holder that died leaves a file naming a dead pid,
 * which the next caller takes over. Taking over renames the stale file aside first, so of
 * two callers that both saw it stale only one removes it: the other finds its rename
 * failing (or, if it moved a fresh lock, puts it back).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from '../../errors.js';

const POLL_MS = 25;

export class StoreLock {
  /** callers in this process queue here instead of polling the file */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly timeoutMs = 60_000,
  ) {}

  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(async () => {
      const token = await this.acquire();
      try {
        return await fn();
      } finally {
        this.release(token);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async acquire(): Promise<string> {
    const token = `${process.pid} ${randomBytes(8).toString('hex')}\n`;
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(tmp, token, { mode: 0o644 });
    const deadline = Date.now() + this.timeoutMs;
    try {
      for (;;) {
        try {
          linkSync(tmp, this.file);
          return token;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const holder = holderPid(readOrEmpty(this.file));
        if (holder !== undefined && !alive(holder)) {
          this.breakStale(holder);
          continue;
        }
        if (Date.now() > deadline) {
          throw new StackError(`the image store is locked by process ${holder ?? '(unknown)'}`, {
            kind: 'conflict',
            hint: `another stack command is changing images; if none is running, remove ${this.file}`,
          });
        }
        await sleep(POLL_MS + Math.floor(Math.random() * POLL_MS));
      }
    } finally {
      unlinkSync(tmp);
    }
  }

  private breakStale(deadPid: number): void {
    const aside = `${this.file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      renameSync(this.file, aside);
    } catch {
      return; // someone else moved it first
    }
    if (holderPid(readOrEmpty(aside)) !== deadPid) {
      // between our read and our rename another caller took over and locked: give it back
      try {
        linkSync(aside, this.file);
      } catch {
        // a third caller locked meanwhile; the one we moved finds its lock gone on release
      }
    }
    unlinkSync(aside);
  }

  private release(token: string): void {
    // only our own lock: after a takeover by mistake the file may hold someone else's token
    if (readOrEmpty(this.file) === token) unlinkSync(this.file);
  }
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function holderPid(content: string): number | undefined {
  const pid = Number.parseInt(content, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
