/**
 * Published ports chosen and checked before anything is made: fixed ports, host ranges,
 * ephemeral ports, udp, host addresses; a port another container publishes or a socket on
 * the host holds is a conflict naming the port. Only loopback sockets are bound.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import type { Port } from '../engine/model/types.js';
import { parsePortSpec } from '../engine/model/short-syntax.js';
import type { PublishedPort } from '../engine/network/firewall/firewall.js';
import { resolvePorts, toMappings } from '../engine/network/published-ports.js';
import { freePort } from './support/net-probe.js';

const ports = (...specs: string[]): Port[] =>
  specs.flatMap((s) => {
    const p = parsePortSpec(s);
    if (typeof p === 'string') throw new Error(p);
    return p;
  });

describe('published ports', () => {
  let held: net.Server;
  let heldPort: number;
  let heldUdp: dgram.Socket;
  let heldUdpPort: number;

  before(async () => {
    held = net.createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    heldPort = (held.address() as net.AddressInfo).port;
    heldUdp = dgram.createSocket('udp4');
    await new Promise<void>((r) => heldUdp.bind(0, '127.0.0.1', r));
    heldUdpPort = heldUdp.address().port;
  });
  after(() => {
    held.close();
    heldUdp.close();
  });

  test('a fixed port, a host range for one target, a range onto a range, udp, an ephemeral port', async () => {
    const a = await freePort();
    const b = await freePort();
    const got = await resolvePorts('web', ports(`127.0.0.1:${a}:80`, `127.0.0.1:${b}:53/udp`, '127.0.0.1::9000'), []);
    assert.deepEqual(got.slice(0, 2), [
      { hostIp: '127.0.0.1', hostPort: a, containerPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: b, containerPort: 53, protocol: 'udp' },
    ]);
    assert.equal(got[2]!.containerPort, 9000);
    assert.ok(got[2]!.hostPort > 0, 'an ephemeral port was chosen');

    // a host range for a single target takes the first free port of the range
    const range = await resolvePorts('web', ports(`127.0.0.1:${heldPort}-${heldPort + 1}:80`), []);
    assert.equal(range[0]!.hostPort, heldPort + 1, 'the held port was not skipped');
    // ranges on both sides pair up
    const pairs = ports(`127.0.0.1:${a}-${a + 1}:8000-8001`);
    assert.deepEqual(pairs.map((p) => [p.published, p.target]), [[String(a), 8000], [String(a + 1), 8001]]);
    assert.deepEqual(toMappings(got.slice(0, 1), '172.18.0.2'), [{ hostIp: '127.0.0.1', hostPort: a, containerIp: '172.18.0.2', containerPort: 80, protocol: 'tcp' }]);
  });

  test('a port a socket on the host holds is a conflict, for tcp and udp alike', async () => {
    await assert.rejects(resolvePorts('web', ports(`127.0.0.1:${heldPort}:80`), []), (e: unknown) =>
      e instanceof StackError && e.kind === 'conflict' && e.message.includes(`127.0.0.1:${heldPort}/tcp is already in use on the host`) && e.path === 'services.web.ports[0]',
    );
    await assert.rejects(resolvePorts('dns', ports(`127.0.0.1:${heldUdpPort}:53/udp`), []), /already in use on the host/);
  });

  test("another container's published port, on the same or any address, is a conflict; another protocol is not", async () => {
    const p = await freePort();
    const taken: PublishedPort[] = [{ owner: 'app-db-1', hostIp: '0.0.0.0', hostPort: p, containerIp: '172.18.0.5', containerPort: 5432, protocol: 'tcp' }];
    await assert.rejects(resolvePorts('web', ports(`127.0.0.1:${p}:80`), taken), /already published by container app-db-1/);
    const udp = await resolvePorts('web', ports(`127.0.0.1:${p}:80/udp`), taken);
    assert.equal(udp[0]!.hostPort, p);
    // two ports of one service on the same host port
    const q = await freePort();
    await assert.rejects(resolvePorts('web', ports(`127.0.0.1:${q}:80`, `127.0.0.1:${q}:81`), []), /already published by service "web"/);
  });

  test('unsupported host addresses and protocols are user errors', async () => {
    await assert.rejects(resolvePorts('web', ports('[::1]:8080:80'), []), (e: unknown) => e instanceof StackError && e.kind === 'unsupported' && /IPv4/.test(e.hint ?? ''));
    await assert.rejects(resolvePorts('web', ports('8080:80/sctp'), []), /sctp ports are not supported/);
    await assert.rejects(resolvePorts('web', ports('192.0.2.77:8080:80'), []), /192.0.2.77 is not an address of this host/);
  });
});
