// How long `stack config` takes, process start included, on a 200-service stack file;
// docker-compose (v1, when installed) runs on the same file in the same invocation for a ratio.
// Usage: node bench/config.mjs [services=200] [runs=15]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateStackFile } from './gen-services.mjs';

const n = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 15);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stack = path.join(root, 'dist/bundle/stack.mjs');
const dir = mkdtempSync(path.join(tmpdir(), 'stack-bench-'));
try {
  const file = path.join(dir, 'compose.yaml');
  generateStackFile(file, n);

  const time = (cmd, args) => {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
      samples.push(ms);
    }
    samples.sort((a, b) => a - b);
    return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
  };
  const report = (label, t) => console.log(`${label.padEnd(34)} median ${t.median.toFixed(1).padStart(7)} ms   min ${t.min.toFixed(1).padStart(7)} ms`);

  console.log(`stack config on ${n} services, ${runs} runs each`);
  const node = time(process.execPath, ['-e', '0']);
  report('node -e 0 (process start floor)', node);
  const ours = time(process.execPath, [stack, 'config', '-q']);
  report('stack config -q', ours);
  const full = time(process.execPath, [stack, 'config']);
  report('stack config (yaml to stdout)', full);

  const peer = ['docker-compose', 'docker compose'].find((c) => {
    const [cmd, ...sub] = c.split(' ');
    return spawnSync(cmd, [...sub, 'version'], { stdio: 'ignore' }).status === 0;
  });
  if (peer) {
    const [cmd, ...sub] = peer.split(' ');
    const theirs = time(cmd, [...sub, 'config', '-q']);
    report(`${peer} config -q`, theirs);
    console.log(`ratio ${peer} / stack: ${(theirs.median / ours.median).toFixed(2)}x`);
  } else {
    console.log('no docker-compose on this machine: no peer ratio');
  }
  console.log(`goal: under 300 ms including process start -> ${ours.median < 300 ? 'met' : 'NOT met'}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
