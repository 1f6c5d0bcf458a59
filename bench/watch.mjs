// The dev loop's latency. N saves of a file under a `sync` rule: from the write returning to
// busybox httpd in the container serving the new content on a published loopback port; beside
// it the floor, the same write's event reaching a plain chokidar watcher in this process.
// Then a one-file change under a `rebuild` rule to the re-created container serving it (warm
// build cache, after one warm-up rebuild). The watch runs in-process (WatchSession), as
// `stack watch` runs it. Run as root after `npm run build`. Usage: node bench/watch.mjs [N=50]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { watch } from 'chokidar';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { makeBusyboxRootfs } = await dist('test/support/busybox-rootfs.js');
const { prepareHostForCrun } = await dist('test/support/host.js');
const { freePort } = await dist('test/support/net-probe.js');
const { loadProject } = await dist('engine/index.js');
const { Reconciler } = await dist('engine/reconcile/reconciler.js');
const { WatchSession } = await dist('engine/watch/watch-session.js');

const N = Number(process.argv[2] ?? 50);
const BIN = path.join(root, 'dist/bundle/stack.mjs');
const base = mkdtempSync(path.join(tmpdir(), 'stack-bench-watch-'));
const env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: path.join(base, 'state'), STACK_RUN: path.join(base, 'run') };
const proj = path.join(base, 'proj');
const agent = new http.Agent({ keepAlive: true });

const get = (port) =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/index.html', agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    // a connection made while the container is being re-created can wait on SYN retries for seconds
    req.setTimeout(100, () => req.destroy());
  });

/** ms from `t0` until the port serves `want` */
async function served(port, want, t0, limitMs = 10_000) {
  for (;;) {
    if ((await get(port)) === want) return performance.now() - t0;
    if (performance.now() - t0 > limitMs) throw new Error(`port ${port} did not serve ${JSON.stringify(want)} within ${limitMs} ms`);
  }
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return `p50 ${at(0.5).toFixed(1)} ms  p95 ${at(0.95).toFixed(1)} ms  max ${s[s.length - 1].toFixed(1)} ms`;
};

let session;
/** from a rebuild's start to the new containers started, as the watch reports it */
const rebuiltMs = [];
try {
  prepareHostForCrun();
  const rootfs = makeBusyboxRootfs(path.join(base, 'rootfs'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(base, 'rootfs.tar'), '.']);
  execFileSync(process.execPath, [BIN, 'image', 'import', path.join(base, 'rootfs.tar'), 'bench-busybox:local'], { env, stdio: 'ignore' });
  const [syncPort, buildPort] = [await freePort(), await freePort()];
  mkdirSync(path.join(proj, 'www'), { recursive: true });
  mkdirSync(path.join(proj, 'app'), { recursive: true });
  writeFileSync(path.join(proj, 'www/index.html'), 'save 0');
  writeFileSync(path.join(proj, 'app/index.html'), 'build 0');
  writeFileSync(path.join(proj, 'app/Dockerfile'), 'FROM bench-busybox:local\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n');
  writeFileSync(
    path.join(proj, 'compose.yaml'),
    `name: benchwatch${process.pid}
services:
  web:
    image: bench-busybox:local
    command: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:${syncPort}:8080"]
    develop:
      watch:
        - { path: ./www, action: sync, target: /www, initial_sync: true }
  built:
    build: ./app
    # httpd as pid 1 ignores SIGTERM: without this, every re-creation waits out the grace period
    stop_signal: SIGKILL
    ports: ["127.0.0.1:${buildPort}:8080"]
    develop:
      watch:
        - { path: ./app, action: rebuild }
`,
  );
  const up = spawnSync(process.execPath, [BIN, 'up', '-d', '--progress', 'quiet'], { cwd: proj, env, encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`up failed: ${up.stderr}`);
  const reconciler = new Reconciler({ stateDir: env.STACK_ROOT, runDir: env.STACK_RUN });
  const { project, graph } = loadProject({ cwd: proj, env });
  session = await WatchSession.start({ reconciler, model: { project, graph }, onEvent: (e) => e.kind === 'rebuilt' && rebuiltMs.push(e.ms) });
  await served(syncPort, 'save 0', performance.now());

  // the floor: inotify through a plain chokidar watcher, on the same writes
  let floorAt;
  const floorWatcher = watch(path.join(proj, 'www'), { ignoreInitial: true });
  await new Promise((r) => floorWatcher.once('ready', r));
  floorWatcher.on('all', () => (floorAt ??= performance.now()));
  const sync = [];
  const floor = [];
  for (let i = 1; i <= N; i++) {
    // saves further apart than chokidar's 50 ms per-file change throttle, which would drop the floor's event
    await new Promise((r) => setTimeout(r, 60));
    floorAt = undefined;
    writeFileSync(path.join(proj, 'www/index.html'), `save ${i}`);
    const t0 = performance.now();
    sync.push(await served(syncPort, `save ${i}`, t0));
    for (let waited = 0; floorAt === undefined && waited < 1000; waited++) await new Promise((r) => setTimeout(r, 1));
    if (floorAt === undefined) throw new Error(`the floor watcher saw no event for save ${i}`);
    floor.push(floorAt - t0);
    await session.settled();
  }
  await floorWatcher.close();
  console.log(`sync, ${N} saves, write to served by httpd in the container:`);
  console.log(`  stack watch      ${stats(sync)}`);
  console.log(`  chokidar floor   ${stats(floor)}`);

  const rebuild = [];
  for (let i = 1; i <= 3; i++) {
    writeFileSync(path.join(proj, 'app/index.html'), `build ${i}`);
    const t0 = performance.now();
    rebuild.push(await served(buildPort, `build ${i}`, t0, 60_000));
    await session.settled();
  }
  const list = (xs) => xs.map((ms) => `${ms.toFixed(0)} ms`).join(', ');
  console.log('rebuild, one-file change (the first warms the cache):');
  console.log(`  built and up       ${list(rebuiltMs)}`);
  console.log(`  served on the port ${list(rebuild)}`);
} finally {
  await session?.close();
  agent.destroy();
  spawnSync(process.execPath, [BIN, 'down', '-v', '-t', '0'], { cwd: proj, env, stdio: 'ignore' });
  rmSync(base, { recursive: true, force: true });
}
