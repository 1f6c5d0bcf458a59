/**
 * Our terminal while attached to a container's pseudo-terminal: raw mode, so keys reach
 * the container as typed, and its size kept in step with ours through conmon's control
 * fifo (`1 <rows> <cols>`, as podman writes it), now and on every SIGWINCH.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export class LocalTerminal {
  private entered = false;
  private readonly onResize = () => this.resize();

  /** `bundle`: the dir conmon was given as its bundle (a container's, or an exec session's), where it keeps its `ctl` fifo */
  constructor(private readonly bundle: string) {}

  enter(): void {
    if (this.entered || !process.stdin.isTTY) return;
    this.entered = true;
    process.stdin.setRawMode(true);
    this.resize();
    process.on('SIGWINCH', this.onResize);
  }

  leave(): void {
    if (!this.entered) return;
    this.entered = false;
    process.removeListener('SIGWINCH', this.onResize);
    process.stdin.setRawMode(false);
  }

  private resize(): void {
    const { rows, columns } = process.stdout;
    if (!rows || !columns) return;
    let fd: number;
    try {
      // non-blocking: a conmon that is gone must not hang us
      fd = openSync(path.join(this.bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      return;
    }
    try {
      writeSync(fd, `1 ${rows} ${columns}\n`);
    } catch {
      // conmon went away between open and write: the container is ending
    } finally {
      closeSync(fd);
    }
  }
}
