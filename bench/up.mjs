// `up -d` of a 10-service stack (images already present) until every container runs, then
// `down`, through `stack` and through docker-compose (Debian's v1, with docker.io) on the
// same compose file in the same invocation. Both use the same busybox root filesystem,
// imported into each one's store. Run as root after `npm run build`, with dockerd running
// for the peer. Usage: node bench/up.mjs [ROUNDS=5] [SERVICES=10]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { makeBusyboxRootfs } = await import(path.join(root, 'dist/test/support/busybox-rootfs.js'));
const { prepareHostForCrun } = await import(path.join(root, 'dist/test/support/host.js'));

const ROUNDS = Number(process.argv[2] ?? 5);
const SERVICES = Number(process.argv[3] ?? 10);
const base = mkdtempSync(path.join(tmpdir(), 'stack-bench-up-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const env = { ...process.env, STACK_ROOT: path.join(base, 'state'), STACK_RUN: path.join(base, 'run') };
const BIN = path.join(root, 'dist/bundle/stack.mjs');

function compose(image) {
  let text = 'services:\n';
  for (let i = 0; i < SERVICES; i++) {
    text += `  s${i}:\n    image: ${image}\n    command: ["sleep", "3600"]\n    stop_signal: SIGKILL\n`;
    if (i > 0 && i % 3 === 0) text += `    depends_on: [s${i - 1}]\n`;
  }
  return text;
}

function timed(cmd, args, opts) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const results = {};
const record = (label, up, down) => {
  (results[label] ??= { up: [], down: [] }).up.push(up);
  results[label].down.push(down);
  console.log(`${label.padEnd(15)} up ${up.toFixed(0).padStart(6)} ms   down ${down.toFixed(0).padStart(6)} ms`);
};

try {
  prepareHostForCrun();
  const rootfs = makeBusyboxRootfs(path.join(base, 'rootfs'));
  const tar = path.join(base, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  execFileSync(process.execPath, [BIN, 'image', 'import', tar, 'bench-busybox:local'], { env, stdio: 'ignore' });
  const stackDir = path.join(base, 'benchup');
  mkdirSync(stackDir);
  writeFileSync(path.join(stackDir, 'compose.yaml'), compose('bench-busybox:local'));
  console.log(`up -d of ${SERVICES} services to all running, then down; ${ROUNDS} rounds each`);
  for (let i = 0; i < ROUNDS; i++) {
    const up = timed(process.execPath, [BIN, 'up', '-d', '--progress', 'quiet'], { cwd: stackDir, env });
    const down = timed(process.execPath, [BIN, 'down', '--progress', 'quiet'], { cwd: stackDir, env });
    record('stack', up, down);
  }

  const dockerOk = spawnSync('docker', ['import', tar, 'stack-bench-busybox'], { stdio: 'ignore' }).status === 0;
  const dcOk = dockerOk && spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  if (!dcOk) {
    console.log('docker-compose  not available here (needs docker-compose and a running dockerd)');
  } else {
    const dcDir = path.join(base, 'benchdc');
    mkdirSync(dcDir);
    writeFileSync(path.join(dcDir, 'docker-compose.yml'), `version: "2.4"\n${compose('stack-bench-busybox')}`);
    for (let i = 0; i < ROUNDS; i++) {
      // `up -d` returns once every container is started, as stack's does
      const up = timed('docker-compose', ['up', '-d', '--quiet-pull'], { cwd: dcDir });
      const down = timed('docker-compose', ['down'], { cwd: dcDir });
      record('docker-compose', up, down);
    }
  }
  const s = results.stack;
  console.log(`\nstack          : up median ${median(s.up).toFixed(0)} ms, down ${median(s.down).toFixed(0)} ms`);
  const d = results['docker-compose'];
  if (d) {
    console.log(`docker-compose : up median ${median(d.up).toFixed(0)} ms, down ${median(d.down).toFixed(0)} ms`);
    console.log(`docker-compose / stack: up ${(median(d.up) / median(s.up)).toFixed(2)}x, down ${(median(d.down) / median(s.down)).toFixed(2)}x (goal >= 5x)`);
  }
} finally {
  spawnSync(process.execPath, [BIN, 'down', '--progress', 'quiet'], { cwd: path.join(base, 'benchup'), env, stdio: 'ignore' });
  rmSync(base, { recursive: true, force: true });
}
