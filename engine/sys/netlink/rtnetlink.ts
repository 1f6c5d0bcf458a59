/**
 * The routing netlink client the network layer builds on: links (bridges, veth pairs),
 * addresses and routes of one network namespace, the one the socket was made in. Links are
 * named by name, as the engine knows them; the kernel resolves names itself where it can
 * (IFLA_IFNAME on a message without an index), else we look the index up first.
 */
import { inNetns } from '../netns.js';
import { type Cidr, formatIp, ipv4Broadcast, parseCidr, parseIp, type IpAddress } from './ip-address.js';
import { NETLINK_ROUTE, NetlinkError, NetlinkSocket, type Operation } from './netlink-socket.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  type Attr,
  attrMap,
  cstr,
  decodeAttrs,
  decodeIfAddrMsg,
  decodeIfInfoMsg,
  decodeRtMsg,
  encodeAttrs,
  encodeIfAddrMsg,
  encodeIfInfoMsg,
  encodeRtMsg,
  formatMac,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_LOCAL,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  NLM_F_CREATE,
  NLM_F_EXCL,
  type NlMsg,
  parseMac,
  readCstr,
  readU32,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_TABLE,
  RTM_DELLINK,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTM_SETLINK,
  RTN_UNICAST,
  RTPROT_BOOT,
  u32,
  VETH_INFO_PEER,
} from './rtnl-codec.js';

export { NetlinkError } from './netlink-socket.js';

export interface LinkInfo {
  index: number;
  name: string;
  /** the driver kind for virtual links ('bridge', 'veth', ...); absent for hardware and loopback */
  kind?: string;
  mtu: number;
  /** administratively up (IFF_UP) */
  up: boolean;
  /** the index of the bridge (or other master) the link is a port of */
  master?: number;
  /** '' for links without a hardware address */
  mac: string;
}

export interface AddressInfo {
  index: number;
  family: 4 | 6;
  address: string;
  prefixLen: number;
}

export interface RouteInfo {
  family: 4 | 6;
  /** absent for a default route */
  dst?: string;
  dstLen: number;
  gateway?: string;
  oif?: number;
  table: number;
}

/** IFNAMSIZ less the terminating NUL */
const MAX_NAME_BYTES = 15;

export class Rtnetlink {
  private constructor(private readonly sock: NetlinkSocket) {}

  /** A client for the calling thread's network namespace (the host's, for the engine). */
  static open(): Rtnetlink {
    return new Rtnetlink(NetlinkSocket.open(NETLINK_ROUTE));
  }

  /** A client for the namespace bound at `netnsPath`: its socket is made there and keeps working there. */
  static openIn(netnsPath: string): Rtnetlink {
    return inNetns(netnsPath, () => Rtnetlink.open());
  }

  close(): void {
    this.sock.close();
  }

  links(): LinkInfo[] {
    return this.sock
      .dump({ call: 'links', args: [] }, RTM_GETLINK, encodeIfInfoMsg({}))
      .filter((m) => m.type === RTM_NEWLINK)
      .map(decodeLink);
  }

  link(name: string): LinkInfo | undefined {
    const op = { call: 'link', args: [name] };
    try {
      return this.getLink(op, name);
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'ENODEV') return undefined;
      throw e;
    }
  }

  createBridge(name: string, opts: { mtu?: number; mac?: string } = {}): void {
    const op = { call: 'createBridge', args: [name, opts] };
    checkName(op, name);
    const attrs: Attr[] = [{ type: IFLA_IFNAME, value: cstr(name) }];
    if (opts.mtu !== undefined) attrs.push({ type: IFLA_MTU, value: u32(checkMtu(op, opts.mtu)) });
    // a bridge given its address keeps it, instead of taking on its lowest port's
    if (opts.mac !== undefined) attrs.push({ type: IFLA_ADDRESS, value: macBytes(op, opts.mac) });
    attrs.push({ type: IFLA_LINKINFO, value: [{ type: IFLA_INFO_KIND, value: Buffer.from('bridge') }] });
    this.sock.request(op, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, linkMsg({}, attrs));
  }

  /**
   * A veth pair `name` <-> `peer`. With `peerNetnsFd` the peer is made directly in that
   * namespace (so its name only has to be free there); deleting either end deletes both.
   */
  createVeth(name: string, peer: string, opts: { mtu?: number; peerNetnsFd?: number } = {}): void {
    const op = { call: 'createVeth', args: [name, peer, opts] };
    checkName(op, name);
    checkName(op, peer);
    const mtu = opts.mtu === undefined ? [] : [{ type: IFLA_MTU, value: u32(checkMtu(op, opts.mtu)) }];
    const peerAttrs: Attr[] = [{ type: IFLA_IFNAME, value: cstr(peer) }, ...mtu];
    if (opts.peerNetnsFd !== undefined) peerAttrs.push({ type: IFLA_NET_NS_FD, value: u32(opts.peerNetnsFd) });
    const attrs: Attr[] = [
      { type: IFLA_IFNAME, value: cstr(name) },
      ...mtu,
      {
        type: IFLA_LINKINFO,
        value: [
          { type: IFLA_INFO_KIND, value: Buffer.from('veth') },
          // the peer is described as a whole link message of its own: a header, then attributes
          { type: IFLA_INFO_DATA, value: [{ type: VETH_INFO_PEER, value: linkMsg({}, peerAttrs) }] },
        ],
      },
    ];
    this.sock.request(op, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, linkMsg({}, attrs));
  }

  /** Makes `name` a port of the bridge `master`, or of none with null. */
  setMaster(name: string, master: string | null): void {
    const op = { call: 'setMaster', args: [name, master] };
    checkName(op, name);
    const index = master === null ? 0 : this.indexOf(op, master);
    this.setLink(op, name, {}, [{ type: IFLA_MASTER, value: u32(index) }]);
  }

  setUp(name: string, up = true): void {
    this.setLink({ call: 'setUp', args: [name, up] }, name, { flags: up ? IFF_UP : 0, change: IFF_UP }, []);
  }

  setMtu(name: string, mtu: number): void {
    const op = { call: 'setMtu', args: [name, mtu] };
    this.setLink(op, name, {}, [{ type: IFLA_MTU, value: u32(checkMtu(op, mtu)) }]);
  }

  setMac(name: string, mac: string): void {
    const op = { call: 'setMac', args: [name, mac] };
    this.setLink(op, name, {}, [{ type: IFLA_ADDRESS, value: macBytes(op, mac) }]);
  }

  /** Moves the link into the namespace open on `netnsFd` (see openNetns); it keeps its name, and goes down. */
  moveToNetns(name: string, netnsFd: number): void {
    this.setLink({ call: 'moveToNetns', args: [name, netnsFd] }, name, {}, [{ type: IFLA_NET_NS_FD, value: u32(netnsFd) }]);
  }

  /** The kernel renames only links that are down (EBUSY otherwise). */
  rename(name: string, newName: string): void {
    const op = { call: 'rename', args: [name, newName] };
    checkName(op, newName);
    const index = this.indexOf(op, name);
    // with an index, IFLA_IFNAME is the new name rather than the one to look up
    this.sock.request(op, RTM_SETLINK, 0, linkMsg({ index }, [{ type: IFLA_IFNAME, value: cstr(newName) }]));
  }

  /** Adds `cidr` (`10.89.0.2/24`, `fd00::2/64`) to the link: the address and its prefix, and for IPv4 the prefix's broadcast address. */
  addAddress(name: string, cidr: string): void {
    const op = { call: 'addAddress', args: [name, cidr] };
    const c = cidrOf(op, cidr);
    const index = this.indexOf(op, name);
    const attrs: Attr[] = [
      { type: IFA_LOCAL, value: c.bytes },
      { type: IFA_ADDRESS, value: c.bytes },
    ];
    const broadcast = ipv4Broadcast(c.bytes, c.prefixLen);
    if (broadcast) attrs.push({ type: IFA_BROADCAST, value: broadcast });
    const hdr = encodeIfAddrMsg({ family: afOf(c), prefixLen: c.prefixLen, flags: 0, scope: RT_SCOPE_UNIVERSE, index });
    this.sock.request(op, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([hdr, encodeAttrs(attrs)]));
  }

  /** The addresses of every link, or of link `name`. */
  addresses(name?: string): AddressInfo[] {
    const op = { call: 'addresses', args: name === undefined ? [] : [name] };
    const index = name === undefined ? undefined : this.indexOf(op, name);
    const out: AddressInfo[] = [];
    const hdr = encodeIfAddrMsg({ family: AF_UNSPEC, prefixLen: 0, flags: 0, scope: 0, index: 0 });
    for (const m of this.sock.dump(op, RTM_GETADDR, hdr)) {
      if (m.type !== RTM_NEWADDR) continue;
      const { hdr: h, attrs } = decodeIfAddrMsg(m.payload);
      const family = familyOf(h.family);
      if (family === undefined || (index !== undefined && h.index !== index)) continue;
      const a = attrMap(attrs);
      // on point-to-point links IFA_ADDRESS is the far end, and IFA_LOCAL ours
      const bytes = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
      if (bytes) out.push({ index: h.index, family, address: formatIp(bytes), prefixLen: h.prefixLen });
    }
    return out;
  }

  /**
   * Adds a route to the main table: to `dst` (a CIDR; the default route when absent), via
   * `gateway` and/or out of link `dev`. `family` only matters for a route with neither
   * `dst` nor `gateway` (a default route through a device), and is 4 unless given.
   */
  addRoute(route: { dst?: string; gateway?: string; dev?: string; family?: 4 | 6 }): void {
    const op = { call: 'addRoute', args: [route] };
    const dst = route.dst === undefined ? undefined : cidrOf(op, route.dst);
    const gateway = route.gateway === undefined ? undefined : parseIp(route.gateway);
    if (route.gateway !== undefined && !gateway) throw new NetlinkError(op.call, op.args, 'EINVAL', `"${route.gateway}" is not an IP address`);
    const family = dst?.family ?? gateway?.family ?? route.family ?? 4;
    if ((dst && dst.family !== family) || (gateway && gateway.family !== family) || (route.family !== undefined && route.family !== family)) {
      throw new NetlinkError(op.call, op.args, 'EINVAL', 'the destination, gateway and family are not of one IP version');
    }
    const attrs: Attr[] = [];
    if (dst && dst.prefixLen > 0) attrs.push({ type: RTA_DST, value: dst.bytes });
    if (gateway) attrs.push({ type: RTA_GATEWAY, value: gateway.bytes });
    if (route.dev !== undefined) attrs.push({ type: RTA_OIF, value: u32(this.indexOf(op, route.dev)) });
    const hdr = encodeRtMsg({
      family: family === 4 ? AF_INET : AF_INET6,
      dstLen: dst?.prefixLen ?? 0,
      srcLen: 0,
      tos: 0,
      table: RT_TABLE_MAIN,
      protocol: RTPROT_BOOT,
      // a route without a gateway reaches its destination on the link itself
      scope: gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      type: RTN_UNICAST,
      flags: 0,
    });
    this.sock.request(op, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([hdr, encodeAttrs(attrs)]));
  }

  /** The unicast routes of the main table (not the local table's routes to our own addresses). */
  routes(family?: 4 | 6): RouteInfo[] {
    const op = { call: 'routes', args: family === undefined ? [] : [family] };
    const hdr = encodeRtMsg({ family: family === undefined ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6, dstLen: 0, srcLen: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0 });
    const out: RouteInfo[] = [];
    for (const m of this.sock.dump(op, RTM_GETROUTE, hdr)) {
      if (m.type !== RTM_NEWROUTE) continue;
      const { hdr: h, attrs } = decodeRtMsg(m.payload);
      const a = attrMap(attrs);
      const f = familyOf(h.family);
      // rtm_table holds only 8 bits; RTA_TABLE has the whole table id
      const table = a.has(RTA_TABLE) ? readU32(a.get(RTA_TABLE)!) : h.table;
      if (f === undefined || (family !== undefined && f !== family) || table !== RT_TABLE_MAIN || h.type !== RTN_UNICAST) continue;
      const r: RouteInfo = { family: f, dstLen: h.dstLen, table };
      const dst = a.get(RTA_DST);
      if (dst) r.dst = formatIp(dst);
      const gateway = a.get(RTA_GATEWAY);
      if (gateway) r.gateway = formatIp(gateway);
      const oif = a.get(RTA_OIF);
      if (oif) r.oif = readU32(oif);
      out.push(r);
    }
    return out;
  }

  /** Deletes the link; deleting either end of a veth pair deletes both. */
  deleteLink(name: string): void {
    this.setLink({ call: 'deleteLink', args: [name] }, name, {}, [], RTM_DELLINK);
  }

  /** A change to the link named `name`, which the kernel finds by name. */
  private setLink(op: Operation, name: string, hdr: { flags?: number; change?: number }, attrs: Attr[], type = RTM_SETLINK): void {
    checkName(op, name);
    try {
      this.sock.request(op, type, 0, linkMsg(hdr, [{ type: IFLA_IFNAME, value: cstr(name) }, ...attrs]));
    } catch (e) {
      throw noSuchLink(e, op, name);
    }
  }

  private getLink(op: Operation, name: string): LinkInfo {
    checkName(op, name);
    let answer: NlMsg[];
    try {
      answer = this.sock.request(op, RTM_GETLINK, 0, linkMsg({}, [{ type: IFLA_IFNAME, value: cstr(name) }]));
    } catch (e) {
      throw noSuchLink(e, op, name);
    }
    const m = answer.find((x) => x.type === RTM_NEWLINK);
    if (!m) throw new NetlinkError(op.call, op.args, 'EPROTO', `the kernel answered without link ${name}`);
    return decodeLink(m);
  }

  private indexOf(op: Operation, name: string): number {
    return this.getLink(op, name).index;
  }
}

function linkMsg(hdr: { index?: number; flags?: number; change?: number }, attrs: readonly Attr[]): Buffer {
  return Buffer.concat([encodeIfInfoMsg({ family: AF_UNSPEC, ...hdr }), encodeAttrs(attrs)]);
}

function decodeLink(m: NlMsg): LinkInfo {
  const { hdr, attrs } = decodeIfInfoMsg(m.payload);
  const a = attrMap(attrs);
  const name = a.get(IFLA_IFNAME);
  const mtu = a.get(IFLA_MTU);
  const mac = a.get(IFLA_ADDRESS);
  const link: LinkInfo = {
    index: hdr.index,
    name: name ? readCstr(name) : '',
    mtu: mtu ? readU32(mtu) : 0,
    up: (hdr.flags & IFF_UP) !== 0,
    mac: mac ? formatMac(mac) : '',
  };
  const info = a.get(IFLA_LINKINFO);
  const kind = info && attrMap(decodeAttrs(info)).get(IFLA_INFO_KIND);
  if (kind) link.kind = readCstr(kind);
  const master = a.get(IFLA_MASTER);
  if (master && readU32(master) !== 0) link.master = readU32(master);
  return link;
}

/** The kernel's ENODEV says nothing of which link; ours names it. */
function noSuchLink(e: unknown, op: Operation, name: string): unknown {
  if (e instanceof NetlinkError && e.code === 'ENODEV') return new NetlinkError(op.call, op.args, 'ENODEV', `no link named "${name}"`, e.kernelMessage);
  return e;
}

/** The kernel's own rule (dev_valid_name), checked before anything is sent. */
function checkName(op: Operation, name: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) throw new NetlinkError(op.call, op.args, 'EINVAL', `interface name "${name}" is ${bytes} bytes long, more than ${MAX_NAME_BYTES}`);
  if (bytes === 0 || name === '.' || name === '..' || /[/:\s\0]/.test(name)) {
    throw new NetlinkError(op.call, op.args, 'EINVAL', `"${name}" is not an interface name (1 to ${MAX_NAME_BYTES} bytes, without "/", ":" or white space)`);
  }
}

/** Only what a u32 can carry; the kernel judges the value against the device's own limits. */
function checkMtu(op: Operation, mtu: number): number {
  if (!Number.isInteger(mtu) || mtu <= 0 || mtu > 0xffffffff) throw new NetlinkError(op.call, op.args, 'EINVAL', `MTU ${mtu} is not a positive 32-bit integer`);
  return mtu;
}

function macBytes(op: Operation, mac: string): Buffer {
  const bytes = parseMac(mac);
  if (!bytes) throw new NetlinkError(op.call, op.args, 'EINVAL', `"${mac}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return bytes;
}

function cidrOf(op: Operation, text: string): Cidr {
  const c = parseCidr(text);
  if (!c) throw new NetlinkError(op.call, op.args, 'EINVAL', `"${text}" is not an address with a prefix length (10.89.0.2/24, fd00::2/64)`);
  return c;
}

function afOf(ip: IpAddress): number {
  return ip.family === 4 ? AF_INET : AF_INET6;
}

function familyOf(af: number): 4 | 6 | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}
