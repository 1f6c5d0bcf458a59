/**
 * Networks end to end on the real kernel: services of a stack file in containers attached
 * to bridges through veths, found by name through the network's DNS server, isolated
 * between networks, published to the host's loopback, and nothing left after teardown.
 * Only loopback and addresses inside namespaces this test made are ever contacted: the
 * DNS server's upstream is a fake one the test runs on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { createCgroupManager } from '../engine/cgroups/cgroup-manager.js';
import { StackError } from '../engine/errors.js';
import { loadProject, type Project } from '../engine/index.js';
import { NetworkManager } from '../engine/network/network-manager.js';
import { networkSpec } from '../engine/network/network-spec.js';
import { ServiceContainers, type NetworkedContainer } from '../engine/reconcile/service-containers.js';
import { ContainerFactory, type ImageRef } from '../engine/runtime/container-factory.js';
import type { EnginePaths } from '../engine/runtime/paths.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { testRuntimes } from './support/host.js';
import { freePort, httpGet } from './support/net-probe.js';

const compose = (port: number) => `
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
    networks: [front]
    ports: ["127.0.0.1:${port}:80"]
  api:
    image: busybox
    command: ["sleep", "60"]
    networks: [front]
  client:
    image: busybox
    command: ["sleep", "60"]
    networks:
      front:
        aliases: [cli]
      back:
  other:
    image: busybox
    command: ["sleep", "60"]
    networks:
      back:
        ipv4_address: 172.31.250.9
  hidden:
    image: busybox
    command: ["sleep", "60"]
    networks: [internal]
  clash:
    image: busybox
    command: ["sleep", "60"]
    networks: [front]
    ports: ["127.0.0.1:${port}:8080"]
networks:
  front:
  back:
    ipam:
      config:
        - subnet: 172.31.250.0/24
  internal:
    internal: true
`;

/** the host's network state that teardown must leave exactly as it found it */
function hostSnapshot(base: string): Record<string, string> {
  const links = execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').map((l) => l.replace(/^\d+: /, '').replace(/\\.*$/, '')).sort().join('\n');
  const ruleset = execFileSync('nft', ['list', 'ruleset']).toString();
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(base)).join('\n');
  return { links, ruleset, mounts };
}

/** A stand-in for the host's resolver, on loopback: answers every A query with 10.1.2.3. */
function fakeUpstream(): Promise<{ port: number; queries: string[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    queries.push(name);
    const answer = dnsPacket.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions ?? [],
      answers: q.questions?.[0]?.type === 'A' ? [{ type: 'A', name, ttl: 60, data: '10.1.2.3' }] : [],
    });
    sock.send(answer, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, queries, close: () => sock.close() })));
}

const runtime = testRuntimes()[0]!;

describe('networks', () => {
  let base: string;
  let paths: EnginePaths;
  let project: Project;
  let image: ImageRef;
  let services: ServiceContainers;
  let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
  let port: number;
  let before_: Record<string, string>;
  const running = new Map<string, NetworkedContainer>();

  const up = async (name: string, number = 1) => {
    const made = await services.create({ project, service: project.services[name]!, image, number, runtime });
    running.set(made.record.id, made);
    await services.factory.containers.start(made.record.id);
    return made;
  };
  const sh = async (id: string, script: string) => services.factory.containers.exec(id, { args: ['sh', '-c', script] });

  before(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'stack-net-'));
    before_ = hostSnapshot(base);
    port = await freePort();
    upstream = await fakeUpstream();
    const dir = path.join(base, `net${process.pid}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'compose.yaml'), compose(port));
    project = loadProject({ cwd: dir, env: {} }).project;
    image = { layers: [makeBusyboxRootfs(path.join(base, 'image'))], config: { Cmd: ['sh'], Env: ['PATH=/bin'] } };
    paths = { stateDir: path.join(base, 'state'), runDir: path.join(base, 'run') };
    const networks = new NetworkManager(paths, { dnsUpstreams: [`127.0.0.1:${upstream.port}`] });
    services = new ServiceContainers(new ContainerFactory(paths, createCgroupManager()), networks);
    for (const name of ['web', 'client', 'other', 'hidden']) await up(name);
  });

  after(async () => {
    for (const id of running.keys()) await services.remove(id).catch(() => undefined);
    for (const key of Object.keys(project?.networks ?? {})) await services?.networks.remove(networkSpec(project, key).name, { force: true }).catch(() => undefined);
    services?.factory.cgroups.removeProject(project.name);
    upstream?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('containers on one network reach each other by service name and alias (ping and TCP)', async () => {
    const ping = await sh(`${project.name}-client-1`, 'ping -c 1 -W 3 web');
    assert.equal(ping.exitCode, 0, ping.stdout + ping.stderr);
    const page = await sh(`${project.name}-client-1`, 'timeout 5 wget -q -O - http://web/');
    assert.equal(page.stdout.trim(), `${project.name}-web-1`);
    const alias = await sh(`${project.name}-web-1`, 'ping -c 1 -W 3 cli');
    assert.equal(alias.exitCode, 0, alias.stdout + alias.stderr);
  });

  test('a static address on an ipam subnet; a second network gets eth1', async () => {
    const r = await sh(`${project.name}-other-1`, 'ip -4 -o addr show eth0');
    assert.match(r.stdout, /inet 172\.31\.250\.9\/24/);
    const c = await sh(`${project.name}-client-1`, 'ip -4 -o addr show eth1; ping -c 1 -W 3 other');
    assert.match(c.stdout, /inet 172\.31\.250\.\d+\/24/);
    assert.equal(c.exitCode, 0, c.stdout + c.stderr);
  });

  test('replicas: the service name answers every replica', async () => {
    const first = (await up('api', 1)).attachments[0]!.ipv4;
    const second = await up('api', 2);
    const r = await sh(`${project.name}-client-1`, 'nslookup api');
    assert.ok(r.stdout.includes(first) && r.stdout.includes(second.attachments[0]!.ipv4), r.stdout);
  });

  test('different networks are isolated, in both name and address', async () => {
    const webIp = running.get(`${project.name}-web-1`)!.attachments[0]!.ipv4;
    const byName = await sh(`${project.name}-other-1`, 'nslookup web');
    assert.notEqual(byName.exitCode, 0, byName.stdout);
    const byAddress = await sh(`${project.name}-other-1`, `timeout 3 wget -q -O - http://${webIp}/`);
    assert.notEqual(byAddress.exitCode, 0, 'a container on another network fetched the page');
  });

  test('an internal network has no route out', async () => {
    const r = await sh(`${project.name}-hidden-1`, 'ip route; ping -c 1 -W 2 ' + running.get(`${project.name}-web-1`)!.attachments[0]!.ipv4);
    assert.doesNotMatch(r.stdout, /default/);
    assert.notEqual(r.exitCode, 0);
  });

  test('names outside the network are forwarded to the upstream resolver', async () => {
    const r = await sh(`${project.name}-client-1`, 'nslookup service.example.test');
    assert.match(r.stdout, /10\.1\.2\.3/);
    assert.ok(upstream.queries.includes('service.example.test'));
  });

  test('a published port answers on the host at 127.0.0.1', async () => {
    const body = await httpGet(`http://127.0.0.1:${port}/`);
    assert.ok(/-web-\d$/.test(body.trim()), body);
  });

  test('a port already published is a clear error, and nothing is created', async () => {
    const snap = hostSnapshot(base);
    await assert.rejects(up('clash'), (e: unknown) => e instanceof StackError && e.kind === 'conflict' && e.message.includes(`127.0.0.1:${port}/tcp`));
    assert.deepEqual(hostSnapshot(base), snap);
    assert.ok(!existsSync(path.join(paths.runDir, 'netns', `${project.name}-clash-1`)));
  });

  test("removing a container that published a port drops its flows' conntrack entries", async () => {
    const web = running.get(`${project.name}-web-1`)!;
    await httpGet(`http://127.0.0.1:${port}/`);
    const flows = () => readFileSync('/proc/net/nf_conntrack', 'utf8').split('\n').filter((l) => l.includes(`src=${web.attachments[0]!.ipv4} `));
    assert.ok(flows().length > 0, 'the request left no conntrack entry to test with');
    await services.remove(web.record.id);
    running.delete(web.record.id);
    assert.deepEqual(flows(), []);
  });

  test('teardown leaves links, rules, mounts and processes as they were', async () => {
    for (const id of [...running.keys()]) {
      await services.remove(id);
      running.delete(id);
    }
    for (const key of Object.keys(project.networks)) await services.networks.remove(networkSpec(project, key).name);
    assert.deepEqual(hostSnapshot(base), before_);
    const pidFile = path.join(paths.runDir, 'dns', 'server.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(!existsSync(`/proc/${pid}`), 'the DNS server is still running');
    }
  });
});
