/**
 * The nftables firewall on the real kernel. The test builds its own networks with `ip`
 * (an oracle only: the engine never runs it): three stack bridges with "containers" (network
 * namespaces on veths), and an "outside" namespace on a plain veth of the host, each running
 * busybox httpd whose CGI answers with its own name and the client's address as it saw it.
 * Traffic only goes to loopback and to addresses the test created.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FirewallNetwork, PortMapping } from '../engine/network/firewall/firewall.js';
import { NftFirewall } from '../engine/network/firewall/nft-firewall.js';
import { NftError, Nftables } from '../engine/sys/nftables.js';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const ip = (...args: string[]) => sh('ip', args);
const ruleset = () => sh('nft', ['list', 'ruleset']);
const ourTable = () => spawnSync('nft', ['list', 'table', 'inet', 'stack'], { encoding: 'utf8' });
const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);

/** a free 10.x.0.0/16 for the test's subnets */
function pickPrefix(): string {
  const routes = ip('-4', 'route', 'show', 'table', 'all');
  for (;;) {
    const prefix = `10.${randomInt(200, 250)}`;
    if (!routes.includes(`${prefix}.`)) return prefix;
  }
}

const id = hex(6);
const net = pickPrefix();
const nets = {
  a: { name: `t${id}_a`, bridge: `stk-${hex(10)}`, subnet: `${net}.1.0/24`, internal: false },
  b: { name: `t${id}_b`, bridge: `stk-${hex(10)}`, subnet: `${net}.2.0/24`, internal: false },
  i: { name: `t${id}_i`, bridge: `stk-${hex(10)}`, subnet: `${net}.3.0/24`, internal: true },
} satisfies Record<string, FirewallNetwork>;
const gw = { a: `${net}.1.1`, b: `${net}.2.1`, i: `${net}.3.1`, out: `${net}.9.1` };
/** container namespaces: network, address */
const hosts = { a1: ['a', `${net}.1.2`], a2: ['a', `${net}.1.3`], b1: ['b', `${net}.2.2`], i1: ['i', `${net}.3.2`] } as const;
const outAddr = `${net}.9.2`;
const outVeth = `v${id}o`;
const ns = (name: string) => `stk-test-${id}-${name}`;

const servers: ChildProcess[] = [];
const www = mkdtempSync(path.join(tmpdir(), 'stack-fw-'));

function addNamespace(name: string, hostVeth: string, address: string, gateway: string): void {
  ip('netns', 'add', ns(name));
  ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(name));
  ip('-n', ns(name), 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  ip('-n', ns(name), 'link', 'set', 'lo', 'up');
  ip('-n', ns(name), 'link', 'set', 'eth0', 'up');
  ip('-n', ns(name), 'route', 'add', 'default', 'via', gateway);
  ip('link', 'set', hostVeth, 'up');
  const dir = path.join(www, name);
  mkdirSync(path.join(dir, 'cgi-bin'), { recursive: true });
  writeFileSync(path.join(dir, 'cgi-bin', 'who'), `#!/bin/busybox sh\necho "Content-Type: text/plain"\necho\necho "${name} $REMOTE_ADDR"\n`);
  chmodSync(path.join(dir, 'cgi-bin', 'who'), 0o755);
  servers.push(spawn('ip', ['netns', 'exec', ns(name), 'busybox', 'httpd', '-f', '-p', '0.0.0.0:80', '-h', dir], { stdio: 'ignore' }));
}

/** What `who` at `address:port` answers to a client in namespace `from` (null: the host), or null if nothing answers. */
function who(from: string | null, address: string, port = 80, seconds = 2): string | null {
  const get = ['timeout', String(seconds), 'busybox', 'wget', '-qO-', `http://${address}:${port}/cgi-bin/who`];
  const r = spawnSync(from ? 'ip' : get[0]!, from ? ['netns', 'exec', ns(from), ...get] : get.slice(1), { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function pings(from: string, address: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns(from), 'busybox', 'ping', '-c', '1', '-W', '1', address]).status === 0;
}

/** our table's rules without handles, as a sorted list: the same rules whatever their order */
function ourRules(): string[] {
  const listing = JSON.parse(sh('nft', ['-j', 'list', 'table', 'inet', 'stack'])) as { nftables: Array<{ rule?: { handle?: number } }> };
  return listing.nftables
    .filter((o) => o.rule)
    .map((o) => JSON.stringify({ ...o.rule, handle: undefined }))
    .sort();
}

const sysctl = (key: string) => readFileSync(`/proc/sys/net/ipv4/${key}`, 'utf8').trim();

const preexisting = ourTable().status === 0;

describe('nftables', () => {
  test('a missing object is ENOENT with nft\'s text, a malformed batch EINVAL; the context closes', () => {
    const nft = Nftables.open();
    try {
      assert.throws(
        () => nft.list(`table inet stack-absent-${id}`),
        (e: unknown) => e instanceof NftError && e.code === 'ENOENT' && /No such file or directory/.test(e.message) && e.command === `list table inet stack-absent-${id}`,
      );
      assert.throws(
        () => nft.run([{ add: { chain: { family: 'inet', table: `stack-absent-${id}`, name: 'x' } } }]),
        (e: unknown) => e instanceof NftError && e.code === 'ENOENT',
      );
      assert.throws(
        () => nft.run([{ add: { rule: { family: 'inet', table: 'x', chain: 'y', expr: [{ nonsense: null }] } } }]),
        (e: unknown) => e instanceof NftError && e.code === 'EINVAL',
      );
      // a listing after failures is not polluted by their output
      const tables = nft.list('tables') as { nftables: unknown[] };
      assert.ok(Array.isArray(tables.nftables));
    } finally {
      nft.close();
    }
    assert.throws(() => nft.list('tables'), /context closed/);
  });

  test('IPv4 forwarding is turned on by a non-internal network only (in a namespace of its own)', () => {
    const bridge = `stk-${hex(10)}`;
    const script = `
      import { execFileSync } from 'node:child_process';
      import { readFileSync, writeFileSync } from 'node:fs';
      import { NftFirewall } from ${JSON.stringify(path.resolve(import.meta.dirname, '../engine/network/firewall/nft-firewall.js'))};
      const read = (k) => readFileSync('/proc/sys/net/ipv4/' + k, 'utf8').trim();
      execFileSync('ip', ['link', 'add', '${bridge}', 'type', 'bridge']);
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '0');
      const fw = new NftFirewall();
      const seen = [];
      fw.setupNetwork({ name: 'n_internal', bridge: '${bridge}', subnet: '10.1.0.0/24', internal: true });
      seen.push(read('ip_forward'), read('conf/${bridge}/route_localnet'));
      fw.setupNetwork({ name: 'n_internal', bridge: '${bridge}', subnet: '10.1.0.0/24', internal: false });
      seen.push(read('ip_forward'), read('conf/${bridge}/route_localnet'));
      console.log(seen.join(' '));`;
    const out = sh('unshare', ['--net', process.execPath, '--input-type=module', '-e', script]);
    assert.equal(out.trim(), '0 0 1 1');
  });
});

describe('nftables firewall on the kernel', { skip: preexisting && 'a stack table exists on this host: not touching it' }, () => {
  const fw = new NftFirewall();
  let before_: string;
  const publish: PortMapping[] = [];
  const owner = `ctr-${id}`;

  before(() => {
    before_ = ruleset();
    for (const [key, n] of Object.entries(nets)) {
      ip('link', 'add', n.bridge, 'type', 'bridge');
      ip('addr', 'add', `${gw[key as keyof typeof gw]}/24`, 'dev', n.bridge);
      ip('link', 'set', n.bridge, 'up');
    }
    for (const [name, [network, address]] of Object.entries(hosts)) {
      const veth = `v${id}${name}`;
      addNamespace(name, veth, address, gw[network]);
      ip('link', 'set', veth, 'master', nets[network].bridge);
    }
    addNamespace('out', outVeth, outAddr, gw.out);
    ip('addr', 'add', `${gw.out}/24`, 'dev', outVeth);
    // the servers are up once each answers its own namespace
    for (const name of [...Object.keys(hosts), 'out']) {
      const address = name === 'out' ? outAddr : hosts[name as keyof typeof hosts][1];
      const deadline = Date.now() + 10_000;
      while (who(name, address, 80, 1) === null) {
        if (Date.now() > deadline) throw new Error(`httpd in ${name} does not answer`);
      }
    }
    const hostPort = () => randomInt(20_000, 60_000);
    publish.push(
      { hostIp: '127.0.0.1', hostPort: hostPort(), containerIp: hosts.a1[1], containerPort: 80, protocol: 'tcp' },
      { hostIp: '0.0.0.0', hostPort: hostPort(), containerIp: hosts.a1[1], containerPort: 80, protocol: 'tcp' },
    );
  });

  after(() => {
    if (ourTable().status === 0) fw.removeAll();
    for (const s of servers) s.kill();
    for (const name of [...Object.keys(hosts), 'out']) spawnSync('ip', ['netns', 'del', ns(name)]);
    for (const n of Object.values(nets)) spawnSync('ip', ['link', 'del', n.bridge]);
    spawnSync('ip', ['link', 'del', outVeth]);
    rmSync(www, { recursive: true, force: true });
  });

  test('without our rules, the host forwards between the bridges', () => {
    assert.equal(who('b1', hosts.a1[1]), `a1 ${hosts.b1[1]}`);
    assert.equal(who('i1', hosts.a1[1]), `a1 ${hosts.i1[1]}`);
    assert.ok(pings('i1', gw.a));
  });

  test('networks are set up idempotently, with outbound masquerade and route_localnet on their bridge only', () => {
    fw.setupNetwork(nets.a);
    const once = ourRules();
    fw.setupNetwork(nets.a);
    assert.deepEqual(ourRules(), once);
    fw.setupNetwork(nets.b);
    fw.setupNetwork(nets.i);
    const text = ourTable().stdout;
    assert.ok(text.includes(`ip saddr ${nets.a.subnet} oifname != "${nets.a.bridge}" masquerade comment "${nets.a.name}"`), text);
    assert.ok(!text.includes(`ip saddr ${nets.i.subnet} oifname`), 'an internal network is masqueraded');
    assert.equal(sysctl(`conf/${nets.a.bridge}/route_localnet`), '1');
    assert.equal(sysctl(`conf/${nets.i.bridge}/route_localnet`), '0');
    assert.equal(sysctl('conf/lo/route_localnet'), '0');
  });

  test('containers of one network reach each other; traffic out is masqueraded', () => {
    assert.equal(who('a2', hosts.a1[1]), `a1 ${hosts.a2[1]}`);
    assert.equal(who('a1', outAddr), `out ${gw.out}`);
  });

  test('two networks do not reach each other, in either direction', () => {
    assert.equal(who('b1', hosts.a1[1], 80, 1), null);
    assert.equal(who('a1', hosts.b1[1], 80, 1), null);
    // the host itself stays reachable from a non-internal network
    assert.ok(pings('b1', gw.a));
  });

  test('an internal network has no way out: not to other networks, their gateways, or outside', () => {
    assert.equal(who('i1', hosts.a1[1], 80, 1), null);
    assert.equal(who('a1', hosts.i1[1], 80, 1), null);
    assert.equal(who('i1', outAddr, 80, 1), null);
    assert.ok(!pings('i1', gw.a));
    assert.ok(pings('i1', gw.i), 'its own gateway answers');
  });

  test('published ports answer on their host address, from the host, outside, other networks and their own', () => {
    fw.setupPorts(owner, nets.a, publish);
    const [local, any] = publish as [PortMapping, PortMapping];
    // from the host over loopback: route_localnet, then masqueraded to the gateway
    assert.equal(who(null, '127.0.0.1', local.hostPort), `a1 ${gw.a}`);
    assert.equal(who(null, '127.0.0.1', any.hostPort), `a1 ${gw.a}`);
    // from outside to the host's address: prerouting DNAT, the client's address kept
    assert.equal(who('out', gw.out, any.hostPort), `a1 ${outAddr}`);
    assert.equal(who('out', gw.out, local.hostPort, 1), null, 'a port on 127.0.0.1 answers on another address');
    // from another network through its gateway: allowed despite isolation (masqueraded on the way out of b)
    assert.equal(who('b1', gw.b, any.hostPort), `a1 ${gw.a}`);
    // from the container's own network: the hairpin is masqueraded so the answer comes back through the host
    assert.equal(who('a2', gw.a, any.hostPort), `a1 ${gw.a}`);
    assert.equal(who('i1', gw.i, any.hostPort, 1), null, 'an internal network escapes through a published port');

    const mine = fw.publishedPorts().filter((p) => p.owner === owner);
    assert.deepEqual(
      mine,
      publish.map((p) => ({ owner, ...p })),
    );
    assert.throws(
      () => fw.setupPorts(`other-${id}`, nets.b, [{ ...local, hostIp: '0.0.0.0', containerIp: hosts.b1[1] }]),
      (e: unknown) => e instanceof Error && 'kind' in e && e.kind === 'conflict',
    );
  });

  test('teardownPorts removes the owner\'s ports, found by their comments', () => {
    fw.teardownPorts(owner);
    assert.deepEqual(
      fw.publishedPorts().filter((p) => p.owner === owner),
      [],
    );
    assert.equal(who(null, '127.0.0.1', publish[1]!.hostPort, 1), null);
    assert.equal(who('out', gw.out, publish[1]!.hostPort, 1), null);
  });

  test('tearing one network down leaves the others\' rules', () => {
    const others = ourRules().filter((r) => !r.includes(`"comment":"${nets.b.name}"`));
    fw.teardownNetwork(nets.b);
    assert.deepEqual(ourRules(), others);
    const text = ourTable().stdout;
    assert.ok(!text.includes(nets.b.bridge), text);
    assert.equal(who('a1', outAddr), `out ${gw.out}`);
    assert.equal(who('i1', hosts.a1[1], 80, 1), null);
  });

  test('after the last network, the ruleset is exactly as before', () => {
    fw.teardownNetwork(nets.a);
    assert.equal(ourTable().status, 0, 'the table went with a network still set up');
    fw.teardownNetwork(nets.i);
    assert.equal(ruleset(), before_);
    assert.deepEqual(fw.publishedPorts(), []);
    // and without our rules, the host forwards between the bridges again
    assert.equal(who('i1', hosts.a1[1]), `a1 ${hosts.i1[1]}`);
  });
});
