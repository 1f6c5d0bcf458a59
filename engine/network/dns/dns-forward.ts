/**
 * Asking the upstream resolvers what the network's names do not answer. The client's query
 * goes out byte for byte (its id included) from a fresh socket, and the answer comes back
 * byte for byte: the server adds nothing a resolver would have to trust.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { RCODE } from './dns-zone.js';
import type { Upstream } from './dns-records.js';

const QR = 0x8000;
const TC = 0x0200;
const MAX_TCP_MESSAGE = 65535;

export interface ForwardOptions {
  /** per upstream and attempt */
  timeoutMs: number;
  /** the client asked over TCP: so do we, a UDP answer would be truncated again */
  tcp: boolean;
  /** the largest UDP answer the client takes (512, or its EDNS size) */
  udpLimit: number;
  signal: AbortSignal;
}

/**
 * The first usable answer of the upstreams, tried in order; undefined when none answered.
 * An upstream that fails (SERVFAIL, REFUSED) passes the question on to the next one, and
 * its answer is only relayed when no other does better.
 */
export async function forward(query: Buffer, upstreams: readonly Upstream[], opts: ForwardOptions): Promise<Buffer | undefined> {
  let failed: Buffer | undefined;
  for (const u of upstreams) {
    if (opts.signal.aborted) break;
    let answer = opts.tcp ? await askTcp(u, query, opts) : await askUdp(u, query, opts);
    if (!answer) continue;
    if (!opts.tcp && answer.readUInt16BE(2) & TC) {
      // the whole answer may still fit what the client takes (its EDNS size can exceed the
      // upstream's); if not, the truncated one tells the client to come back over TCP
      const full = await askTcp(u, query, opts);
      if (full && full.length <= opts.udpLimit) answer = full;
    }
    const rcode = answer.readUInt16BE(2) & 0xf;
    if (rcode !== RCODE.SERVFAIL && rcode !== RCODE.REFUSED) return answer;
    failed = answer;
  }
  return failed;
}

function isAnswerTo(query: Buffer, msg: Buffer): boolean {
  return msg.length >= 12 && msg.readUInt16BE(0) === query.readUInt16BE(0) && (msg.readUInt16BE(2) & QR) !== 0;
}

/**
 * One question's lifetime: `done` settles it once (with an answer, or undefined on timeout,
 * abort or a socket error) and releases the timer, the abort listener and the socket.
 */
function exchange(opts: ForwardOptions, release: () => void, resolve: (answer: Buffer | undefined) => void): { done: (answer: Buffer | undefined) => void; abort: () => void } {
  let settled = false;
  const done = (answer: Buffer | undefined) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', abort);
    release();
    resolve(answer);
  };
  const abort = () => done(undefined);
  const timer = setTimeout(abort, opts.timeoutMs);
  opts.signal.addEventListener('abort', abort);
  return { done, abort };
}

function askUdp(u: Upstream, query: Buffer, opts: ForwardOptions): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(u.family === 4 ? 'udp4' : 'udp6');
    const { done, abort } = exchange(opts, () => sock.close(), resolve);
    // ICMP port unreachable surfaces as ECONNREFUSED on a connected socket: next upstream at once
    sock.on('error', abort);
    sock.on('message', (msg) => {
      if (isAnswerTo(query, msg)) done(msg);
    });
    // connected: datagrams from anyone but the upstream never reach us
    sock.connect(u.port, u.address, () => sock.send(query));
  });
}

function askTcp(u: Upstream, query: Buffer, opts: ForwardOptions): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: u.address, port: u.port, family: u.family });
    let buf = Buffer.alloc(0);
    const { done, abort } = exchange(opts, () => sock.destroy(), resolve);
    sock.on('error', abort);
    sock.on('close', abort);
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_TCP_MESSAGE + 2) return done(undefined);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) return;
      const msg = buf.subarray(2, 2 + len);
      done(isAnswerTo(query, msg) ? msg : undefined);
    });
  });
}
