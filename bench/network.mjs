// A network and 20 containers on it, from nothing to every container answering TCP on its
// address (from the host, which reaches the bridge's subnet directly): through the engine
// (NetworkManager + ServiceContainers: netns, veth over rtnetlink, nftables, DNS, runtime)
// and through docker (`docker network create` + `docker run -d --network`) in the same
// invocation, both starting containers N at a time in parallel. Teardown is timed too.
// Only addresses inside the namespaces made here are contacted. Run as root after
// `npm run build`. Usage: node bench/network.mjs [CONTAINERS=20] [ROUNDS=3]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(path.join(root, 'dist', p));
const { makeBusyboxRootfs } = await imp('test/support/busybox-rootfs.js');
const { prepareHostForCrun } = await imp('test/support/host.js');
const { ContainerFactory } = await imp('engine/runtime/container-factory.js');
const { NetworkManager } = await imp('engine/network/network-manager.js');
const { networkSpec } = await imp('engine/network/network-spec.js');
const { ServiceContainers } = await imp('engine/reconcile/service-containers.js');
const { loadProject } = await imp('engine/index.js');

const COUNT = Number(process.argv[2] ?? 20);
const ROUNDS = Number(process.argv[3] ?? 3);
const base = mkdtempSync(path.join(tmpdir(), 'stack-bench-net-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const SERVE = 'mkdir -p /w && echo ok > /w/i && exec httpd -f -p 80 -h /w';

function connects(ip) {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port: 80, timeout: 200 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

async function allReachable(ips) {
  const pending = new Set(ips);
  while (pending.size > 0) {
    await Promise.all([...pending].map(async (ip) => (await connects(ip)) && pending.delete(ip)));
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

const results = {};
const record = (label, up, down) => {
  (results[label] ??= { up: [], down: [] }).up.push(up);
  results[label].down.push(down);
  console.log(`${label.padEnd(10)} round: up+reachable ${up.toFixed(0).padStart(6)} ms   teardown ${down.toFixed(0).padStart(6)} ms`);
};

try {
  prepareHostForCrun();
  const rootfs = makeBusyboxRootfs(path.join(base, 'rootfs'));
  const proj = path.join(base, 'netbench');
  mkdirSync(proj);
  writeFileSync(path.join(proj, 'compose.yaml'), `services:\n  s:\n    image: busybox\n    command: ["sh", "-c", "${SERVE}"]\n`);
  const project = loadProject({ cwd: proj, env: {} }).project;
  const service = project.services.s;
  const image = { layers: [rootfs], config: { Env: ['PATH=/bin'] } };
  console.log(`a network + ${COUNT} containers to all reachable over TCP, ${ROUNDS} rounds each`);

  for (let round = 0; round < ROUNDS; round++) {
    const paths = { stateDir: path.join(base, `state${round}`), runDir: path.join(base, `run${round}`) };
    const services = new ServiceContainers(new ContainerFactory(paths), new NetworkManager(paths));
    const t0 = process.hrtime.bigint();
    await services.ensureNetworks(project, service);
    const made = await Promise.all(
      Array.from({ length: COUNT }, async (_, i) => {
        const c = await services.create({ project, service, image, number: i + 1 });
        await services.factory.containers.start(c.record.id);
        return c;
      }),
    );
    await allReachable(made.map((c) => c.attachments[0].ipv4));
    const up = ms(t0);
    const t1 = process.hrtime.bigint();
    await Promise.all(made.map((c) => services.remove(c.record.id)));
    await services.networks.remove(networkSpec(project, 'default').name);
    record('stack', up, ms(t1));
    services.factory.cgroups.removeProject(project.name);
  }

  const tar = path.join(base, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  spawnSync('docker', ['import', tar, 'stack-bench-busybox'], { stdio: 'ignore' });
  if (spawnSync('docker', ['run', '--rm', '--network', 'none', 'stack-bench-busybox', 'true'], { stdio: 'ignore' }).status !== 0) {
    console.log('docker     not available here (no daemon)');
  } else {
    const dockerAsync = (...args) => new Promise((resolve, reject) => {
      const p = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`docker ${args.join(' ')} failed`))));
    });
    for (let round = 0; round < ROUNDS; round++) {
      const netName = `stack-bench-net-${process.pid}`;
      const t0 = process.hrtime.bigint();
      await dockerAsync('network', 'create', netName);
      const ids = await Promise.all(Array.from({ length: COUNT }, () => dockerAsync('run', '-d', '--network', netName, 'stack-bench-busybox', 'sh', '-c', SERVE)));
      const ips = (await dockerAsync('inspect', '-f', `{{(index .NetworkSettings.Networks "${netName}").IPAddress}}`, ...ids)).split('\n');
      await allReachable(ips);
      const up = ms(t0);
      const t1 = process.hrtime.bigint();
      await dockerAsync('rm', '-f', ...ids);
      await dockerAsync('network', 'rm', netName);
      record('docker', up, ms(t1));
    }
  }
  const s = results.stack;
  console.log(`\nstack : up+reachable median ${median(s.up).toFixed(0)} ms, teardown ${median(s.down).toFixed(0)} ms`);
  const d = results.docker;
  if (d) {
    console.log(`docker: up+reachable median ${median(d.up).toFixed(0)} ms, teardown ${median(d.down).toFixed(0)} ms`);
    console.log(`docker / stack: up ${(median(d.up) / median(s.up)).toFixed(2)}x, teardown ${(median(d.down) / median(s.down)).toFixed(2)}x`);
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
