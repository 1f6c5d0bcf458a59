/**
 * Connection tracking over ctnetlink (NETLINK_NETFILTER): dropping the entries of flows a
 * published port sent to a container that is going away. Without that, a client connection
 * that reuses a source port of such a flow follows the stale entry's DNAT to the old
 * address until the entry times out, even though the port now leads to a new container;
 * docker flushes these entries when it unmaps a port for the same reason.
 */
import { NETLINK_NETFILTER, NetlinkSocket } from './netlink-socket.js';
import { decodeAttrs, encodeAttrs, NLM_F_ACK, type RawAttr } from './rtnl-codec.js';

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_ZONE = 18;
const CTA_TUPLE_IP = 1;
const CTA_IP_V4_SRC = 1;
const AF_INET = 2;
const NFGENMSG_LEN = 4;

/** nfgenmsg: the family, version 0, resource id 0 */
function nfgenmsg(family: number): Buffer {
  const b = Buffer.alloc(NFGENMSG_LEN);
  b.writeUInt8(family, 0);
  return b;
}

function find(attrs: readonly RawAttr[], type: number): RawAttr | undefined {
  return attrs.find((a) => a.type === type);
}

/** A direction's source address: the original's is who started the flow, the reply's who it went to (after DNAT). */
function source(attrs: readonly RawAttr[], direction: number): string | undefined {
  const tuple = find(attrs, direction);
  const ip = tuple && find(decodeAttrs(tuple.value), CTA_TUPLE_IP);
  const src = ip && find(decodeAttrs(ip.value), CTA_IP_V4_SRC);
  return src && src.value.length === 4 ? [...src.value].join('.') : undefined;
}

/**
 * Deletes the IPv4 conntrack entries of flows to or from `ip` (DNAT'd or direct); returns
 * how many. An entry that is gone by the time it is deleted is not an error: flows end on
 * their own.
 */
export function flushConntrackOf(ip: string): number {
  const nl = NetlinkSocket.open(NETLINK_NETFILTER);
  try {
    const op = { call: 'conntrack', args: [ip] };
    const entries = nl.dump(op, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, nfgenmsg(AF_INET));
    let deleted = 0;
    for (const msg of entries) {
      const attrs = decodeAttrs(msg.payload.subarray(NFGENMSG_LEN));
      if (source(attrs, CTA_TUPLE_REPLY) !== ip && source(attrs, CTA_TUPLE_ORIG) !== ip) continue;
      const orig = find(attrs, CTA_TUPLE_ORIG);
      if (!orig) continue;
      const zone = find(attrs, CTA_ZONE);
      const key = encodeAttrs([{ type: CTA_TUPLE_ORIG, value: orig.value }, ...(zone ? [{ type: CTA_ZONE, value: zone.value }] : [])]);
      try {
        nl.request(op, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_ACK, Buffer.concat([nfgenmsg(AF_INET), key]));
        deleted++;
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOENT') throw e;
      }
    }
    return deleted;
  } finally {
    nl.close();
  }
}
