/**
 * compose's short syntax for ports and volumes, parsed into the long form. Pure functions:
 * they return the long form, or a sentence saying what is wrong with the text.
 */
import type { Port, ServiceVolume } from './types.js';

/** `[host_ip:][published:]target[/protocol]` with ranges on either side. */
export function parsePortSpec(spec: string): Port[] | string {
  let rest = spec.trim();
  let protocol: Port['protocol'] = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1).toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') return `unknown protocol "${proto}" in port "${spec}"`;
    protocol = proto;
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  // an IPv6 host address is written in brackets: [::1]:8080:80
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2]!;
  }
  const parts = rest.split(':');
  if (!hostIp && parts.length === 3) hostIp = parts.shift();
  if (parts.length > 2 || parts.length === 0) return `invalid port "${spec}"`;
  const targetText = parts.pop()!;
  const publishedText = parts.pop();
  const target = parseRange(targetText);
  if (!target) return `invalid container port "${targetText}" in "${spec}"`;
  let published: [number, number] | undefined;
  if (publishedText !== undefined && publishedText !== '') {
    published = parseRange(publishedText);
    if (!published) return `invalid host port "${publishedText}" in "${spec}"`;
  }
  const count = target[1] - target[0] + 1;
  const pubCount = published ? published[1] - published[0] + 1 : 0;
  if (published && pubCount !== count && pubCount !== 1 && count !== 1) {
    return `port ranges "${publishedText}" and "${targetText}" have different lengths`;
  }
  const out: Port[] = [];
  for (let i = 0; i < count; i++) {
    const p: Port = { mode: 'ingress', target: target[0] + i, protocol };
    if (hostIp !== undefined && hostIp !== '') p.host_ip = hostIp;
    if (published) {
      // a single target with a host range picks one free port of the range when started
      p.published = count === 1 && pubCount > 1 ? `${published[0]}-${published[1]}` : String(pubCount === 1 ? published[0] : published[0] + i);
    }
    out.push(p);
  }
  return out;
}

function parseRange(s: string): [number, number] | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 0 || b > 65535 || b < a) return undefined;
  return [a, b];
}

/** `[source:]target[:mode]` */
export function parseVolumeSpec(spec: string): ServiceVolume | string {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(i === 0 && parts.length === 1))) return `invalid volume "${spec}"`;
  if (parts.length === 1) return { type: 'volume', target: parts[0]! };
  const [source, target, mode] = parts as [string, string, string | undefined];
  if (!target.startsWith('/')) return `the container path "${target}" in "${spec}" must be absolute`;
  const isPath = source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
  const v: ServiceVolume = { type: isPath ? 'bind' : 'volume', source, target };
  for (const opt of (mode ?? '').split(',').filter(Boolean)) {
    switch (opt) {
      case 'ro':
        v.read_only = true;
        break;
      case 'rw':
        break;
      case 'z':
      case 'Z':
        v.bind = { ...v.bind, selinux: opt };
        break;
      case 'nocopy':
        v.volume = { ...v.volume, nocopy: true };
        break;
      case 'shared':
      case 'rshared':
      case 'slave':
      case 'rslave':
      case 'private':
      case 'rprivate':
        v.bind = { ...v.bind, propagation: opt };
        break;
      case 'cached':
      case 'delegated':
      case 'consistent':
        v.consistency = opt;
        break;
      default:
        return `unknown volume option "${opt}" in "${spec}"`;
    }
  }
  if (v.type === 'bind') v.bind = { ...v.bind, create_host_path: true };
  return v;
}
