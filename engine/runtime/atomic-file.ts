/**
 * State files are written whole or not at all: write a temp file, fsync, rename. Files
 * that are derived again after a crash skip the fsync (`durable: false`): readers still
 * never see half a file, and the hot path of starting a container saves a disk flush.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

export function writeFileAtomic(file: string, data: string, opts: { durable?: boolean; mode?: number } = {}): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', opts.mode ?? 0o600);
  try {
    writeSync(fd, data);
    if (opts.durable !== false) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
