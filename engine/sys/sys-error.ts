import { constants } from 'node:os';
import { StackError } from '../errors.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** A failed system call or helper process, named with its arguments. */
export class SysError extends StackError {
  readonly call: string;
  readonly code: string;

  constructor(call: string, args: readonly unknown[], code: string, detail?: string, hint?: string) {
    super(`${call}(${args.map((a) => JSON.stringify(a)).join(', ')}) failed: ${code}${detail ? ` (${detail})` : ''}`, { kind: 'system', hint });
    this.name = 'SysError';
    this.call = call;
    this.code = code;
  }
}
