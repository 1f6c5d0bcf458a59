import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostsFile, parseResolvConf, resolvConf } from '../engine/runtime/etc-files.js';

test('/etc/hosts: localhost, extra_hosts with host-gateway, then the container\'s own addresses', () => {
  const text = hostsFile({ hostname: 'web', domainname: 'example.test', addresses: ['10.89.0.2'], extraHosts: ['db=10.0.0.5', 'host.docker.internal=host-gateway'], hostGateway: '10.89.0.1' });
  const lines = text.trim().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.ok(lines.includes('10.0.0.5\tdb'));
  assert.ok(lines.includes('10.89.0.1\thost.docker.internal'));
  assert.equal(lines.at(-1), '10.89.0.2\tweb.example.test web');
});

test('/etc/resolv.conf: the service\'s dns settings, else the host\'s without loopback resolvers', () => {
  const host = 'nameserver 127.0.0.53\nnameserver 192.0.2.1 # corp\nsearch corp.example\noptions edns0\n';
  assert.deepEqual(parseResolvConf(host), { nameservers: ['127.0.0.53', '192.0.2.1'], search: ['corp.example'], options: ['edns0'] });
  assert.equal(resolvConf({ hostname: 'x', hostResolvConf: host }), 'nameserver 192.0.2.1\nsearch corp.example\noptions edns0\n');
  assert.equal(resolvConf({ hostname: 'x', hostResolvConf: 'nameserver 127.0.0.53\n' }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvConf({ hostname: 'x', hostResolvConf: host, dns: ['10.89.0.1'], dnsSearch: ['svc.local'], dnsOptions: ['ndots:1'] }), 'nameserver 10.89.0.1\nsearch svc.local\noptions ndots:1\n');
});
