// Cold pull and push of a 5-layer ~120 MB image against Debian's docker-registry on
// 127.0.0.1, through `stack`, docker (when dockerd runs) and skopeo in the same invocation,
// plus a raw parallel curl of the same blobs as the ceiling for the transfer itself.
// - pull: stack and docker store and extract the layers; skopeo copies the blobs into an
//   OCI directory without extracting them; curl only writes the blobs to files.
// - push: each tool pushes the image from its own store to an empty registry (a new one per
//   round, so nothing is skipped or mounted).
// Run as root after `npm run build`. Usage: node bench/registry.mjs [ROUNDS=3] [LAYER_MB=24]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startRegistry } = await import(path.join(root, 'dist/test/support/registry.js'));
const { makeOciLayout } = await import(path.join(root, 'dist/test/support/oci-image.js'));
const { skopeoCopy } = await import(path.join(root, 'dist/test/support/skopeo.js'));

const ROUNDS = Number(process.argv[2] ?? 3);
const LAYER_MB = Number(process.argv[3] ?? 24);
const BIN = path.join(root, 'dist/bundle/stack.mjs');
const base = mkdtempSync(path.join(tmpdir(), 'stack-bench-registry-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const docker = existsSync('/var/run/docker.sock') && spawnSync('docker', ['version'], { stdio: 'ignore' }).status === 0;

function timed(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

async function timedAsync(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const results = {};
const record = (label, ms) => {
  (results[label] ??= []).push(ms);
  console.log(`${label.padEnd(14)} ${ms.toFixed(0).padStart(6)} ms`);
};

const source = await startRegistry();
const registries = [source];
try {
  const layout = path.join(base, 'layout');
  const image = await makeOciLayout(layout, { layers: 5, bytesPerLayer: LAYER_MB << 20 });
  const total = image.layers.reduce((n, l) => n + l.size, 0);
  await skopeoCopy(`oci:${layout}:latest`, `docker://${source.host}/bench/app:1`, { dest: { tlsVerify: false } });
  const ref = `${source.host}/bench/app:1`;
  console.log(`image: 5 layers, ${(total / 1e6).toFixed(0)} MB; ${ROUNDS} rounds; docker ${docker ? 'included' : 'skipped: dockerd not reachable'}`);

  console.log('\ncold pull');
  for (let i = 0; i < ROUNDS; i++) {
    const state = path.join(base, `stack-${i}`);
    const env = { ...process.env, STACK_ROOT: state, STACK_RUN: path.join(base, 'run') };
    record('stack pull', timed(process.execPath, [BIN, 'image', 'pull', '-q', ref], { env }));
    if (i < ROUNDS - 1) rmSync(state, { recursive: true, force: true });
    if (docker) {
      spawnSync('docker', ['rmi', '-f', ref], { stdio: 'ignore' });
      record('docker pull', timed('docker', ['pull', '-q', ref]));
    }
    const dir = path.join(base, `skopeo-${i}`);
    record('skopeo pull', await timedAsync(() => skopeoCopy(`docker://${ref}`, `oci:${dir}:latest`, { src: { tlsVerify: false } })));
    rmSync(dir, { recursive: true, force: true });
    const files = image.layers.map((_, n) => path.join(base, `curl-${n}`));
    const args = image.layers.flatMap((l, n) => ['-o', files[n], `${source.url}/v2/bench/app/blobs/${l.digest}`]);
    record('curl parallel', timed('curl', ['-sSf', '--parallel', '--parallel-max', '5', ...args]));
    for (const f of files) rmSync(f, { force: true });
  }

  console.log('\npush to an empty registry');
  const stackEnv = { ...process.env, STACK_ROOT: path.join(base, `stack-${ROUNDS - 1}`), STACK_RUN: path.join(base, 'run') };
  for (let i = 0; i < ROUNDS; i++) {
    const target = await startRegistry();
    registries.push(target);
    const dest = `${target.host}/bench/app:1`;
    timed(process.execPath, [BIN, 'image', 'tag', ref, dest], { env: stackEnv });
    record('stack push', timed(process.execPath, [BIN, 'image', 'push', '--progress', 'quiet', dest], { env: stackEnv }));
    if (docker) {
      timed('docker', ['tag', ref, `${target.host}/bench/docker:1`]);
      record('docker push', timed('docker', ['push', '-q', `${target.host}/bench/docker:1`]));
      spawnSync('docker', ['rmi', `${target.host}/bench/docker:1`], { stdio: 'ignore' });
    }
    record('skopeo push', await timedAsync(() => skopeoCopy(`oci:${layout}:latest`, `docker://${target.host}/bench/skopeo:1`, { dest: { tlsVerify: false } })));
    await target.stop();
    registries.pop();
  }
  console.log('\nmedians');
  const show = (label, peer) => {
    const ours = median(results[label]);
    const theirs = results[peer] && median(results[peer]);
    console.log(`${label.padEnd(14)} ${ours.toFixed(0).padStart(6)} ms${theirs !== undefined ? `   ${peer} ${theirs.toFixed(0)} ms: ${(theirs / ours).toFixed(2)}x` : ''}`);
  };
  const pullMs = median(results['stack pull']);
  console.log(`stack pull     ${pullMs.toFixed(0).padStart(6)} ms  (${((total / 1e6) / (pullMs / 1000)).toFixed(0)} MB/s)`);
  if (docker) show('stack pull', 'docker pull');
  show('stack pull', 'skopeo pull');
  const curlMs = median(results['curl parallel']);
  console.log(`curl parallel  ${curlMs.toFixed(0).padStart(6)} ms: stack pull takes ${(pullMs / curlMs).toFixed(2)}x curl's time (goal <= 2x)`);
  console.log('');
  if (docker) show('stack push', 'docker push');
  show('stack push', 'skopeo push');
} finally {
  for (const r of registries) await r.stop();
  if (docker) spawnSync('docker', ['rmi', '-f', `${source.host}/bench/app:1`], { stdio: 'ignore' });
  rmSync(base, { recursive: true, force: true });
}
