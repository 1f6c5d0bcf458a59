import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, encode, TRUNCATED_RESPONSE } from 'dns-packet';
import type { DecodedPacket, Packet, RecordType } from 'dns-packet';
import { dnsServerPid, ensureDnsServer, stopDnsServerIfIdle } from '../engine/network/dns/dns-control.js';
import { parseUpstream, readDnsConfigs, removeDnsConfig, writeDnsConfig } from '../engine/network/dns/dns-records.js';
import type { DnsNetworkConfig } from '../engine/network/dns/dns-records.js';
import { DnsServer } from '../engine/network/dns/dns-server.js';

// Every packet these tests send goes to loopback: the server under test and fake upstreams
// the tests run themselves. No real resolver is ever asked.

const base = mkdtempSync(path.join(tmpdir(), 'stack-dns-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** a port free for TCP and UDP on the loopback addresses the tests use */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const free = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => udpFree(h, port)));
    if (free.every(Boolean)) return port;
  }
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

let nextId = 1;
function question(name: string, type: RecordType = 'A', edns = false): Packet {
  return {
    type: 'query',
    id: nextId++,
    flags: 1 << 8, // RD
    questions: [{ name, type, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  };
}

function askUdpRaw(host: string, port: number, msg: Buffer, timeoutMs = 3000, from?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    if (from !== undefined) s.bind(0, from);
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer from ${host}:${port}`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

async function askUdp(host: string, port: number, q: Packet, from?: string): Promise<DecodedPacket> {
  const answer = decode(await askUdpRaw(host, port, encode(q), 3000, from));
  assert.equal(answer.id, q.id, 'the answer carries the client id');
  return answer;
}

/** Sends the queries on one connection and returns the answers in the order of the queries. */
function askTcp(host: string, port: number, qs: Packet[]): Promise<DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const got = new Map<number, DecodedPacket>();
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(Buffer.concat(qs.map((q) => frame(encode(q))))));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const a = decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        got.set(a.id!, a);
      }
      if (got.size === qs.length) {
        sock.destroy();
        resolve(qs.map((q) => got.get(q.id!)!));
      }
    });
  });
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

const data = (a: DecodedPacket) => (a.answers ?? []).map((r) => (r as { data: unknown }).data);
const rcode = (a: DecodedPacket) => (a as DecodedPacket & { rcode: string }).rcode;

interface Fake {
  port: number;
  /** what it was asked: `udp example.test` */
  seen: string[];
  /** the bytes of its last answer */
  last?: Buffer;
  close(): Promise<void>;
}

/**
 * An upstream resolver on loopback: `udp` and `tcp` build the answer (undefined: stay
 * silent). It only ever answers the tests' own queries.
 */
async function fakeUpstream(
  handlers: { udp?: (q: DecodedPacket) => Packet | undefined; tcp?: (q: DecodedPacket) => Packet | undefined },
  host = '127.0.0.1',
  fixedPort?: number,
): Promise<Fake> {
  const port = fixedPort ?? (await freePort());
  const fake: Fake = { port, seen: [], close: async () => undefined };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(port, host, r));
  udp.on('message', (m, peer) => {
    const q = decode(m);
    fake.seen.push(`udp ${q.questions![0]!.name}`);
    const a = handlers.udp?.(q);
    if (a) udp.send((fake.last = encode(a)), peer.port, peer.address);
  });
  const conns = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('data', (d: Buffer) => {
      const q = decode(d.subarray(2));
      fake.seen.push(`tcp ${q.questions![0]!.name}`);
      const a = handlers.tcp?.(q);
      if (a) sock.write(frame((fake.last = encode(a))));
    });
  });
  await new Promise<void>((r) => tcp.listen({ host, port }, r));
  fake.close = async () => {
    for (const c of conns) c.destroy();
    await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
  };
  return fake;
}

const reply = (q: DecodedPacket, ip: string, flags = 0): Packet => ({
  type: 'response',
  id: q.id,
  flags: (1 << 7) | flags,
  questions: q.questions,
  answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 30, data: ip }],
});

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('dns config files', () => {
  test('written atomically, read back, removed; bad configs are refused', () => {
    const dir = mkdtempSync(path.join(base, 'cfg-'));
    const cfg: DnsNetworkConfig = { network: 'proj_default', listen: '10.89.3.1', upstreams: ['127.0.0.53', '[::1]:5353'], records: [{ names: ['web'], ipv4: '10.89.3.2' }] };
    writeDnsConfig(dir, cfg);
    assert.deepEqual(readdirSync(dir), ['proj_default.json'], 'no temp file is left');
    assert.deepEqual(readDnsConfigs(dir), [cfg]);
    assert.throws(() => writeDnsConfig(dir, { ...cfg, listen: 'gateway' }), /listen: not an IPv4 address/);
    assert.throws(() => writeDnsConfig(dir, { ...cfg, network: '../x' }), /not a valid name/);
    assert.throws(() => writeDnsConfig(dir, { ...cfg, upstreams: ['1.2.3.4:99999'] }), /upstreams/);
    assert.throws(() => writeDnsConfig(dir, { ...cfg, records: [{ names: ['web'], ipv4: '10.89.3.2', ipv6: '10.0.0.1' }] }), /ipv6/);
    writeFileSync(path.join(dir, 'broken.json'), '{"network":');
    assert.throws(() => readDnsConfigs(dir), /broken\.json/);
    removeDnsConfig(dir, 'broken');
    removeDnsConfig(dir, 'proj_default');
    assert.deepEqual(readDnsConfigs(dir), []);
    assert.deepEqual(readDnsConfigs(path.join(dir, 'missing')), []);
  });

  test('upstream addresses', () => {
    assert.deepEqual(parseUpstream('1.2.3.4'), { address: '1.2.3.4', port: 53, family: 4 });
    assert.deepEqual(parseUpstream('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353, family: 4 });
    assert.deepEqual(parseUpstream('::1'), { address: '::1', port: 53, family: 6 });
    assert.deepEqual(parseUpstream('[fe80::1%eth0]:54'), { address: 'fe80::1%eth0', port: 54, family: 6 });
    assert.equal(parseUpstream('dns.example'), undefined);
    assert.equal(parseUpstream('1.2.3.4:0'), undefined);
  });
});

describe('dns server', () => {
  let port: number;
  let dir: string;
  let server: DnsServer;
  let up: Fake;
  let silent: Fake;
  let own: Fake;
  const A = '127.0.0.1';
  const B = '127.0.0.2';
  const netA = (): DnsNetworkConfig => ({
    network: 'proj_default',
    listen: A,
    port,
    upstreams: [`127.0.0.1:${up.port}`],
    searchDomains: ['Corp.Example.'],
    records: [
      { names: ['web', 'proj-web-1', 'frontend'], ipv4: '10.89.3.2', ipv6: 'fd00::2' },
      { names: ['web', 'proj-web-2'], ipv4: '10.89.3.3' },
      { names: ['db', 'proj-db-1', 'Database'], ipv4: '10.89.3.4' },
      // a container on both networks, asking from its address on this one
      { names: ['proj-multi-1'], ipv4: '127.0.0.5', container: 'proj-multi-1' },
      // a container with its own `dns:` servers
      { names: ['proj-own-1'], ipv4: '127.0.0.7', container: 'proj-own-1', upstreams: [`127.0.0.1:${own.port}`] },
    ],
  });
  const netB = (): DnsNetworkConfig => ({
    network: 'proj_back',
    listen: B,
    port,
    upstreams: [`127.0.0.1:${up.port}`],
    records: [{ names: ['cache'], ipv4: '10.90.0.2' }, { names: ['proj-multi-1'], ipv4: '10.90.0.5', container: 'proj-multi-1' }],
  });

  before(async () => {
    port = await freePort();
    dir = mkdtempSync(path.join(base, 'server-'));
    up = await fakeUpstream({
      udp: (q) => (q.questions![0]!.name === 'big.example.test' ? { ...reply(q, '192.0.2.1', TRUNCATED_RESPONSE), answers: [] } : reply(q, '192.0.2.7')),
      tcp: (q) => reply(q, '192.0.2.9'),
    });
    silent = await fakeUpstream({});
    own = await fakeUpstream({ udp: (q) => reply(q, '192.0.2.99') });
    // the host's resolvers, for a network that names none: only ever the fake one
    const resolvConf = path.join(dir, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver 127.0.0.1\n`);
    server = new DnsServer({ configDir: path.join(dir, 'conf'), upstreamTimeoutMs: 300, resolvConf, log: () => undefined });
    writeDnsConfig(path.join(dir, 'conf'), netA());
    writeDnsConfig(path.join(dir, 'conf'), netB());
    const r = await server.reload();
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.networks, ['proj_back', 'proj_default']);
  });
  after(async () => {
    await server?.close();
    await up?.close();
    await silent?.close();
    await own?.close();
  });

  test('a service name answers every replica, in a new order each time, with TTL 0', async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const a = await askUdp(A, port, question('web'));
      assert.equal(rcode(a), 'NOERROR');
      assert.ok(a.flag_aa && a.flag_ra && a.flag_rd);
      assert.deepEqual([...data(a)].sort(), ['10.89.3.2', '10.89.3.3']);
      assert.deepEqual(a.answers!.map((r) => [r.name, (r as { ttl: number }).ttl]), [['web', 0], ['web', 0]]);
      orders.add(data(a).join(' '));
    }
    assert.equal(orders.size, 2, 'round robin: both orders are answered');
  });

  test('container names and aliases, case-insensitive, with or without the trailing dot', async () => {
    assert.deepEqual(data(await askUdp(A, port, question('proj-web-2'))), ['10.89.3.3']);
    assert.deepEqual(data(await askUdp(A, port, question('frontend'))), ['10.89.3.2']);
    assert.deepEqual(data(await askUdp(A, port, question('database.'))), ['10.89.3.4']);
    const a = await askUdp(A, port, question('PROJ-Db-1'));
    assert.deepEqual(data(a), ['10.89.3.4']);
    assert.equal(a.answers![0]!.name, 'PROJ-Db-1', 'the answer names what was asked, case kept');
  });

  test('the search domains are stripped; an unknown name under them is forwarded', async () => {
    assert.deepEqual(data(await askUdp(A, port, question('db.corp.example'))), ['10.89.3.4']);
    assert.deepEqual(data(await askUdp(A, port, question('WEB.CORP.EXAMPLE.'))).length, 2);
    const before = up.seen.length;
    assert.deepEqual(data(await askUdp(A, port, question('mail.corp.example'))), ['192.0.2.7']);
    assert.deepEqual(up.seen.slice(before), ['udp mail.corp.example']);
  });

  test('AAAA when known, an empty NOERROR for the other types of a known name', async () => {
    const before = up.seen.length;
    assert.deepEqual(data(await askUdp(A, port, question('web', 'AAAA'))), ['fd00::2']);
    for (const [name, type] of [['db', 'AAAA'], ['web', 'MX'], ['web', 'TXT'], ['web', 'PTR']] as const) {
      const a = await askUdp(A, port, question(name, type));
      assert.equal(rcode(a), 'NOERROR', `${name} ${type}`);
      assert.deepEqual(a.answers, [], `${name} ${type}`);
    }
    assert.deepEqual(up.seen.slice(before), [], 'nothing about a known name is forwarded');
  });

  test('PTR for the network addresses', async () => {
    assert.deepEqual(data(await askUdp(A, port, question('4.3.89.10.in-addr.arpa', 'PTR'))), ['db', 'proj-db-1', 'Database']);
    const v6 = `2.0.0.0.${'0.0.0.0.'.repeat(6)}0.0.d.f.ip6.arpa`; // fd00::2
    assert.deepEqual(data(await askUdp(A, port, question(v6, 'PTR'))), ['web', 'proj-web-1', 'frontend']);
  });

  test('each listener answers its own network only', async () => {
    const before = up.seen.length;
    assert.deepEqual(data(await askUdp(B, port, question('cache'))), ['10.90.0.2']);
    for (const [host, name] of [[A, 'cache'], [B, 'web'], [B, 'proj-db-1']] as const) {
      const a = await askUdp(host, port, question(name));
      assert.equal(rcode(a), 'NXDOMAIN', `${name} at ${host}`);
    }
    assert.deepEqual(up.seen.slice(before), [], 'unknown single-label names are not forwarded');
  });

  test('a container on several networks gets the names of all of them, its own network first', async () => {
    assert.deepEqual(data(await askUdp(A, port, question('cache'), '127.0.0.5')), ['10.90.0.2']);
    assert.deepEqual(data(await askUdp(A, port, question('web'), '127.0.0.5')).length, 2);
    assert.deepEqual(data(await askUdp(A, port, question('proj-multi-1'), '127.0.0.5')), ['127.0.0.5']);
    assert.equal(rcode(await askUdp(A, port, question('nothing'), '127.0.0.5')), 'NXDOMAIN');
    // the same question from an address no container of both networks has
    assert.equal(rcode(await askUdp(A, port, question('cache'), '127.0.0.6')), 'NXDOMAIN');
  });

  test("a container's own dns servers get its other questions; the network's names still answer", async () => {
    assert.deepEqual(data(await askUdp(A, port, question('elsewhere.example.test'), '127.0.0.7')), ['192.0.2.99']);
    assert.deepEqual(own.seen, ['udp elsewhere.example.test']);
    assert.deepEqual(data(await askUdp(A, port, question('db'), '127.0.0.7')), ['10.89.3.4']);
    assert.deepEqual(data(await askUdp(A, port, question('elsewhere.example.test'))), ['192.0.2.7'], 'other clients use the network upstream');
  });

  test('TCP, several queries on one connection', async () => {
    const [web, db, fwd] = await askTcp(A, port, [question('web'), question('db'), question('tcp.example.test')]);
    assert.deepEqual([...data(web!)].sort(), ['10.89.3.2', '10.89.3.3']);
    assert.deepEqual(data(db!), ['10.89.3.4']);
    // a TCP client is forwarded over TCP (the fake's TCP side answers .9)
    assert.deepEqual(data(fwd!), ['192.0.2.9']);
  });

  test('an answer that does not fit 512 bytes of UDP is truncated; TCP carries it whole', async () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ names: ['a-rather-long-service-name-for-many-replicas'], ipv4: `10.89.4.${i + 1}` }));
    writeDnsConfig(path.join(dir, 'conf'), { ...netA(), records: [...netA().records, ...many] });
    await server.reload();
    try {
      const udp = await askUdp(A, port, question('a-rather-long-service-name-for-many-replicas'));
      assert.ok(udp.flag_tc, 'TC set');
      assert.deepEqual(udp.answers, []);
      const [tcp] = await askTcp(A, port, [question('a-rather-long-service-name-for-many-replicas')]);
      assert.equal(tcp!.flag_tc, false);
      assert.equal(tcp!.answers!.length, 60);
    } finally {
      writeDnsConfig(path.join(dir, 'conf'), netA());
      await server.reload();
    }
  });

  test('other names are forwarded, and the upstream answer relayed unchanged', async () => {
    const q = question('example.test');
    const raw = await askUdpRaw(A, port, encode(q));
    assert.deepEqual(raw, up.last, 'the bytes of the upstream answer');
    assert.equal(decode(raw).id, q.id);
    assert.deepEqual(data(decode(raw)), ['192.0.2.7']);
    assert.equal(up.seen.at(-1), 'udp example.test');
  });

  test('the host resolvers serve a network that names no upstream', async () => {
    // resolv.conf names no ports: this fake listens on port 53 of a loopback address of its own
    const host = '127.0.0.4';
    const port53 = await fakeUpstream({ udp: (q) => reply(q, '192.0.2.53') }, host, 53);
    const resolvConf = path.join(dir, 'resolv.conf');
    writeDnsConfig(path.join(dir, 'conf'), { ...netB(), upstreams: [] });
    await server.reload();
    try {
      writeFileSync(resolvConf, `# the host's\nnameserver ${host}\n`);
      assert.deepEqual(data(await askUdp(B, port, question('fallback.example.test'))), ['192.0.2.53']);
      assert.deepEqual(port53.seen, ['udp fallback.example.test']);
      // resolv.conf changes (a laptop on another network): read again without a reload
      writeFileSync(resolvConf, `nameserver 127.0.0.1\nnameserver 127.0.0.5\n`);
      const a = await askUdp(B, port, question('changed.example.test'));
      assert.equal(rcode(a), 'SERVFAIL');
      assert.deepEqual(port53.seen, ['udp fallback.example.test']);
    } finally {
      await port53.close();
      writeFileSync(resolvConf, `nameserver 127.0.0.1\n`);
      writeDnsConfig(path.join(dir, 'conf'), netB());
      await server.reload();
    }
  });

  test('a silent upstream: the next one is asked; none answering is SERVFAIL', async () => {
    writeDnsConfig(path.join(dir, 'conf'), { ...netB(), upstreams: [`127.0.0.1:${silent.port}`, `127.0.0.1:${up.port}`] });
    await server.reload();
    try {
      const t0 = Date.now();
      assert.deepEqual(data(await askUdp(B, port, question('next.example.test'))), ['192.0.2.7']);
      assert.ok(Date.now() - t0 >= 250, 'the silent one was waited for');
      assert.deepEqual(silent.seen.at(-1), 'udp next.example.test');
      writeDnsConfig(path.join(dir, 'conf'), { ...netB(), upstreams: [`127.0.0.1:${silent.port}`] });
      await server.reload();
      const a = await askUdp(B, port, question('lost.example.test'));
      assert.equal(rcode(a), 'SERVFAIL');
      assert.equal(a.questions![0]!.name, 'lost.example.test');
    } finally {
      writeDnsConfig(path.join(dir, 'conf'), netB());
      await server.reload();
    }
  });

  test('a truncated upstream answer is asked again over TCP', async () => {
    const a = await askUdp(A, port, question('big.example.test', 'A', true));
    assert.equal(a.flag_tc, false);
    assert.deepEqual(data(a), ['192.0.2.9']);
    assert.deepEqual(up.seen.slice(-2), ['udp big.example.test', 'tcp big.example.test']);
  });

  test('reload adds and removes a network; a broken file keeps its network as it was', async () => {
    const conf = path.join(dir, 'conf');
    const C = '127.0.0.3';
    assert.ok(await refused(C, port));
    writeDnsConfig(conf, { network: 'other', listen: C, port, upstreams: [], records: [{ names: ['api'], ipv4: '10.91.0.2' }] });
    let r = await server.reload();
    assert.deepEqual(r.networks, ['other', 'proj_back', 'proj_default']);
    assert.deepEqual(data(await askUdp(C, port, question('api'))), ['10.91.0.2']);

    writeFileSync(path.join(conf, 'other.json'), '{ not json');
    r = await server.reload();
    assert.match(r.errors.join('\n'), /other\.json/);
    assert.deepEqual(data(await askUdp(C, port, question('api'))), ['10.91.0.2']);

    removeDnsConfig(conf, 'other');
    r = await server.reload();
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.networks, ['proj_back', 'proj_default']);
    assert.ok(await refused(C, port), 'the listener is closed');
    assert.deepEqual(data(await askUdp(A, port, question('db'))), ['10.89.3.4'], 'the others are untouched');
  });

  test('two networks on one address: the second is refused', async () => {
    const conf = path.join(dir, 'conf');
    writeDnsConfig(conf, { ...netB(), network: 'proj_zzz' });
    try {
      const r = await server.reload();
      assert.match(r.errors.join('\n'), /proj_zzz: 127\.0\.0\.2:\d+ is already the DNS address of network proj_back/);
      assert.deepEqual(r.networks, ['proj_back', 'proj_default']);
    } finally {
      removeDnsConfig(conf, 'proj_zzz');
      await server.reload();
    }
  });

  test('garbage gets FORMERR or nothing', async () => {
    const a = decode(await askUdpRaw(A, port, Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xff])));
    assert.equal(a.id, 0x1234);
    assert.equal(rcode(a), 'FORMERR');
    // a response sent to the server is never answered
    await assert.rejects(askUdpRaw(A, port, encode({ ...reply(decode(encode(question('x.test'))), '1.2.3.4') }), 300));
  });
});

describe('dns server process', () => {
  let dir: string;
  let paths: { configDir: string; pidFile: string; logFile: string };
  let port: number;
  let up: Fake;
  const started = new Set<number>();

  /** processes whose command line names our config dir */
  function servers(): number[] {
    const out: number[] = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes(paths.configDir)) out.push(Number(e));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  before(async () => {
    dir = mkdtempSync(path.join(base, 'proc-'));
    paths = { configDir: path.join(dir, 'dns'), pidFile: path.join(dir, 'run', 'dns.pid'), logFile: path.join(dir, 'log', 'dns.log') };
    port = await freePort();
    up = await fakeUpstream({ udp: (q) => reply(q, '192.0.2.7') });
  });
  after(async () => {
    for (const pid of [...started, ...servers()]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
    await up?.close();
  });

  const cfg = (network: string, listen: string, names: string[], ipv4: string): DnsNetworkConfig => ({ network, listen, port, upstreams: [`127.0.0.1:${up.port}`], records: [{ names, ipv4 }] });

  test('ensureDnsServer starts one server however many ask, reloads it, and it exits with the last network', async () => {
    writeDnsConfig(paths.configDir, cfg('one', '127.0.0.1', ['web'], '10.89.3.2'));
    await Promise.all([ensureDnsServer(paths), ensureDnsServer(paths), ensureDnsServer(paths)]);
    const pid = dnsServerPid(paths);
    assert.ok(pid !== undefined);
    started.add(pid);
    assert.deepEqual(servers(), [pid], 'exactly one server process');
    assert.deepEqual(data(await askUdp('127.0.0.1', port, question('web'))), ['10.89.3.2']);
    assert.deepEqual(data(await askUdp('127.0.0.1', port, question('example.test'))), ['192.0.2.7'], 'it forwards');

    await ensureDnsServer(paths);
    assert.equal(dnsServerPid(paths), pid, 'a later call does not start another');

    // SIGHUP: a new network and a changed one
    writeDnsConfig(paths.configDir, cfg('two', '127.0.0.2', ['cache'], '10.90.0.2'));
    writeDnsConfig(paths.configDir, cfg('one', '127.0.0.1', ['web'], '10.89.3.9'));
    await ensureDnsServer(paths);
    assert.equal(dnsServerPid(paths), pid);
    assert.deepEqual(data(await askUdp('127.0.0.2', port, question('cache'))), ['10.90.0.2']);
    assert.deepEqual(data(await askUdp('127.0.0.1', port, question('web'))), ['10.89.3.9']);

    removeDnsConfig(paths.configDir, 'two');
    await ensureDnsServer(paths);
    assert.ok(await refused('127.0.0.2', port));

    // a network it cannot serve is the caller's error
    writeDnsConfig(paths.configDir, cfg('three', '192.0.2.200', ['x'], '10.92.0.2'));
    await assert.rejects(ensureDnsServer(paths), /three: cannot listen on 192\.0\.2\.200:\d+: EADDRNOTAVAIL/);
    removeDnsConfig(paths.configDir, 'three');

    // not idle: left alone
    await stopDnsServerIfIdle(paths);
    assert.equal(dnsServerPid(paths), pid);

    removeDnsConfig(paths.configDir, 'one');
    await stopDnsServerIfIdle(paths);
    assert.deepEqual(servers(), [], 'no server process is left');
    assert.ok(!existsSync(paths.pidFile), 'the pid file is gone');
    assert.ok(await refused('127.0.0.1', port));
    assert.equal(readFileSync(paths.logFile, 'utf8').split('\n').filter((l) => l !== '' && !/three|192\.0\.2\.200/.test(l)).join('\n'), '', 'nothing but the real problem was logged');
  });

  test('a stale pid file naming another process is not signalled; a new server starts', async () => {
    // our own pid: alive, but not a DNS server; a SIGHUP would kill the test runner
    writeFileSync(paths.pidFile, `${process.pid}\n`);
    writeDnsConfig(paths.configDir, cfg('one', '127.0.0.1', ['web'], '10.89.3.2'));
    await ensureDnsServer(paths);
    const pid = dnsServerPid(paths);
    assert.ok(pid !== undefined && pid !== process.pid);
    started.add(pid);
    assert.deepEqual(data(await askUdp('127.0.0.1', port, question('web'))), ['10.89.3.2']);
    // SIGTERM stops it
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && servers().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(servers(), []);
    assert.ok(!existsSync(paths.pidFile));
    removeDnsConfig(paths.configDir, 'one');
    await ensureDnsServer(paths);
    assert.deepEqual(servers(), [], 'no network: nothing is started');
  });
});
