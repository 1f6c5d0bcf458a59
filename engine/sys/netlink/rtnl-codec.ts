/**
 * The netlink wire format for the routing family (netlink(7), rtnetlink(7)): the message
 * header, the fixed headers of link, address and route messages, and attributes, nested
 * or not. Integers are in host byte order, addresses in network order; every header and
 * attribute starts 4-byte aligned. Pure functions over Buffers, so all of it is tested
 * without a kernel.
 */
import { endianness } from 'node:os';

const LE = endianness() === 'LE';

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** in an NLMSG_ERROR header: the echoed request is only its header (NETLINK_CAP_ACK) */
export const NLM_F_CAPPED = 0x100;
/** in an NLMSG_ERROR or NLMSG_DONE header: extended-ack attributes follow */
export const NLM_F_ACK_TLVS = 0x200;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFF_UP = 0x1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_BROADCAST = 4;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RTN_UNICAST = 1;

export const NLMSGERR_ATTR_MSG = 1;

const NLA_TYPE_MASK = ~0xc000 & 0xffff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

export const NLMSG_HDRLEN = 16;
const RTA_HDRLEN = 4;

export const align4 = (n: number): number => (n + 3) & ~3;

function view(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

export function encodeNlMsg(msg: NlMsg): Buffer {
  const len = NLMSG_HDRLEN + msg.payload.length;
  const buf = Buffer.alloc(align4(len));
  const v = view(buf);
  v.setUint32(0, len, LE);
  v.setUint16(4, msg.type, LE);
  v.setUint16(6, msg.flags, LE);
  v.setUint32(8, msg.seq, LE);
  v.setUint32(12, msg.pid, LE);
  msg.payload.copy(buf, NLMSG_HDRLEN);
  return buf;
}

/** The messages of one datagram; a length that runs past its end is an error, never a read beyond it. */
export function decodeNlMsgs(buf: Buffer): NlMsg[] {
  const v = view(buf);
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = v.getUint32(off, LE);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new RangeError(`malformed netlink message: length ${len} at offset ${off} of ${buf.length}`);
    out.push({
      type: v.getUint16(off + 4, LE),
      flags: v.getUint16(off + 6, LE),
      seq: v.getUint32(off + 8, LE),
      pid: v.getUint32(off + 12, LE),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** An attribute to encode: a value of its own, or attributes nested in it. */
export interface Attr {
  type: number;
  value: Buffer | Attr[];
}

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const value = Buffer.isBuffer(a.value) ? a.value : encodeAttrs(a.value);
    const len = RTA_HDRLEN + value.length;
    const buf = Buffer.alloc(align4(len));
    const v = view(buf);
    v.setUint16(0, len, LE);
    v.setUint16(2, a.type, LE);
    value.copy(buf, RTA_HDRLEN);
    parts.push(buf);
  }
  return Buffer.concat(parts);
}

/** A decoded attribute; nested ones are decoded on demand with decodeAttrs(value). */
export interface RawAttr {
  type: number;
  value: Buffer;
}

export function decodeAttrs(buf: Buffer): RawAttr[] {
  const v = view(buf);
  const out: RawAttr[] = [];
  let off = 0;
  while (off + RTA_HDRLEN <= buf.length) {
    const len = v.getUint16(off, LE);
    if (len < RTA_HDRLEN || off + len > buf.length) throw new RangeError(`malformed netlink attribute: length ${len} at offset ${off} of ${buf.length}`);
    out.push({ type: v.getUint16(off + 2, LE) & NLA_TYPE_MASK, value: buf.subarray(off + RTA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** The first attribute of each type, which is all the link, address and route attributes we read. */
export function attrMap(attrs: readonly RawAttr[]): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of attrs) if (!m.has(a.type)) m.set(a.type, a.value);
  return m;
}

export function u32(n: number): Buffer {
  const buf = Buffer.alloc(4);
  view(buf).setUint32(0, n, LE);
  return buf;
}

export function readU32(buf: Buffer): number {
  if (buf.length < 4) throw new RangeError(`a u32 attribute of ${buf.length} bytes`);
  return view(buf).getUint32(0, LE);
}

/** A NUL-terminated string attribute, as the kernel wants names. */
export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
}

export function readCstr(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul < 0 ? buf.length : nul).toString('utf8');
}

/** struct ifinfomsg: the fixed header of link messages (16 bytes). */
export interface IfInfoMsg {
  family: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}

export const IFINFOMSG_LEN = 16;

export function encodeIfInfoMsg(m: Partial<IfInfoMsg>): Buffer {
  const buf = Buffer.alloc(IFINFOMSG_LEN);
  const v = view(buf);
  v.setUint8(0, m.family ?? AF_UNSPEC);
  v.setUint16(2, m.type ?? 0, LE);
  v.setInt32(4, m.index ?? 0, LE);
  v.setUint32(8, m.flags ?? 0, LE);
  v.setUint32(12, m.change ?? 0, LE);
  return buf;
}

export function decodeIfInfoMsg(payload: Buffer): { hdr: IfInfoMsg; attrs: RawAttr[] } {
  if (payload.length < IFINFOMSG_LEN) throw new RangeError(`a link message of ${payload.length} bytes`);
  const v = view(payload);
  return {
    hdr: { family: v.getUint8(0), type: v.getUint16(2, LE), index: v.getInt32(4, LE), flags: v.getUint32(8, LE), change: v.getUint32(12, LE) },
    attrs: decodeAttrs(payload.subarray(IFINFOMSG_LEN)),
  };
}

/** struct ifaddrmsg: the fixed header of address messages (8 bytes). */
export interface IfAddrMsg {
  family: number;
  prefixLen: number;
  flags: number;
  scope: number;
  index: number;
}

export const IFADDRMSG_LEN = 8;

export function encodeIfAddrMsg(m: IfAddrMsg): Buffer {
  const buf = Buffer.alloc(IFADDRMSG_LEN);
  const v = view(buf);
  v.setUint8(0, m.family);
  v.setUint8(1, m.prefixLen);
  v.setUint8(2, m.flags);
  v.setUint8(3, m.scope);
  v.setUint32(4, m.index, LE);
  return buf;
}

export function decodeIfAddrMsg(payload: Buffer): { hdr: IfAddrMsg; attrs: RawAttr[] } {
  if (payload.length < IFADDRMSG_LEN) throw new RangeError(`an address message of ${payload.length} bytes`);
  const v = view(payload);
  return {
    hdr: { family: v.getUint8(0), prefixLen: v.getUint8(1), flags: v.getUint8(2), scope: v.getUint8(3), index: v.getUint32(4, LE) },
    attrs: decodeAttrs(payload.subarray(IFADDRMSG_LEN)),
  };
}

/** struct rtmsg: the fixed header of route messages (12 bytes). */
export interface RtMsg {
  family: number;
  dstLen: number;
  srcLen: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export const RTMSG_LEN = 12;

export function encodeRtMsg(m: RtMsg): Buffer {
  const buf = Buffer.alloc(RTMSG_LEN);
  const v = view(buf);
  [m.family, m.dstLen, m.srcLen, m.tos, m.table, m.protocol, m.scope, m.type].forEach((b, i) => v.setUint8(i, b));
  v.setUint32(8, m.flags, LE);
  return buf;
}

export function decodeRtMsg(payload: Buffer): { hdr: RtMsg; attrs: RawAttr[] } {
  if (payload.length < RTMSG_LEN) throw new RangeError(`a route message of ${payload.length} bytes`);
  const v = view(payload);
  return {
    hdr: {
      family: v.getUint8(0),
      dstLen: v.getUint8(1),
      srcLen: v.getUint8(2),
      tos: v.getUint8(3),
      table: v.getUint8(4),
      protocol: v.getUint8(5),
      scope: v.getUint8(6),
      type: v.getUint8(7),
      flags: v.getUint32(8, LE),
    },
    attrs: decodeAttrs(payload.subarray(RTMSG_LEN)),
  };
}

/**
 * The payload of NLMSG_ERROR (an ack when `error` is 0) or of NLMSG_DONE: a negative errno,
 * then for an error the request's header (and body, unless capped), then with
 * NLM_F_ACK_TLVS the kernel's extended-ack attributes, of which we keep the message.
 */
export function decodeNlError(msg: NlMsg): { error: number; message?: string } {
  const p = msg.payload;
  if (p.length < 4) return { error: 0 };
  const error = view(p).getInt32(0, LE);
  if ((msg.flags & NLM_F_ACK_TLVS) === 0) return { error };
  let off = 4;
  if (msg.type === NLMSG_ERROR) {
    if (p.length < 4 + NLMSG_HDRLEN) return { error };
    off += (msg.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : align4(view(p).getUint32(4, LE));
  }
  if (off > p.length) return { error };
  const text = attrMap(decodeAttrs(p.subarray(off))).get(NLMSGERR_ATTR_MSG);
  return text ? { error, message: readCstr(text) } : { error };
}

/** The 6 bytes of a MAC address from `aa:bb:cc:dd:ee:ff`, or undefined when malformed. */
export function parseMac(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Buffer.from(text.replaceAll(':', ''), 'hex');
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
