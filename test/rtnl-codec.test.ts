import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SocketAddress } from 'node:net';
import { endianness } from 'node:os';
import { describe, test } from 'node:test';
import { formatIp, ipv4Broadcast, parseCidr, parseIp } from '../engine/sys/netlink/ip-address.js';
import {
  attrMap,
  cstr,
  decodeAttrs,
  decodeIfAddrMsg,
  decodeIfInfoMsg,
  decodeNlError,
  decodeNlMsgs,
  decodeRtMsg,
  encodeAttrs,
  encodeIfAddrMsg,
  encodeIfInfoMsg,
  encodeNlMsg,
  encodeRtMsg,
  formatMac,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
  parseMac,
  readCstr,
  readU32,
  RTM_NEWLINK,
  u32,
  VETH_INFO_PEER,
} from '../engine/sys/netlink/rtnl-codec.js';

const LE = endianness() === 'LE';

function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  if (LE) b.writeInt32LE(n);
  else b.writeInt32BE(n);
  return b;
}

describe('netlink codec', () => {
  test('a bridge creation request has the byte layout the kernel reads', { skip: !LE && 'the expected bytes are little-endian' }, () => {
    const payload = Buffer.concat([
      encodeIfInfoMsg({}),
      encodeAttrs([
        { type: IFLA_IFNAME, value: cstr('br0') },
        { type: IFLA_LINKINFO, value: [{ type: IFLA_INFO_KIND, value: Buffer.from('bridge') }] },
      ]),
    ]);
    const msg = encodeNlMsg({ type: RTM_NEWLINK, flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq: 1, pid: 0, payload });
    const expected = [
      '38000000 1000 0506 01000000 00000000', // nlmsghdr: length 56, RTM_NEWLINK, flags, seq 1, port 0
      '00 00 0000 00000000 00000000 00000000', // ifinfomsg: AF_UNSPEC, pad, type, index, flags, change
      '0800 0300 62723000', // IFLA_IFNAME "br0\0"
      '1000 1200', // IFLA_LINKINFO, 16 bytes with its nest
      '0a00 0100 627269646765 0000', // IFLA_INFO_KIND "bridge": length 10, padded to 12
    ].join('').replaceAll(' ', '');
    assert.equal(msg.toString('hex'), expected);
  });

  test('a veth request round-trips, the peer a link message nested three deep', () => {
    const peer = Buffer.concat([
      encodeIfInfoMsg({ index: 0 }),
      encodeAttrs([
        { type: IFLA_IFNAME, value: cstr('vp-1') },
        { type: IFLA_MTU, value: u32(1400) },
        { type: IFLA_NET_NS_FD, value: u32(37) },
      ]),
    ]);
    const payload = Buffer.concat([
      encodeIfInfoMsg({ flags: 1, change: 1 }),
      encodeAttrs([
        { type: IFLA_IFNAME, value: cstr('veth-host') },
        {
          type: IFLA_LINKINFO,
          value: [
            { type: IFLA_INFO_KIND, value: Buffer.from('veth') },
            { type: IFLA_INFO_DATA, value: [{ type: VETH_INFO_PEER, value: peer }] },
          ],
        },
      ]),
    ]);
    const [msg, ...rest] = decodeNlMsgs(encodeNlMsg({ type: RTM_NEWLINK, flags: NLM_F_REQUEST, seq: 0xfffffffe, pid: 42, payload }));
    assert.equal(rest.length, 0);
    assert.deepEqual({ ...msg!, payload: undefined }, { type: RTM_NEWLINK, flags: NLM_F_REQUEST, seq: 0xfffffffe, pid: 42, payload: undefined });
    const link = decodeIfInfoMsg(msg!.payload);
    assert.deepEqual(link.hdr, { family: 0, type: 0, index: 0, flags: 1, change: 1 });
    const attrs = attrMap(link.attrs);
    assert.equal(readCstr(attrs.get(IFLA_IFNAME)!), 'veth-host');
    const info = attrMap(decodeAttrs(attrs.get(IFLA_LINKINFO)!));
    assert.equal(info.get(IFLA_INFO_KIND)!.toString(), 'veth');
    const data = attrMap(decodeAttrs(info.get(IFLA_INFO_DATA)!));
    const p = decodeIfInfoMsg(data.get(VETH_INFO_PEER)!);
    const pa = attrMap(p.attrs);
    assert.equal(readCstr(pa.get(IFLA_IFNAME)!), 'vp-1');
    assert.equal(readU32(pa.get(IFLA_MTU)!), 1400);
    assert.equal(readU32(pa.get(IFLA_NET_NS_FD)!), 37);
  });

  test('attributes are 4-byte aligned, their length excludes the padding, and type flags are masked off', () => {
    const buf = encodeAttrs([
      { type: 3, value: Buffer.from('abcde') },
      { type: 0x8000 | 18, value: Buffer.alloc(0) }, // NLA_F_NESTED set, as some senders do
      { type: 4, value: u32(7) },
    ]);
    assert.equal(buf.length, 12 + 4 + 8);
    assert.equal(LE ? buf.readUInt16LE(0) : buf.readUInt16BE(0), 9);
    assert.deepEqual(buf.subarray(9, 12), Buffer.alloc(3));
    const attrs = decodeAttrs(buf);
    assert.deepEqual(
      attrs.map((a) => [a.type, a.value.length]),
      [
        [3, 5],
        [18, 0],
        [4, 4],
      ],
    );
    assert.equal(attrs[0]!.value.toString(), 'abcde');
    assert.throws(() => decodeAttrs(Buffer.concat([buf, Buffer.from(LE ? [20, 0, 1, 0] : [0, 20, 0, 1])])), RangeError);
  });

  test('a datagram of several messages splits at aligned boundaries; a bad length is an error', () => {
    const a = encodeNlMsg({ type: 100, flags: 2, seq: 5, pid: 9, payload: Buffer.from('xyz') });
    const b = encodeNlMsg({ type: NLMSG_DONE, flags: 2, seq: 5, pid: 9, payload: i32(0) });
    assert.equal(a.length, 20); // 19 bytes, padded
    const msgs = decodeNlMsgs(Buffer.concat([a, b]));
    assert.deepEqual(
      msgs.map((m) => [m.type, m.payload.toString('hex')]),
      [
        [100, Buffer.from('xyz').toString('hex')],
        [NLMSG_DONE, '00000000'],
      ],
    );
    const broken = Buffer.from(a);
    if (LE) broken.writeUInt32LE(200, 0);
    else broken.writeUInt32BE(200, 0);
    assert.throws(() => decodeNlMsgs(broken), RangeError);
  });

  test('address and route headers round-trip', () => {
    const addr = { family: 10, prefixLen: 64, flags: 0x80, scope: 253, index: 0x01020304 };
    assert.equal(encodeIfAddrMsg(addr).length, 8);
    assert.deepEqual(decodeIfAddrMsg(Buffer.concat([encodeIfAddrMsg(addr), encodeAttrs([{ type: 1, value: Buffer.alloc(16, 1) }])])).hdr, addr);
    const rt = { family: 2, dstLen: 24, srcLen: 0, tos: 0, table: 254, protocol: 3, scope: 253, type: 1, flags: 0x200 };
    const encoded = encodeRtMsg(rt);
    assert.equal(encoded.length, 12);
    assert.deepEqual([...encoded.subarray(0, 8)], [2, 24, 0, 0, 254, 3, 253, 1]);
    const decoded = decodeRtMsg(Buffer.concat([encoded, encodeAttrs([{ type: 5, value: Buffer.from([10, 0, 0, 1]) }])]));
    assert.deepEqual(decoded.hdr, rt);
    assert.deepEqual(decoded.attrs, [{ type: 5, value: Buffer.from([10, 0, 0, 1]) }]);
  });

  test('error acks: the errno, and the kernel message after a capped or a whole echoed request', () => {
    const tlvs = encodeAttrs([{ type: NLMSGERR_ATTR_MSG, value: cstr('Unknown device type') }]);
    const request = encodeNlMsg({ type: RTM_NEWLINK, flags: 5, seq: 3, pid: 0, payload: Buffer.from('12345') });
    const capped = { type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 3, pid: 0, payload: Buffer.concat([i32(-95), request.subarray(0, 16), tlvs]) };
    assert.deepEqual(decodeNlError(capped), { error: -95, message: 'Unknown device type' });
    // uncapped, the echo is the whole request, padded
    const whole = { ...capped, flags: NLM_F_ACK_TLVS, payload: Buffer.concat([i32(-95), request, tlvs]) };
    assert.deepEqual(decodeNlError(whole), { error: -95, message: 'Unknown device type' });
    assert.deepEqual(decodeNlError({ ...capped, flags: NLM_F_CAPPED, payload: Buffer.concat([i32(0), request.subarray(0, 16)]) }), { error: 0 });
    // a dump that fails ends with NLMSG_DONE carrying the errno, the attributes right after it
    assert.deepEqual(decodeNlError({ type: NLMSG_DONE, flags: NLM_F_ACK_TLVS, seq: 3, pid: 0, payload: Buffer.concat([i32(-22), tlvs]) }), { error: -22, message: 'Unknown device type' });
  });

  test('MAC addresses', () => {
    assert.deepEqual(parseMac('02:42:AC:11:00:0f'), Buffer.from([2, 0x42, 0xac, 0x11, 0, 0x0f]));
    assert.equal(formatMac(Buffer.from([2, 0x42, 0xac, 0x11, 0, 0x0f])), '02:42:ac:11:00:0f');
    for (const bad of ['02:42:ac:11:00', '02-42-ac-11-00-0f', '02:42:ac:11:00:0g', '2:42:ac:11:00:0f']) assert.equal(parseMac(bad), undefined, bad);
  });
});

describe('IP addresses', () => {
  test('parse and format', () => {
    assert.deepEqual(parseIp('10.89.0.2'), { family: 4, bytes: Buffer.from([10, 89, 0, 2]) });
    assert.deepEqual(parseIp('::1'), { family: 6, bytes: Buffer.from([...Array(15).fill(0), 1]) });
    assert.deepEqual(parseIp('::ffff:1.2.3.4')?.bytes, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]));
    assert.equal(formatIp(parseIp('2001:0DB8:0:0:1:0:0:1')!.bytes), '2001:db8::1:0:0:1');
    assert.equal(formatIp(parseIp('1:0:0:2:0:0:3:4')!.bytes), '1::2:0:0:3:4'); // the first of equal runs
    assert.equal(formatIp(parseIp('1:2:3:4:5:6:7:0')!.bytes), '1:2:3:4:5:6:7:0'); // a lone zero stays
    assert.equal(formatIp(parseIp('fd00::')!.bytes), 'fd00::');
    assert.equal(formatIp(Buffer.alloc(16)), '::');
    assert.equal(formatIp(parseIp('::ffff:10.0.0.1')!.bytes), '::ffff:10.0.0.1');
    for (const bad of ['10.1', '010.0.0.1', '256.0.0.1', 'fe80::1%eth0', '1::2::3', 'x', '']) assert.equal(parseIp(bad), undefined, bad);
  });

  test('IPv6 formatting agrees with inet_ntop on random addresses', () => {
    for (let i = 0; i < 2000; i++) {
      // mostly zero groups, so that runs of zeros of every length and place come up
      const bytes = randomBytes(16);
      const coins = randomBytes(8);
      for (let w = 0; w < 8; w++) if (coins[w]! % 3 !== 0) bytes.writeUInt16BE(0, w * 2);
      const words = Array.from({ length: 8 }, (_, w) => bytes.readUInt16BE(w * 2));
      // inet_ntop alone writes the deprecated IPv4-compatible form (::a.b.c.d), which RFC 5952 drops
      if (words.slice(0, 6).every((x) => x === 0) && words[6] !== 0) continue;
      const full = words.map((x) => x.toString(16)).join(':');
      const text = formatIp(bytes);
      assert.equal(text, new SocketAddress({ address: full, family: 'ipv6' }).address, full);
      assert.deepEqual(parseIp(text)?.bytes, bytes, text);
    }
  });

  test('CIDRs need a prefix length in range; IPv4 broadcast addresses', () => {
    assert.deepEqual(parseCidr('10.89.0.2/24'), { family: 4, bytes: Buffer.from([10, 89, 0, 2]), prefixLen: 24 });
    assert.equal(parseCidr('fd00::2/64')?.prefixLen, 64);
    for (const bad of ['10.89.0.2', '10.89.0.2/33', '10.89.0.2/', '10.89.0.2/2x', 'fd00::/129', 'fe80::1%eth0/64']) assert.equal(parseCidr(bad), undefined, bad);
    const b = (cidr: string) => {
      const c = parseCidr(cidr)!;
      const r = ipv4Broadcast(c.bytes, c.prefixLen);
      return r && formatIp(r);
    };
    assert.equal(b('10.89.0.2/24'), '10.89.0.255');
    assert.equal(b('172.16.5.4/12'), '172.31.255.255');
    assert.equal(b('0.0.0.0/0'), '255.255.255.255');
    assert.equal(b('10.0.0.0/31'), undefined);
    assert.equal(b('10.0.0.1/32'), undefined);
    assert.equal(b('fd00::1/64'), undefined);
  });
});
