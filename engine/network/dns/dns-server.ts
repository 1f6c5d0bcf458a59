/**
 * The DNS server of stack networks, one for all the networks of the host (as netavark's
 * aardvark-dns): a UDP socket and a TCP listener on each network's gateway address, each
 * answering the names of its own network only and forwarding the rest upstream. Its
 * configuration is the directory of per-network files; reload() makes it match them.
 */
import dgram from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { decode, encode, TRUNCATED_RESPONSE } from 'dns-packet';
import type { DecodedPacket, OptAnswer, Packet } from 'dns-packet';
import { parseResolvConf } from '../../runtime/etc-files.js';
import { forward } from './dns-forward.js';
import { loadDnsConfigs, parseUpstream } from './dns-records.js';
import type { Upstream } from './dns-records.js';
import { answerFromZones, buildZone, RCODE, response } from './dns-zone.js';
import type { Zone } from './dns-zone.js';

export interface DnsServerOptions {
  configDir: string;
  /** how long one upstream gets to answer; glibc clients wait 5 s for us in all */
  upstreamTimeoutMs?: number;
  /** where the host's resolvers are, for networks that name none */
  resolvConf?: string;
  /** problems that do not stop the server (a socket error); default: stderr */
  log?: (line: string) => void;
}

export interface ReloadResult {
  /** process.hrtime.bigint() (CLOCK_MONOTONIC, the same in every process) taken before reading the directory */
  startedAt: bigint;
  /** the networks served now */
  networks: string[];
  /** the directory names no network at all */
  idle: boolean;
  errors: string[];
}

const QR = 0x8000;
/** what we answer over UDP at most when the client speaks EDNS: the size that avoids fragmentation */
const EDNS_UDP_SIZE = 1232;
const MAX_TCP_MESSAGE = 65535;
/** a TCP client that sends nothing for this long is dropped (unless we still owe it answers) */
const TCP_IDLE_MS = 10_000;

export class DnsServer {
  private readonly listeners = new Map<string, Listener>();
  /** container -> the zones it has an address in, rebuilt on every reload */
  private zonesOf = new Map<string, Zone[]>();
  private readonly closing = new AbortController();
  private reloads: Promise<unknown> = Promise.resolve();
  private readonly hostResolvers: HostResolvers;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: DnsServerOptions) {
    this.hostResolvers = new HostResolvers(opts.resolvConf ?? '/etc/resolv.conf');
    this.timeoutMs = opts.upstreamTimeoutMs ?? 2000;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** the networks served, by name */
  get networks(): string[] {
    return [...this.listeners.values()].map((l) => l.zone.network).sort();
  }

  /**
   * Makes the listeners and names match the config directory: new networks get listeners,
   * removed ones lose theirs, the others swap their names in one assignment (a query
   * answered meanwhile sees the old names or the new, never a mix). Reloads run one at a time.
   */
  reload(): Promise<ReloadResult> {
    const run = this.reloads.then(() => this.load());
    this.reloads = run.catch(() => undefined);
    return run;
  }

  /** Closes every socket; forwarded queries in flight are dropped. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.reloads;
    await Promise.all([...this.listeners.values()].map((l) => l.close()));
    this.listeners.clear();
  }

  private async load(): Promise<ReloadResult> {
    const startedAt = process.hrtime.bigint();
    if (this.closing.signal.aborted) throw new Error('the DNS server is closed');
    const errors: string[] = [];
    let loaded: ReturnType<typeof loadDnsConfigs>;
    try {
      loaded = loadDnsConfigs(this.opts.configDir);
    } catch (e) {
      // an unreadable directory changes nothing: keep serving what we have
      return { startedAt, networks: this.networks, idle: false, errors: [`${this.opts.configDir}: ${(e as Error).message}`] };
    }
    const wanted = new Map<string, Zone>();
    for (const cfg of loaded.configs) {
      const key = endpoint(cfg.listen, cfg.port ?? 53);
      const other = wanted.get(key);
      if (other) {
        errors.push(`network ${cfg.network}: ${key} is already the DNS address of network ${other.network}`);
        continue;
      }
      wanted.set(key, buildZone(cfg));
    }
    // a network whose file is broken keeps the names it had rather than losing them all
    const broken = new Set(loaded.errors.map((e) => e.network));
    for (const e of loaded.errors) errors.push(e.error.message);
    for (const [key, l] of this.listeners) if (broken.has(l.zone.network) && !wanted.has(key)) wanted.set(key, l.zone);

    // close first: a network may have moved to an address another one just gave up
    for (const [key, l] of this.listeners) {
      if (wanted.has(key)) continue;
      this.listeners.delete(key);
      await l.close();
    }
    for (const [key, zone] of wanted) {
      const l = this.listeners.get(key);
      if (l) {
        l.zone = zone;
        continue;
      }
      const [host, port] = splitEndpoint(key);
      try {
        this.listeners.set(key, await Listener.open(host, port, zone, (msg, z, tcp, client) => this.answer(msg, z, tcp, client), this.log));
      } catch (e) {
        // the next reload tries again (the bridge may not have its address yet)
        errors.push(`network ${zone.network}: cannot listen on ${key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const zonesOf = new Map<string, Zone[]>();
    for (const zone of wanted.values()) {
      for (const container of new Set(zone.containers.values())) zonesOf.set(container, [...(zonesOf.get(container) ?? []), zone]);
    }
    this.zonesOf = zonesOf;
    return { startedAt, networks: this.networks, idle: loaded.configs.length === 0 && loaded.errors.length === 0, errors };
  }

  /** the listener's zone first, then the other networks of the container asking */
  private zonesFor(zone: Zone, client: string): Zone[] {
    const container = zone.containers.get(client);
    const others = container === undefined ? [] : (this.zonesOf.get(container) ?? []).filter((z) => z.network !== zone.network);
    return [zone, ...others];
  }

  private async answer(msg: Buffer, zone: Zone, tcp: boolean, client: string): Promise<Buffer | undefined> {
    // too short to hold an id to answer to, or an answer itself (never answer answers: loops)
    if (msg.length < 12 || msg.readUInt16BE(2) & QR) return undefined;
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      return encode({ type: 'response', id: msg.readUInt16BE(0), flags: RCODE.FORMERR });
    }
    const limit = tcp ? MAX_TCP_MESSAGE : udpLimit(query);
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    if (opcode !== 0) return fit(response(query, RCODE.NOTIMP, [], false), query, limit);
    if (query.questions?.length !== 1) return fit(response(query, RCODE.FORMERR, [], false), query, limit);
    const local = answerFromZones(this.zonesFor(zone, client), query);
    if (local) return fit(local, query, limit);
    const own = zone.clientUpstreams.get(client);
    const upstreams = (own ?? (zone.upstreams.length > 0 ? zone.upstreams : this.hostResolvers.get()))
      // a resolver that is one of our own addresses would send the question back to us
      .filter((u) => !this.listeners.has(endpoint(u.address, u.port)));
    const relayed = await forward(msg, upstreams, { timeoutMs: this.timeoutMs, tcp, udpLimit: limit, signal: this.closing.signal });
    return relayed ?? fit(response(query, RCODE.SERVFAIL, [], false), query, limit);
  }
}

type Answerer = (msg: Buffer, zone: Zone, tcp: boolean, client: string) => Promise<Buffer | undefined>;

/** One network's address: a UDP socket and a TCP listener on the same ip:port. */
class Listener {
  private readonly conns = new Set<net.Socket>();
  private closed = false;

  private constructor(
    public zone: Zone,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
  ) {}

  static async open(host: string, port: number, zone: Zone, answer: Answerer, log: (line: string) => void): Promise<Listener> {
    const l = new Listener(zone, dgram.createSocket('udp4'), net.createServer());
    const where = `${zone.network} ${endpoint(host, port)}`;
    // handlers before binding: a query that arrives at once must find them
    l.udp.on('message', (msg, peer) => {
      // the zone of the moment the query arrived: a reload meanwhile does not mix the two
      void answer(msg, l.zone, false, peer.address).then((out) => {
        if (out && !l.closed) l.udp.send(out, peer.port, peer.address, () => undefined);
      }, (e: unknown) => log(`DNS ${where}: ${(e as Error).message}`));
    });
    l.tcp.on('connection', (sock) => l.serveTcp(sock, answer, (e) => log(`DNS ${where}: ${e.message}`)));
    try {
      await bindUdp(l.udp, host, port);
      await listenTcp(l.tcp, host, port);
    } catch (e) {
      await l.close();
      throw e;
    }
    l.udp.on('error', (e) => log(`DNS ${where} (udp): ${e.message}`));
    l.tcp.on('error', (e) => log(`DNS ${where} (tcp): ${e.message}`));
    return l;
  }

  /** RFC 7766: length-prefixed messages, several per connection, answered as they are ready. */
  private serveTcp(sock: net.Socket, answer: Answerer, fail: (e: Error) => void): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    // a client that resets the connection is its own business
    sock.on('error', () => undefined);
    let buf: Buffer = Buffer.alloc(0);
    let owed = 0;
    sock.setTimeout(TCP_IDLE_MS, () => {
      if (owed === 0) sock.destroy();
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        owed++;
        void answer(msg, this.zone, true, sock.remoteAddress ?? '').then((out) => {
          owed--;
          if (out && !sock.destroyed) sock.write(frame(out));
        }, fail);
      }
    });
  }

  close(): Promise<void> {
    this.closed = true;
    for (const c of this.conns) c.destroy();
    return new Promise((resolve) => {
      let left = 2;
      const one = () => {
        if (--left === 0) resolve();
      };
      try {
        this.udp.close(one);
      } catch {
        // a socket whose bind failed is closed already
        one();
      }
      // a server that never listened calls back with an error, which changes nothing here
      this.tcp.close(() => one());
    });
  }
}

/** The host's nameservers, read again whenever resolv.conf changes (a laptop changing networks). */
class HostResolvers {
  private stamp = '';
  private upstreams: Upstream[] = [];

  constructor(private readonly file: string) {}

  get(): Upstream[] {
    let stamp: string;
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return [];
    }
    if (stamp !== this.stamp) {
      let text = '';
      try {
        text = readFileSync(this.file, 'utf8');
      } catch {
        // vanished between the stat and the read: no resolvers until it is back
      }
      // loopback resolvers are fine: the server runs in the host's network namespace
      this.upstreams = parseResolvConf(text).nameservers.flatMap((s) => parseUpstream(s) ?? []);
      this.stamp = stamp;
    }
    return this.upstreams;
  }
}

/** Encodes a local answer; one that does not fit the client's UDP size goes out empty with TC set. */
function fit(packet: Packet, query: DecodedPacket, limit: number): Buffer {
  // a client that speaks EDNS learns our size from the OPT record of the answer
  if (opt(query)) {
    const ours: OptAnswer = { type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    packet.additionals = [ours];
  }
  const out = encode(packet);
  if (out.length <= limit) return out;
  return encode({ ...packet, answers: [], flags: (packet.flags ?? 0) | TRUNCATED_RESPONSE });
}

function opt(query: DecodedPacket): OptAnswer | undefined {
  return query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
}

function udpLimit(query: DecodedPacket): number {
  const o = opt(query);
  return o ? Math.max(512, Math.min(o.udpPayloadSize, EDNS_UDP_SIZE)) : 512;
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

function endpoint(host: string, port: number): string {
  return `${host}:${port}`;
}

function splitEndpoint(key: string): [string, number] {
  const i = key.lastIndexOf(':');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

function bindUdp(sock: dgram.Socket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(srv: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port }, () => {
      srv.off('error', reject);
      resolve();
    });
  });
}
