/**
 * A netlink socket used synchronously: each request is sent and its answer read at once,
 * on the calling thread. The kernel answers routing requests while handling the send, so
 * the wait is short, and a synchronous socket can be made inside another network namespace
 * (see netns.ts), which an event-loop socket could not. A receive timeout bounds the wait
 * should an answer never come.
 */
import koffi from 'koffi';
import { libc } from '../libc.js';
import { errnoName, SysError } from '../sys-error.js';
import {
  decodeNlError,
  decodeNlMsgs,
  encodeNlMsg,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMsg,
} from './rtnl-codec.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_PEEK = 0x2;
const MSG_TRUNC = 0x20;
/** sizeof(struct sockaddr_nl): family, padding, port id, multicast groups */
const SOCKADDR_NL_SIZE = 12;
/**
 * The kernel's address (port id 0, no groups), in host order; binding to it has the kernel
 * pick our port id.
 */
const KERNEL = Buffer.from(new Uint16Array([AF_NETLINK, 0, 0, 0, 0, 0]).buffer);
const RECV_TIMEOUT_SECONDS = 10;
/** a dump the kernel marks as inconsistent (the table changed under it) is read again, this many times at most */
const DUMP_ATTEMPTS = 5;

const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const bindFn = libc.func('int bind(int fd, const void *addr, uint32_t len)');
const setsockoptFn = libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)');
// ssize_t is long on every Linux ABI we run on (LP64)
const sendtoFn = libc.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)');
const recvFn = libc.func('long recv(int fd, void *buf, size_t len, int flags)');
const closeFn = libc.func('int close(int fd)');

/** A failed netlink request: `call` is the operation (e.g. createBridge) with its arguments, `code` the kernel's errno name. */
export class NetlinkError extends SysError {
  /** the kernel's extended-ack text, when it gave one */
  readonly kernelMessage: string | undefined;

  constructor(call: string, args: readonly unknown[], code: string, detail?: string, kernelMessage?: string) {
    super(call, args, code, [detail, kernelMessage].filter((s) => s).join('; ') || undefined);
    this.name = 'NetlinkError';
    this.kernelMessage = kernelMessage;
  }
}

/** What a request is for, to name it in errors. */
export interface Operation {
  call: string;
  args: readonly unknown[];
}

export class NetlinkSocket {
  private fd: number;
  private seq = 0;
  private buf = Buffer.alloc(64 * 1024);

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** A socket in the calling thread's network namespace, where it stays whatever the thread does later. */
  static open(protocol: number): NetlinkSocket {
    const fd = socketFn(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) as number;
    if (fd < 0) throw new SysError('socket', ['AF_NETLINK', protocol], errnoName(koffi.errno()));
    const s = new NetlinkSocket(fd);
    try {
      if ((bindFn(fd, KERNEL, SOCKADDR_NL_SIZE) as number) !== 0) throw new SysError('bind', ['AF_NETLINK'], errnoName(koffi.errno()));
      const one = Buffer.from(new Int32Array([1]).buffer);
      // errors carry the kernel's reason and not a copy of our request
      s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, one);
      s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, one);
      // struct timeval: seconds and microseconds, two longs
      s.setsockopt(SOL_SOCKET, SO_RCVTIMEO, Buffer.from(new BigInt64Array([BigInt(RECV_TIMEOUT_SECONDS), 0n]).buffer));
      return s;
    } catch (e) {
      s.close();
      throw e;
    }
  }

  close(): void {
    if (this.fd >= 0) closeFn(this.fd);
    this.fd = -1;
  }

  /**
   * Sends one request with an ack asked for and returns the messages answering it, up to
   * the ack; an error ack is a NetlinkError naming `op`.
   */
  request(op: Operation, type: number, flags: number, payload: Buffer): NlMsg[] {
    const seq = this.send(op, type, flags | NLM_F_REQUEST | NLM_F_ACK, payload);
    return this.collect(op, seq, false).messages;
  }

  /** Sends a dump request and returns every message of the dump. */
  dump(op: Operation, type: number, payload: Buffer): NlMsg[] {
    for (let attempt = 1; ; attempt++) {
      // the kernel never acks a dump: NLMSG_DONE ends it
      const seq = this.send(op, type, NLM_F_REQUEST | NLM_F_DUMP, payload);
      const r = this.collect(op, seq, true);
      if (!r.interrupted) return r.messages;
      if (attempt === DUMP_ATTEMPTS) throw new NetlinkError(op.call, op.args, 'EAGAIN', `the dump changed while read, ${DUMP_ATTEMPTS} times`);
    }
  }

  private send(op: Operation, type: number, flags: number, payload: Buffer): number {
    if (this.fd < 0) throw new NetlinkError(op.call, op.args, 'EBADF', 'the netlink socket is closed');
    this.seq = (this.seq + 1) >>> 0;
    const msg = encodeNlMsg({ type, flags, seq: this.seq, pid: 0, payload });
    for (;;) {
      const n = Number(sendtoFn(this.fd, msg, msg.length, 0, KERNEL, SOCKADDR_NL_SIZE));
      if (n >= 0) break;
      const code = errnoName(koffi.errno());
      if (code !== 'EINTR') throw new NetlinkError(op.call, op.args, code, 'sending the request');
    }
    return this.seq;
  }

  private collect(op: Operation, seq: number, dump: boolean): { messages: NlMsg[]; interrupted: boolean } {
    const messages: NlMsg[] = [];
    let interrupted = false;
    for (;;) {
      for (const m of decodeNlMsgs(this.receive(op))) {
        // an answer to an earlier request that gave up waiting
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR || (dump && m.type === NLMSG_DONE)) {
          const e = decodeNlError(m);
          if (e.error < 0) throw new NetlinkError(op.call, op.args, errnoName(-e.error), undefined, e.message);
          return { messages, interrupted };
        }
        if ((m.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
        messages.push(m);
      }
    }
  }

  /**
   * One datagram, whole: its size is peeked first and the buffer grown to hold it. A copy,
   * as a dump's messages outlive the next receive into the same buffer.
   */
  private receive(op: Operation): Buffer {
    const size = this.recv(op, this.buf, MSG_PEEK | MSG_TRUNC);
    if (size > this.buf.length) this.buf = Buffer.alloc(size);
    const n = this.recv(op, this.buf, 0);
    return Buffer.from(this.buf.subarray(0, n));
  }

  private recv(op: Operation, buf: Buffer, flags: number): number {
    for (;;) {
      const n = Number(recvFn(this.fd, buf, buf.length, flags));
      if (n >= 0) return n;
      const code = errnoName(koffi.errno());
      if (code === 'EAGAIN') throw new NetlinkError(op.call, op.args, 'ETIMEDOUT', `no answer from the kernel in ${RECV_TIMEOUT_SECONDS} s`);
      if (code !== 'EINTR') throw new NetlinkError(op.call, op.args, code, 'receiving the answer');
    }
  }

  private setsockopt(level: number, name: number, value: Buffer): void {
    if ((setsockoptFn(this.fd, level, name, value, value.length) as number) !== 0) {
      throw new SysError('setsockopt', [level, name], errnoName(koffi.errno()));
    }
  }
}
