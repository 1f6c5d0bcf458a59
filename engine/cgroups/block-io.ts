/**
 * Bytes a cgroup read from and wrote to block devices (`stats`' BLOCK I/O), from whichever
 * of its directories has them: io.stat on cgroup v2, the blkio controller's throttle
 * counters on v1 (counted for every device, whatever the I/O scheduler, and with the
 * cgroup's sub-cgroups in the _recursive file).
 */
import path from 'node:path';
import { readOptional } from './cgroup-fs.js';

export interface BlockIo {
  read: number;
  write: number;
}

/** The first of `dirs` with block I/O counters; undefined when none has any. */
export function blockIo(dirs: readonly string[]): BlockIo | undefined {
  for (const dir of dirs) {
    const v2 = readOptional(path.join(dir, 'io.stat'));
    if (v2 !== undefined) return parseIoStat(v2);
    const v1 = readOptional(path.join(dir, 'blkio.throttle.io_service_bytes_recursive')) ?? readOptional(path.join(dir, 'blkio.throttle.io_service_bytes'));
    if (v1 !== undefined) return parseBlkioServiceBytes(v1);
  }
  return undefined;
}

/** v2 io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N ...` per device. */
export function parseIoStat(text: string): BlockIo {
  const out = { read: 0, write: 0 };
  for (const m of text.matchAll(/\b([rw])bytes=(\d+)/g)) out[m[1] === 'r' ? 'read' : 'write'] += Number(m[2]);
  return out;
}

/** v1 blkio.*io_service_bytes: `MAJ:MIN Read N`, `MAJ:MIN Write N`, ... and a `Total N` line. */
export function parseBlkioServiceBytes(text: string): BlockIo {
  const out = { read: 0, write: 0 };
  for (const m of text.matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm)) out[m[1] === 'Read' ? 'read' : 'write'] += Number(m[2]);
  return out;
}
