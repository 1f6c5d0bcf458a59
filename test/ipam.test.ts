import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allocateAddress,
  allocateSubnet,
  contains,
  formatCidr,
  formatIpv4,
  overlaps,
  parseCidr,
  parseIpv4,
  planSubnet,
} from '../engine/network/ipam.js';
import { networkSpec, specHash } from '../engine/network/network-spec.js';
import { StackError } from '../engine/errors.js';
import type { Network, Project } from '../engine/model/types.js';

const cidr = (s: string) => parseCidr(s)!;
const ip = (s: string) => parseIpv4(s)!;

describe('addresses and subnets', () => {
  test('parse and format round trip, host bits dropped', () => {
    assert.equal(formatIpv4(ip('172.17.0.1')), '172.17.0.1');
    assert.equal(formatIpv4(ip('255.255.255.255')), '255.255.255.255');
    assert.equal(formatCidr(cidr('10.1.2.3/24')), '10.1.2.0/24');
    assert.equal(formatCidr(cidr('0.0.0.0/0')), '0.0.0.0/0');
    for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d', '1.2.3.4/33', '1.2.3.4']) assert.equal(parseCidr(bad), undefined, bad);
  });

  test('contains and overlaps', () => {
    assert.ok(contains(cidr('172.18.0.0/16'), ip('172.18.255.254')));
    assert.ok(!contains(cidr('172.18.0.0/16'), ip('172.19.0.1')));
    assert.ok(overlaps(cidr('10.0.0.0/8'), cidr('10.3.4.0/24')));
    assert.ok(overlaps(cidr('10.3.4.0/24'), cidr('10.0.0.0/8')));
    assert.ok(!overlaps(cidr('192.168.0.0/20'), cidr('192.168.16.0/20')));
  });
});

describe('subnet allocation', () => {
  test("docker's pools in order, skipping taken and routed subnets", () => {
    assert.equal(formatCidr(allocateSubnet([])), '172.17.0.0/16');
    assert.equal(formatCidr(allocateSubnet([cidr('172.17.0.0/16')])), '172.18.0.0/16');
    // a host route inside a pool subnet makes that whole subnet unusable
    assert.equal(formatCidr(allocateSubnet([cidr('172.17.0.0/16'), cidr('172.18.5.0/24')])), '172.19.0.0/16');
    // a wide route covers several pool subnets
    assert.equal(formatCidr(allocateSubnet([cidr('172.16.0.0/12')])), '192.168.0.0/20');
    assert.equal(formatCidr(allocateSubnet([cidr('172.16.0.0/12'), cidr('192.168.0.0/20')])), '192.168.16.0/20');
  });

  test('exhausted pools are a conflict with a hint', () => {
    assert.throws(() => allocateSubnet([cidr('0.0.0.0/0')]), (e: unknown) => e instanceof StackError && e.kind === 'conflict' && /no free subnet/.test(e.message));
  });
});

describe('address allocation', () => {
  const plan = planSubnet(cidr('10.9.0.0/29'), {}, 'network t');

  test('gateway defaults to the first host address; network, gateway and broadcast never handed out', () => {
    assert.equal(formatIpv4(plan.gateway), '10.9.0.1');
    const got: string[] = [];
    const taken = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const a = allocateAddress(plan, taken);
      taken.add(a);
      got.push(formatIpv4(a));
    }
    assert.deepEqual(got, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    assert.throws(() => allocateAddress(plan, taken), /no free address left in 10.9.0.0\/29/);
  });

  test('continues after the last address handed out, wrapping around', () => {
    assert.equal(formatIpv4(allocateAddress(plan, new Set([ip('10.9.0.2')]), ip('10.9.0.3'))), '10.9.0.4');
    assert.equal(formatIpv4(allocateAddress(plan, new Set(), ip('10.9.0.6'))), '10.9.0.2');
  });

  test('ip_range, explicit gateway and aux_addresses (only the subnet network address is excluded, as in docker)', () => {
    const p = planSubnet(cidr('172.28.0.0/16'), { gateway: '172.28.5.254', ip_range: '172.28.5.0/30', aux_addresses: { host1: '172.28.5.1' } }, 'network t');
    const taken = new Set<number>();
    const a = allocateAddress(p, taken);
    taken.add(a);
    const b = allocateAddress(p, taken);
    taken.add(b);
    const c = allocateAddress(p, taken);
    taken.add(c);
    assert.deepEqual([a, b, c].map(formatIpv4), ['172.28.5.0', '172.28.5.2', '172.28.5.3']);
    assert.throws(() => allocateAddress(p, taken), /no free address/);
  });

  test('bad ipam config is refused with the network named', () => {
    assert.throws(() => planSubnet(cidr('10.0.0.0/24'), { gateway: '10.0.1.1' }, 'network x'), /network x: gateway 10.0.1.1 is outside the subnet 10.0.0.0\/24/);
    assert.throws(() => planSubnet(cidr('10.0.0.0/24'), { ip_range: '10.0.0.0/16' }, 'network x'), /ip_range 10.0.0.0\/16 is not inside/);
    assert.throws(() => planSubnet(cidr('10.0.0.0/24'), { aux_addresses: { a: 'nope' } }, 'network x'), /aux_addresses.a "nope" is not an IPv4 address/);
    assert.throws(() => planSubnet(cidr('10.0.0.0/31'), {}, 'network x'), /too small/);
  });
});

describe('network specs from the model', () => {
  const project = (networks: Record<string, Network>): Project => ({ name: 'app', networks } as unknown as Project);

  test('default name, labels, ipam and driver options', () => {
    const spec = networkSpec(
      project({
        back: {
          name: 'app_back',
          internal: true,
          ipam: { config: [{ subnet: 'fd00::/64' }, { subnet: '172.30.0.0/24', gateway: '172.30.0.254' }] },
          driver_opts: { 'com.docker.network.driver.mtu': '1400', 'com.docker.network.bridge.name': 'br-back', 'com.docker.network.bridge.enable_icc': 'true' },
        },
        v6: { name: 'app_v6', enable_ipv6: true },
      }),
      'back',
    );
    assert.equal(spec.name, 'app_back');
    assert.equal(spec.internal, true);
    assert.equal(spec.subnet, '172.30.0.0/24');
    assert.equal(spec.gateway, '172.30.0.254');
    assert.equal(spec.mtu, 1400);
    assert.equal(spec.bridgeName, 'br-back');
    assert.deepEqual(spec.warnings, ['network back: driver option com.docker.network.bridge.enable_icc is not supported and ignored']);
    assert.deepEqual(spec.labels, { 'com.docker.compose.project': 'app', 'com.docker.compose.network': 'back' });
    assert.match(networkSpec(project({ v6: { name: 'app_v6', enable_ipv6: true } }), 'v6').warnings[0]!, /enable_ipv6 is not supported yet/);
  });

  test('the hash changes with what makes the network, not with labels', () => {
    const a = networkSpec(project({ n: { name: 'app_n' } }), 'n');
    const b = networkSpec(project({ n: { name: 'app_n', internal: true } }), 'n');
    const c = networkSpec(project({ n: { name: 'app_n', labels: { x: 'y' } } }), 'n');
    assert.notEqual(specHash(a), specHash(b));
    assert.equal(specHash(a), specHash(c));
  });

  test('unsupported drivers and bad options are user errors', () => {
    assert.throws(() => networkSpec(project({ n: { name: 'app_n', driver: 'overlay' } }), 'n'), (e: unknown) => e instanceof StackError && e.kind === 'unsupported' && e.path === 'networks.n.driver');
    assert.throws(() => networkSpec(project({ n: { name: 'app_n', driver_opts: { 'com.docker.network.driver.mtu': 'big' } } }), 'n'), /mtu must be a number/);
    assert.throws(() => networkSpec(project({ n: { name: 'app_n', driver_opts: { 'com.docker.network.bridge.name': 'much-too-long-bridge' } } }), 'n'), /not a valid interface name/);
    assert.throws(() => networkSpec(project({ n: { name: 'bad name' } }), 'n'), /network name "bad name" is not valid/);
  });
});
