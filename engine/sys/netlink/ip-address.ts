/**
 * IP addresses as the kernel carries them in netlink attributes: raw network-order bytes,
 * 4 for IPv4 and 16 for IPv6. Parsing is strict (no zone ids, no shortened IPv4 forms such
 * as `10.1`), as an address that inet_aton would read differently is a user error here.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  bytes: Buffer;
}

export interface Cidr extends IpAddress {
  prefixLen: number;
}

export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: 4, bytes: Buffer.from(text.split('.').map(Number)) };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, bytes: parseIpv6(text) };
  return undefined;
}

/** `10.89.0.2/24`, `fd00::2/64`: the prefix length is required, as a bare address has no obvious one. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.family === 4 ? 32 : 128;
  const len = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  return { ...ip, prefixLen: Number(len) };
}

/** isIPv6 has validated the text; this only converts it. */
function parseIpv6(text: string): Buffer {
  const bytes = Buffer.alloc(16);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        // an embedded IPv4 address fills the last two groups
        const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  const front = groups(head);
  const back = groups(tail);
  front.forEach((g, i) => bytes.writeUInt16BE(g, i * 2));
  back.forEach((g, i) => bytes.writeUInt16BE(g, 16 - (back.length - i) * 2));
  return bytes;
}

/** The text form of 4 or 16 address bytes; IPv6 in the RFC 5952 canonical form. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const words = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 section 5)
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
  // the longest run of two zero groups or more is written `::`, the first one on a tie
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** The IPv4 broadcast address of the prefix holding `bytes`, or undefined for /31 and /32, which have none. */
export function ipv4Broadcast(bytes: Uint8Array, prefixLen: number): Buffer | undefined {
  if (bytes.length !== 4 || prefixLen >= 31) return undefined;
  const host = 0xffffffff >>> prefixLen;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((Buffer.from(bytes).readUInt32BE(0) | host) >>> 0);
  return out;
}
