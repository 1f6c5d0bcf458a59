import { StackError, type Location } from '../../errors.js';

const MAX_QUOTED = 80;

/**
 * A user error in one instruction: the message ends with the instruction as written, so a
 * reader sees which line is meant even without opening the file.
 */
export function instructionError(
  detail: string,
  where: { location: Location; original: string },
  hint?: string,
  cause?: unknown,
): StackError {
  const text = where.original.length > MAX_QUOTED ? `${where.original.slice(0, MAX_QUOTED - 1)}…` : where.original;
  return new StackError(`${detail} in "${text}"`, { kind: 'invalid', location: where.location, hint, cause });
}
