import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import type { FirewallNetwork, PortMapping } from '../engine/network/firewall/firewall.js';
import { readPublished, readTable, type TableState } from '../engine/network/firewall/listing.js';
import { setupNetworkBatch, setupPortsBatch, teardownNetworkBatch, teardownPortsBatch } from '../engine/network/firewall/rules.js';
import type { NftCommand, NftJson } from '../engine/sys/nftables.js';

const A: FirewallNetwork = { name: 'shop_default', bridge: 'stk-1a2b3c4d5e', subnet: '10.89.3.0/24', internal: false };
const B: FirewallNetwork = { name: 'shop_back', bridge: 'stk-99aa99aa99', subnet: '10.89.4.0/24', internal: false };
const I: FirewallNetwork = { name: 'shop_private', bridge: 'stk-0000000001', subnet: '10.89.5.0/24', internal: true };

type Obj = { [k: string]: NftJson };
const verbOf = (c: NftCommand) => Object.keys(c)[0]!;
const objectOf = (c: NftCommand) => Object.values(c)[0] as { [kind: string]: Obj };
const added = (batch: NftCommand[], kind: string) => batch.filter((c) => verbOf(c) === 'add' && kind in objectOf(c)).map((c) => objectOf(c)[kind]!);
const rulesIn = (batch: NftCommand[], chain: string) => added(batch, 'rule').filter((r) => r.chain === chain);

/** a table as nft lists it, from plain rule lines */
function listing(rules: Array<{ chain: string; handle: number; comment?: string; expr?: NftJson[] }>, chains: string[], bridges: NftJson[] = []): unknown {
  return {
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'inet', name: 'stack', handle: 1 } },
      { set: { family: 'inet', name: 'bridges', table: 'stack', type: 'ifname', handle: 2, elem: bridges } },
      ...chains.map((name, i) => ({ chain: { family: 'inet', table: 'stack', name, handle: 10 + i } })),
      ...rules.map((r) => ({ rule: { family: 'inet', table: 'stack', expr: [], ...r } })),
    ],
  };
}

const port = (hostIp: string, hostPort: number, protocol: 'tcp' | 'udp' = 'tcp'): PortMapping => ({ hostIp, hostPort, containerIp: '10.89.3.2', containerPort: 80, protocol });

describe('network batches', () => {
  test('a new network: the table, its chain, the jumps to it and its NAT, every rule tagged with its name', () => {
    const batch = setupNetworkBatch({ ...A, subnet: '10.89.3.77/24' }, undefined);
    assert.deepEqual(batch[0], { add: { table: { family: 'inet', name: 'stack' } } });
    assert.deepEqual(
      added(batch, 'chain').map((c) => [c.name, c.hook ?? null]),
      [
        ['forward', 'forward'],
        ['postrouting', 'postrouting'],
        ['net-stk-1a2b3c4d5e', null],
      ],
    );
    assert.deepEqual(added(batch, 'element'), [{ family: 'inet', table: 'stack', name: 'bridges', elem: [{ elem: { val: A.bridge, comment: A.name } }] }]);
    const rules = added(batch, 'rule');
    assert.ok(rules.length > 0 && rules.every((r) => r.comment === A.name));
    assert.equal(verbOf(batch.find((c) => 'delete' in c || 'flush' in c) ?? { add: {} }), 'add', 'a first setup deletes nothing');
    // host bits of the subnet are dropped; traffic leaving by any other interface is masqueraded
    assert.deepEqual(rulesIn(batch, 'postrouting')[0]!.expr, [
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '10.89.3.0', len: 24 } } } },
      { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: A.bridge } },
      { masquerade: null },
    ]);
    assert.deepEqual(
      rulesIn(batch, 'forward').map((r) => r.expr),
      ['iifname', 'oifname'].map((key) => [{ match: { op: '==', left: { meta: { key } }, right: A.bridge } }, { jump: { target: 'net-stk-1a2b3c4d5e' } }]),
    );
    // only drops and returns: no verdict of ours can let through what another network drops
    const verdicts = rulesIn(batch, 'net-stk-1a2b3c4d5e').map((r) => Object.keys((r.expr as Obj[]).at(-1)!)[0]);
    assert.deepEqual(verdicts, ['return', 'return', 'return', 'drop']);
    assert.equal(rulesIn(batch, 'input').length, 0);
  });

  test('an internal network drops what crosses its bridge and what it sends to the host outside its subnet, and masquerades nothing', () => {
    const batch = setupNetworkBatch(I, undefined);
    assert.deepEqual(
      added(batch, 'chain').map((c) => c.name),
      ['forward', 'input', 'net-stk-0000000001'],
    );
    assert.equal(rulesIn(batch, 'postrouting').length, 0);
    const own = rulesIn(batch, 'net-stk-0000000001').map((r) => r.expr);
    assert.deepEqual(own.slice(1), [
      [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: I.bridge } }, { drop: null }],
      [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: I.bridge } }, { drop: null }],
    ]);
    assert.deepEqual(rulesIn(batch, 'input')[0]!.expr, [
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: I.bridge } },
      { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '10.89.5.0', len: 24 } } } },
      { drop: null },
    ]);
  });

  const existing = (): TableState =>
    readTable(
      listing(
        [
          { chain: 'forward', handle: 20, comment: A.name },
          { chain: 'forward', handle: 21, comment: B.name },
          { chain: 'postrouting', handle: 22, comment: A.name },
          { chain: 'net-stk-1a2b3c4d5e', handle: 23, comment: A.name },
          { chain: 'net-stk-99aa99aa99', handle: 24, comment: B.name },
          // a container may carry a network's name: its port rules are not the network's
          { chain: 'published', handle: 25, comment: A.name },
        ],
        ['forward', 'postrouting', 'published', 'net-stk-1a2b3c4d5e', 'net-stk-99aa99aa99'],
        [{ elem: { val: A.bridge, comment: A.name } }, B.bridge],
      ),
    );

  test('setting a network up again replaces its own rules in the same batch', () => {
    const batch = setupNetworkBatch(A, existing());
    const removals = batch.filter((c) => verbOf(c) !== 'add');
    assert.deepEqual(removals, [
      { delete: { rule: { family: 'inet', table: 'stack', chain: 'forward', handle: 20 } } },
      { delete: { rule: { family: 'inet', table: 'stack', chain: 'postrouting', handle: 22 } } },
      { flush: { chain: { family: 'inet', table: 'stack', name: 'net-stk-1a2b3c4d5e' } } },
      { delete: { element: { family: 'inet', table: 'stack', name: 'bridges', elem: [A.bridge] } } },
    ]);
    // the removals come before the new rules
    const firstAdd = batch.findIndex((c) => verbOf(c) === 'add' && 'rule' in objectOf(c));
    assert.ok(batch.indexOf(removals.at(-1)!) < firstAdd);
  });

  test('teardown removes exactly the network; the last one takes the table', () => {
    assert.deepEqual(teardownNetworkBatch(B, existing()), [
      { delete: { rule: { family: 'inet', table: 'stack', chain: 'forward', handle: 21 } } },
      { delete: { chain: { family: 'inet', table: 'stack', name: 'net-stk-99aa99aa99' } } },
      { delete: { element: { family: 'inet', table: 'stack', name: 'bridges', elem: [B.bridge] } } },
    ]);
    const onlyA = readTable(listing([{ chain: 'forward', handle: 20, comment: A.name }], ['forward', 'published', 'net-stk-1a2b3c4d5e']));
    assert.deepEqual(teardownNetworkBatch(A, onlyA), [{ delete: { table: { family: 'inet', name: 'stack' } } }]);
    // a network that was never set up leaves the others alone
    assert.deepEqual(teardownNetworkBatch(I, existing()), []);
  });

  test('names that cannot become interface paths, chains or comments are refused', () => {
    for (const bridge of ['../../all', 'stk-0123456789ab', '', 'a b']) {
      assert.throws(() => setupNetworkBatch({ ...A, bridge }, undefined), StackError, bridge);
    }
    for (const subnet of ['10.89.3.0', '10.89.3.0/33', 'fd00::/64', '10.89.300.0/24']) {
      assert.throws(() => setupNetworkBatch({ ...A, subnet }, undefined), /invalid subnet/, subnet);
    }
    assert.throws(() => setupNetworkBatch({ ...A, name: 'n'.repeat(129) }, undefined), /1 to 128 bytes/);
  });
});

describe('port batches', () => {
  const withA = (rules: Array<{ chain: string; handle: number; comment?: string; expr?: NftJson[] }> = [], chains = ['forward', 'net-stk-1a2b3c4d5e', 'published']) =>
    readTable(listing(rules, chains));
  const dnat = (hostIp: string | null, proto: string, hostPort: number, addr: string, to: number): NftJson[] => [
    hostIp === null
      ? { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } }
      : { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: hostIp } },
    { match: { op: '==', left: { payload: { protocol: proto, field: 'dport' } }, right: hostPort } },
    { dnat: { family: 'ip', addr, port: to } },
  ];

  test('the first ports create the published chain and its jumps from prerouting and output', () => {
    const batch = setupPortsBatch('c1', A, [port('0.0.0.0', 8080), port('127.0.0.1', 5353, 'udp')], withA([], ['forward', 'net-stk-1a2b3c4d5e']));
    assert.deepEqual(
      added(batch, 'chain').map((c) => [c.name, c.type ?? null, c.hook ?? null, c.prio ?? null]),
      [
        ['published', null, null, null],
        ['prerouting', 'nat', 'prerouting', -100],
        ['output', 'nat', 'output', -100],
      ],
    );
    for (const chain of ['prerouting', 'output']) {
      assert.deepEqual(rulesIn(batch, chain)[0]!.expr, [
        { match: { op: '==', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } },
        { jump: { target: 'published' } },
      ]);
    }
    assert.deepEqual(
      rulesIn(batch, 'published').map((r) => [r.comment, r.expr]),
      [
        ['c1', dnat(null, 'tcp', 8080, '10.89.3.2', 80)],
        ['c1', dnat('127.0.0.1', 'udp', 5353, '10.89.3.2', 80)],
      ],
    );
    // once the chain exists, only the rules
    const again = setupPortsBatch('c2', A, [port('0.0.0.0', 8081)], withA());
    assert.deepEqual(added(again, 'chain'), []);
    assert.equal(added(again, 'rule').length, 1);
  });

  test('ports read back from the listing, with their owner; foreign rules are skipped', () => {
    const state = withA([
      { chain: 'published', handle: 30, comment: 'c1', expr: dnat(null, 'tcp', 8080, '10.89.3.2', 80) },
      { chain: 'published', handle: 31, comment: 'c2', expr: dnat('127.0.0.1', 'udp', 53, '10.89.3.3', 5353) },
      { chain: 'published', handle: 32, expr: dnat(null, 'tcp', 9, '10.89.3.3', 9) },
      { chain: 'published', handle: 33, comment: 'hand-made', expr: [{ accept: null }] },
      { chain: 'forward', handle: 34, comment: 'c3', expr: dnat(null, 'tcp', 10, '10.89.3.3', 10) },
    ]);
    assert.deepEqual(readPublished(state), [
      { owner: 'c1', hostIp: '0.0.0.0', hostPort: 8080, protocol: 'tcp', containerIp: '10.89.3.2', containerPort: 80 },
      { owner: 'c2', hostIp: '127.0.0.1', hostPort: 53, protocol: 'udp', containerIp: '10.89.3.3', containerPort: 5353 },
    ]);
    assert.deepEqual(teardownPortsBatch('c2', state), [{ delete: { rule: { family: 'inet', table: 'stack', chain: 'published', handle: 31 } } }]);
    // publishing again replaces the owner's rules
    const replaced = setupPortsBatch('c1', A, [port('0.0.0.0', 8090)], state);
    assert.deepEqual(replaced[0], { delete: { rule: { family: 'inet', table: 'stack', chain: 'published', handle: 30 } } });
  });

  test('a host port held by another container, or twice in one request, is a conflict', () => {
    const state = withA([
      { chain: 'published', handle: 30, comment: 'c1', expr: dnat(null, 'tcp', 8080, '10.89.3.2', 80) },
      { chain: 'published', handle: 31, comment: 'c2', expr: dnat('127.0.0.1', 'tcp', 9000, '10.89.3.3', 80) },
    ]);
    const conflict = (owner: string, ports: PortMapping[]) =>
      assert.throws(() => setupPortsBatch(owner, A, ports, state), (e: unknown) => e instanceof StackError && e.kind === 'conflict');
    conflict('c3', [port('127.0.0.1', 8080)]);
    conflict('c3', [port('0.0.0.0', 9000)]);
    conflict('c3', [port('10.0.0.1', 7000), port('0.0.0.0', 7000)]);
    // other protocol, other address, or the owner itself: no conflict
    assert.equal(setupPortsBatch('c3', A, [port('0.0.0.0', 8080, 'udp'), port('10.0.0.1', 9000)], state).length, 2);
    assert.ok(setupPortsBatch('c1', A, [port('0.0.0.0', 8080)], state).length > 0);
  });

  test('internal networks publish nothing; unknown networks and bad mappings are refused', () => {
    assert.deepEqual(setupPortsBatch('c1', I, [port('0.0.0.0', 8080)], undefined), []);
    assert.throws(() => setupPortsBatch('c1', B, [port('0.0.0.0', 8080)], withA()), (e: unknown) => e instanceof StackError && e.kind === 'not-found');
    assert.throws(() => setupPortsBatch('c1', A, [port('::', 8080)], withA()), (e: unknown) => e instanceof StackError && e.kind === 'unsupported');
    assert.throws(() => setupPortsBatch('c1', A, [port('0.0.0.0', 0)], withA()), /ports are 1 to 65535/);
    assert.throws(() => setupPortsBatch('c1', A, [{ ...port('0.0.0.0', 80), containerIp: 'web' }], withA()), /container address/);
  });
});
