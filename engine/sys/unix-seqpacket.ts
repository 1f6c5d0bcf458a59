/**
 * Client sockets of type SOCK_SEQPACKET on the unix domain (conmon's attach socket), which
 * Node cannot make: `net` only connects stream sockets, and `new net.Socket({ fd })`
 * refuses the fd (libuv's handle guess knows unix sockets only as SOCK_STREAM). So the
 * socket is made and connected here, then opened as a libuv pipe handle, which reads and
 * writes any socket with read(2)/write(2); on a seqpacket socket each read returns one
 * record and each write sends one.
 */
import koffi from 'koffi';
import net from 'node:net';
import { endianness } from 'node:os';
import { Duplex } from 'node:stream';
import { libc } from './libc.js';
import { errnoName, SysError } from './sys-error.js';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
/** sizeof(struct sockaddr_un): a 2-byte family, then 108 bytes of path */
const SOCKADDR_UN_SIZE = 110;

const openFn = libc.func('int open(const char *path, int flags, ...)');
const closeFn = libc.func('int close(int fd)');
const socketFn = libc.func('int socket(int domain, int type, int protocol)');
const connectFn = libc.func('int connect(int fd, const void *addr, uint32_t len)');

interface PipeHandle {
  open(fd: number): number;
}
interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

/**
 * Connects to the seqpacket socket at `socketPath`, of any length: like podman, through an
 * O_PATH descriptor of the socket file and its /proc/self/fd name, as sun_path holds only
 * 108 bytes. The socket is non-blocking from the start, so a peer with a full backlog is
 * an EAGAIN error rather than a stalled event loop.
 */
export function connectSeqpacket(socketPath: string): SeqpacketSocket {
  const pathFd = openFn(socketPath, O_PATH | O_CLOEXEC) as number;
  if (pathFd < 0) throw new SysError('open', [socketPath, 'O_PATH'], errnoName(koffi.errno()));
  let fd = -1;
  try {
    fd = socketFn(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) throw new SysError('socket', ['AF_UNIX', 'SOCK_SEQPACKET'], errnoName(koffi.errno()));
    const name = `/proc/self/fd/${pathFd}`;
    const addr = Buffer.alloc(SOCKADDR_UN_SIZE);
    new DataView(addr.buffer, addr.byteOffset, addr.length).setUint16(0, AF_UNIX, endianness() === 'LE');
    addr.write(name, 2, 'utf8');
    if ((connectFn(fd, addr, 2 + Buffer.byteLength(name) + 1) as number) !== 0) {
      throw new SysError('connect', [socketPath], errnoName(koffi.errno()));
    }
    const socket = new SeqpacketSocket(fd);
    fd = -1;
    return socket;
  } finally {
    if (fd >= 0) closeFn(fd);
    closeFn(pathFd);
  }
}

/**
 * A connected seqpacket socket as a Duplex: the readable side is in object mode, one
 * Buffer per record whatever way it is read; each chunk written is sent as one record,
 * one at a time (no writev, which would join queued chunks into a single record). `end()`
 * shuts down the writing side, which the peer reads as end of file.
 */
export class SeqpacketSocket extends Duplex {
  private readonly socket: net.Socket;

  /** takes over `fd`, a connected seqpacket socket */
  constructor(fd: number) {
    // the peer closing its end closes ours: there is nobody left to write to
    super({ readableObjectMode: true, allowHalfOpen: false });
    const handle = new (pipeWrap().Pipe)(pipeWrap().constants.SOCKET);
    const err = handle.open(fd);
    if (err !== 0) {
      closeFn(fd);
      throw new SysError('uv_pipe_open', [fd], errnoName(-err));
    }
    this.socket = new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
    // in flowing mode each 'data' event is one read(2), so one record
    this.socket.on('data', (record: Buffer) => {
      if (!this.push(record)) this.socket.pause();
    });
    this.socket.on('end', () => this.push(null));
    this.socket.on('error', (e) => this.destroy(e));
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // an empty record reads as end of file on the other side
    if (chunk.length === 0) callback();
    else this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.socket.writableEnded) callback();
    else this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

let pipeWrapCache: PipeWrap | undefined;

/**
 * Node's own pipe handle, the one `net` uses for unix stream sockets, reached through
 * process.binding: the only way to have libuv poll an fd of a socket type Node does not
 * recognise.
 */
function pipeWrap(): PipeWrap {
  pipeWrapCache ??= (process as unknown as { binding(name: 'pipe_wrap'): PipeWrap }).binding('pipe_wrap');
  return pipeWrapCache;
}
