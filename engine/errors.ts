/**
 * The one error type users see. A StackError says what went wrong, where (file:line:col
 * of the stack file node when there is one), and how to fix it. The CLI prints it without
 * a stack trace; `--debug` adds the cause chain.
 */

export type ErrorKind = 'invalid' | 'not-found' | 'conflict' | 'unsupported' | 'system';

export interface Location {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
}

export interface StackErrorInit {
  kind?: ErrorKind;
  location?: Location | undefined;
  /** dotted path in the stack file model, e.g. services.web.ports.0 */
  path?: string | undefined;
  hint?: string | undefined;
  cause?: unknown;
}

export class StackError extends Error {
  readonly kind: ErrorKind;
  readonly location: Location | undefined;
  readonly path: string | undefined;
  readonly hint: string | undefined;

  constructor(message: string, init: StackErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'StackError';
    this.kind = init.kind ?? 'invalid';
    this.location = init.location;
    this.path = init.path;
    this.hint = init.hint;
  }

  /** `file:line:col: message` plus an indented hint line. */
  format(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    const hint = this.hint ? `\n  hint: ${this.hint}` : '';
    return `${where}${this.message}${hint}`;
  }
}

/** Several independent user errors reported together (schema validation, cross-field rules). */
export class StackErrors extends Error {
  readonly errors: readonly StackError[];

  constructor(errors: readonly StackError[]) {
    super(errors.length === 1 ? errors[0]!.message : `${errors.length} errors in the stack file`);
    this.name = 'StackErrors';
    this.errors = [...errors].sort(compareErrors);
  }

  format(): string {
    return this.errors.map((e) => e.format()).join('\n');
  }
}

export function formatLocation(loc: Location): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

function compareErrors(a: StackError, b: StackError): number {
  const la = a.location;
  const lb = b.location;
  if (!la || !lb) return la ? -1 : lb ? 1 : 0;
  return la.file.localeCompare(lb.file) || la.line - lb.line || la.col - lb.col;
}

/** Collects errors during a phase and throws them together at its end. */
export class ErrorList {
  readonly errors: StackError[] = [];

  add(error: StackError): void {
    this.errors.push(error);
  }

  get empty(): boolean {
    return this.errors.length === 0;
  }

  throwIfAny(): void {
    if (this.errors.length === 1) throw this.errors[0]!;
    if (this.errors.length > 1) throw new StackErrors(this.errors);
  }
}

export function isUserError(e: unknown): e is StackError | StackErrors {
  return e instanceof StackError || e instanceof StackErrors;
}
