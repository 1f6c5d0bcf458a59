/**
 * The rtnetlink client against the real kernel. Packets only ever go between namespaces
 * the tests create, through a bridge they create; iproute2, nsenter and busybox serve as
 * the independent oracle.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMountinfo, readMountinfo } from '../engine/sys/mounts.js';
import { NetlinkError, Rtnetlink } from '../engine/sys/netlink/rtnetlink.js';
import { closeFd, createNetns, openNetns, removeNetns } from '../engine/sys/netns.js';

const tag = `tnl${randomBytes(2).toString('hex')}`;
const name = (suffix: string) => `${tag}${suffix}`;
const base = mkdtempSync(path.join(tmpdir(), 'stack-netlink-'));
const nsDir = path.join(base, 'netns');
// a /24 out of the way of the host's networks and, most likely, of other tests' bridges;
// its route exists only on the test's bridge
const net = `10.${250 + randomInt(5)}.${randomInt(256)}`;

const ipLinks = () => execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').filter(Boolean);
const linksBefore = ipLinks();
const ipJson = (args: string[], netns?: string): unknown =>
  JSON.parse(netns ? execFileSync('nsenter', [`--net=${netns}`, 'ip', '-j', ...args], { encoding: 'utf8' }) : execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }));
const nsenter = (netns: string, ...cmd: string[]) => execFileSync('nsenter', [`--net=${netns}`, ...cmd], { encoding: 'utf8', timeout: 20_000 });
const isNetlinkError = (code: string, text?: RegExp) => (e: unknown) => e instanceof NetlinkError && e.code === code && (!text || text.test(e.message));

let host: Rtnetlink;
before(() => {
  host = Rtnetlink.open();
});
after(() => {
  cleanup();
  host.close();
  rmSync(base, { recursive: true, force: true });
});

/** Everything any test may have made, whatever state it stopped in. */
function cleanup(): void {
  // deleting a veth end takes its peer along, so each is looked up again first
  for (const l of host.links()) if (l.name.startsWith(tag) && host.link(l.name)) host.deleteLink(l.name);
  for (const f of existsSync(nsDir) ? readdirSync(nsDir) : []) removeNetns(path.join(nsDir, f));
}

describe('rtnetlink', () => {
  test('a bridge: created, found, brought up, its MTU changed, deleted', () => {
    const br = name('br');
    host.createBridge(br, { mtu: 1400, mac: '02:00:5e:10:20:30' });
    const made = host.link(br);
    assert.ok(made);
    assert.deepEqual({ ...made, index: 0 }, { index: 0, name: br, kind: 'bridge', mtu: 1400, up: false, mac: '02:00:5e:10:20:30' });
    assert.deepEqual(
      host.links().filter((l) => l.name === br),
      [made],
    );
    const [shown] = ipJson(['-d', 'link', 'show', 'dev', br]) as { ifindex: number; mtu: number; address: string; linkinfo: { info_kind: string } }[];
    assert.deepEqual([shown?.ifindex, shown?.mtu, shown?.address, shown?.linkinfo.info_kind], [made.index, 1400, '02:00:5e:10:20:30', 'bridge']);

    host.setUp(br);
    host.setMtu(br, 1280);
    assert.deepEqual([host.link(br)?.up, host.link(br)?.mtu], [true, 1280]);
    assert.match(ipLinks().find((l) => l.includes(` ${br}: `)) ?? '', /<[^>]*\bUP\b[^>]*> mtu 1280 /);
    host.setUp(br, false);
    assert.equal(host.link(br)?.up, false);

    host.deleteLink(br);
    assert.equal(host.link(br), undefined);
    assert.ok(!ipLinks().some((l) => l.includes(` ${br}: `)));
  });

  test('errors: a taken name is EEXIST, a missing link ENODEV naming it, a bad name is refused before sending', () => {
    const br = name('err');
    host.createBridge(br);
    try {
      assert.throws(() => host.createBridge(br), isNetlinkError('EEXIST', /createBridge\("tnl[0-9a-f]{4}err"/));
      assert.throws(() => host.setUp(name('none')), isNetlinkError('ENODEV', new RegExp(`no link named "${name('none')}"`)));
      assert.throws(() => host.deleteLink(name('none')), isNetlinkError('ENODEV', /deleteLink.*no link named/));
      assert.throws(() => host.setMaster(br, name('none')), isNetlinkError('ENODEV', new RegExp(`setMaster.*no link named "${name('none')}"`)));
      assert.throws(() => host.addAddress(name('none'), `${net}.1/24`), isNetlinkError('ENODEV', /addAddress.*no link named/));
      assert.equal(host.link(name('none')), undefined);

      const long = `${tag}-sixteen-bytes`.slice(0, 16);
      assert.throws(() => host.createBridge(long), isNetlinkError('EINVAL', /is 16 bytes long, more than 15/));
      assert.throws(() => host.createVeth(name('v'), long), isNetlinkError('EINVAL', /more than 15/));
      assert.throws(() => host.rename(br, long), isNetlinkError('EINVAL', /more than 15/));
      assert.throws(() => host.createBridge(`${tag}/x`), isNetlinkError('EINVAL', /not an interface name/));
      assert.ok(!ipLinks().some((l) => l.includes(long.slice(0, 15)) || l.includes(name('v'))));

      assert.throws(() => host.addAddress(br, `${net}.1`), isNetlinkError('EINVAL', /prefix length/));
      assert.throws(() => host.setMac(br, '02:00:00:00:00'), isNetlinkError('EINVAL', /not a MAC address/));
      host.addAddress(br, `${net}.1/24`);
      assert.throws(() => host.addAddress(br, `${net}.1/24`), isNetlinkError('EEXIST'));
      // the kernel's own words come along when it has some
      assert.throws(() => host.setMtu(br, 10), (e: unknown) => e instanceof NetlinkError && e.code === 'EINVAL' && /mtu/i.test(e.kernelMessage ?? ''));
    } finally {
      host.deleteLink(br);
    }
  });

  test('two namespaces joined by a bridge: veths, renames, addresses and routes, then ping and TCP between them', async () => {
    const br = name('br');
    const nsA = path.join(nsDir, 'a');
    const nsB = path.join(nsDir, 'b');
    createNetns(nsA);
    createNetns(nsB);
    host.createBridge(br);
    host.addAddress(br, `${net}.1/24`);
    host.setUp(br);

    // A: the peer is made directly inside the namespace
    const fdA = openNetns(nsA);
    try {
      host.createVeth(name('a'), name('ap'), { peerNetnsFd: fdA, mtu: 1400 });
    } finally {
      closeFd(fdA);
    }
    assert.equal(host.link(name('ap')), undefined);
    // B: the pair is made in the host, then its peer moved
    host.createVeth(name('b'), name('bp'));
    assert.equal(host.link(name('bp'))?.kind, 'veth');
    const fdB = openNetns(nsB);
    try {
      host.moveToNetns(name('bp'), fdB);
    } finally {
      closeFd(fdB);
    }
    assert.equal(host.link(name('bp')), undefined);

    for (const end of [name('a'), name('b')]) {
      host.setMaster(end, br);
      host.setUp(end);
    }
    const bridge = host.link(br)!;
    assert.equal(host.link(name('a'))?.master, bridge.index);
    assert.equal(host.link(name('a'))?.mtu, 1400);
    assert.equal(host.link(name('b'))?.master, bridge.index);
    assert.deepEqual(
      host.addresses(br).filter((a) => a.family === 4),
      [{ index: bridge.index, family: 4, address: `${net}.1`, prefixLen: 24 }],
    );

    const inside: Record<string, { ns: string; peer: string; ip: string }> = {
      a: { ns: nsA, peer: name('ap'), ip: `${net}.2` },
      b: { ns: nsB, peer: name('bp'), ip: `${net}.3` },
    };
    for (const [side, { ns, peer, ip }] of Object.entries(inside)) {
      const rt = Rtnetlink.openIn(ns);
      try {
        assert.equal(rt.link(peer)?.kind, 'veth', side);
        rt.rename(peer, 'eth0');
        rt.addAddress('eth0', `${ip}/24`);
        rt.addAddress('eth0', `fd42:${net.split('.').slice(1).join(':')}::${side === 'a' ? 2 : 3}/64`);
        rt.setUp('eth0');
        rt.setUp('lo');
        rt.addRoute({ gateway: `${net}.1` });
        assert.throws(() => rt.addRoute({ gateway: `${net}.1` }), isNetlinkError('EEXIST'));
        // the socket lives in the namespace: its eth0 is the veth end, not the host's eth0
        const links = rt.links();
        assert.deepEqual(links.map((l) => l.name).sort(), ['eth0', 'lo'], side);
        const eth0 = links.find((l) => l.name === 'eth0')!;
        assert.deepEqual([eth0.kind, eth0.up, eth0.mtu], ['veth', true, side === 'a' ? 1400 : 1500], side);
        assert.deepEqual(
          rt.addresses('eth0').filter((a) => a.family === 4),
          [{ index: eth0.index, family: 4, address: ip, prefixLen: 24 }],
        );
        assert.ok(rt.addresses('eth0').some((a) => a.family === 6 && a.address.startsWith('fd42:') && a.prefixLen === 64));
        assert.deepEqual(rt.routes(4), [
          { family: 4, dstLen: 0, gateway: `${net}.1`, oif: eth0.index, table: 254 },
          { family: 4, dst: `${net}.0`, dstLen: 24, oif: eth0.index, table: 254 },
        ]);
        assert.ok(rt.routes(6).every((r) => r.family === 6));
        assert.ok(rt.routes().some((r) => r.family === 6 && r.dstLen === 64 && r.dst?.startsWith('fd42:')));
      } finally {
        rt.close();
      }
      // as iproute2 sees it
      const [addr] = ipJson(['addr', 'show', 'dev', 'eth0'], ns) as { addr_info: { family: string; local: string; prefixlen: number; broadcast?: string }[] }[];
      assert.deepEqual(
        addr?.addr_info.filter((a) => a.family === 'inet').map((a) => [a.local, a.prefixlen, a.broadcast]),
        [[ip, 24, `${net}.255`]],
      );
      assert.deepEqual(
        (ipJson(['route', 'show', 'default'], ns) as { gateway: string; dev: string }[]).map((r) => [r.gateway, r.dev]),
        [[`${net}.1`, 'eth0']],
      );
    }

    nsenter(nsA, 'busybox', 'ping', '-c', '1', '-W', '5', inside.b!.ip);
    nsenter(nsB, 'busybox', 'ping', '-c', '1', '-W', '5', inside.a!.ip);
    assert.equal(await tcpMessage(nsB, nsA, inside.b!.ip, 'through the bridge'), 'through the bridge');
  });

  test('a dump of many links spans several datagrams and is read whole', () => {
    const ns = path.join(nsDir, 'many');
    createNetns(ns);
    const rt = Rtnetlink.openIn(ns);
    try {
      for (let i = 0; i < 80; i++) rt.createVeth(`v${i}`, `p${i}`);
      const links = rt.links();
      assert.equal(links.length, 161);
      assert.deepEqual(new Set(links.map((l) => l.name)), new Set(['lo', ...Array.from({ length: 80 }, (_, i) => [`v${i}`, `p${i}`]).flat()]));
      assert.equal(Number(nsenter(ns, 'sh', '-c', 'ip -o link | wc -l').trim()), 161);
      // deleting one end of a veth pair deletes the other
      rt.deleteLink('v0');
      assert.equal(rt.link('p0'), undefined);
      assert.equal(rt.links().length, 159);
    } finally {
      rt.close();
      removeNetns(ns);
    }
  });

  test('cleanup leaves the host as it was', () => {
    cleanup();
    // other test files may add and remove links of their own meanwhile: every link that was
    // there is still there unchanged, and none of ours is left
    const now = ipLinks();
    for (const l of linksBefore) assert.ok(now.includes(l), `link changed or gone: ${l}`);
    assert.deepEqual(
      now.filter((l) => l.includes(tag)),
      [],
    );
    assert.deepEqual(readdirSync(nsDir), []);
    assert.deepEqual(
      parseMountinfo(readMountinfo()).filter((m) => m.mountPoint.startsWith(base)),
      [],
    );
  });
});

/**
 * Sends `text` over TCP from namespace `clientNs` to a busybox listener in `serverNs`, and
 * returns what the listener received. The client retries until the listener is up.
 */
async function tcpMessage(serverNs: string, clientNs: string, serverIp: string, text: string): Promise<string> {
  const port = String(20000 + randomInt(20000));
  const server = spawn('nsenter', [`--net=${serverNs}`, 'busybox', 'nc', '-l', '-p', port], { stdio: ['ignore', 'pipe', 'pipe'] });
  let received = '';
  server.stdout.on('data', (d: Buffer) => (received += d.toString()));
  const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        nsenter(clientNs, 'sh', '-c', `printf '%s' "$1" | busybox nc -w 3 ${serverIp} ${port}`, 'sh', text);
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(await exited, 0);
    return received;
  } finally {
    if (server.exitCode === null) server.kill();
  }
}
