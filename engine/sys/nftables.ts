/**
 * nftables through libnftables (the library behind the `nft` command) and its JSON API:
 * the engine builds rule sets as JSON and reads them back as JSON, so nothing parses nft's
 * text syntax, and one JSON batch is one kernel transaction (all of it applies or none).
 */
import koffi from 'koffi';
import { constants } from 'node:os';
import { libc } from './libc.js';
import { SysError } from './sys-error.js';

export type NftJson = string | number | boolean | null | NftJson[] | { [key: string]: NftJson };

/** one object of the JSON schema (libnftables-json(5)): `{ rule: { family, table, chain, expr } }` */
export type NftObject = { [kind: string]: { [field: string]: NftJson } };

export type NftVerb = 'add' | 'create' | 'insert' | 'replace' | 'delete' | 'flush';

/** one command of a batch: `{ add: { table: {...} } }` */
export type NftCommand = { [V in NftVerb]: { [K in V]: NftObject } }[NftVerb];

const lib = koffi.load('libnftables.so.1');
const Ctx = koffi.opaque('nft_ctx');
const ctxNew = lib.func('nft_ctx_new', koffi.pointer(Ctx), ['uint32_t']);
const ctxFree = lib.func('nft_ctx_free', 'void', [koffi.pointer(Ctx)]);
const setOutputFlags = lib.func('nft_ctx_output_set_flags', 'void', [koffi.pointer(Ctx), 'unsigned int']);
const bufferOutput = lib.func('nft_ctx_buffer_output', 'int', [koffi.pointer(Ctx)]);
const bufferError = lib.func('nft_ctx_buffer_error', 'int', [koffi.pointer(Ctx)]);
const outputBuffer = lib.func('nft_ctx_get_output_buffer', 'const char *', [koffi.pointer(Ctx)]);
const errorBuffer = lib.func('nft_ctx_get_error_buffer', 'const char *', [koffi.pointer(Ctx)]);
const runFromBuffer = lib.func('nft_run_cmd_from_buffer', 'int', [koffi.pointer(Ctx), 'const char *']);
const strerror = libc.func('const char *strerror(int errnum)');

const NFT_CTX_DEFAULT = 0;
/** With JSON output set, libnftables also takes JSON input (and still takes text commands). */
const NFT_CTX_OUTPUT_JSON = 1 << 4;
/** rule handles in listings: rules are deleted by handle */
const NFT_CTX_OUTPUT_HANDLE = 1 << 3;

/** A command nft refused: its message is nft's own error text; `command` is what was sent. */
export class NftError extends SysError {
  readonly command: string;
  readonly nftMessage: string;

  constructor(command: string, nftMessage: string) {
    const summary = command.length > 200 ? `${command.slice(0, 200)}...` : command;
    super('nft', [summary], errnoOf(nftMessage), errorLines(nftMessage));
    this.name = 'NftError';
    this.command = command;
    this.nftMessage = nftMessage;
  }
}

export class Nftables {
  private ctx: unknown;

  private constructor(ctx: unknown) {
    this.ctx = ctx;
  }

  static open(): Nftables {
    const ctx = ctxNew(NFT_CTX_DEFAULT);
    if (!ctx) throw new SysError('nft_ctx_new', [], 'ENOMEM');
    setOutputFlags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
    // without buffering, libnftables prints to the process' stdout and stderr
    if (bufferOutput(ctx) !== 0 || bufferError(ctx) !== 0) {
      ctxFree(ctx);
      throw new SysError('nft_ctx_buffer_output', [], 'ENOMEM');
    }
    return new Nftables(ctx);
  }

  /** Applies a batch as one transaction; returns nft's parsed output (null when it printed nothing). */
  run(commands: NftCommand[] | { nftables: NftCommand[] }): unknown {
    const batch = Array.isArray(commands) ? { nftables: commands } : commands;
    return this.exec(JSON.stringify(batch));
  }

  /** `list <what>`, e.g. 'table inet stack' or 'ruleset', as parsed JSON ({ nftables: [...] }). */
  list(what: string): unknown {
    return this.exec(`list ${what}`);
  }

  close(): void {
    if (this.ctx) ctxFree(this.ctx);
    this.ctx = null;
  }

  private exec(command: string): unknown {
    if (!this.ctx) throw new SysError('nft_run_cmd_from_buffer', [command], 'EBADF', 'context closed');
    const rc = runFromBuffer(this.ctx, command) as number;
    // reading a buffer also empties it for the next command: read both every time
    const out = (outputBuffer(this.ctx) as string | null) ?? '';
    const err = (errorBuffer(this.ctx) as string | null) ?? '';
    if (rc !== 0) throw new NftError(command, err.trim() || `nft_run_cmd_from_buffer returned ${rc}`);
    return out.trim() === '' ? null : JSON.parse(out);
  }
}

let errnoByMessage: Map<string, string> | undefined;

/**
 * nft reports a kernel refusal as strerror text ("Could not process rule: No such file or
 * directory"); the errno name lets callers tell a missing object from a real failure.
 * Anything else nft refuses (syntax, JSON schema) is EINVAL.
 */
function errnoOf(message: string): string {
  if (!errnoByMessage) {
    errnoByMessage = new Map();
    // aliases (EAGAIN and EWOULDBLOCK ...) share a text: the first name stands for both
    for (const [name, n] of Object.entries(constants.errno)) {
      const text = strerror(n) as string;
      if (!errnoByMessage.has(text)) errnoByMessage.set(text, name);
    }
  }
  let found: string | undefined;
  for (const text of errnoByMessage.keys()) {
    if (message.includes(`: ${text}`) && (!found || text.length > found.length)) found = text;
  }
  return found ? errnoByMessage.get(found)! : 'EINVAL';
}

/** nft's error lines without its position prefixes and caret lines */
function errorLines(message: string): string {
  const lines = message
    .split('\n')
    .filter((l) => l.includes('Error:'))
    .map((l) => l.slice(l.indexOf('Error:')).trim());
  return (lines.length ? lines : [message.trim()]).join(' / ');
}
