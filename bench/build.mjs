// A 10-step Dockerfile built three ways — cold (no cache), rebuilt with no change, rebuilt
// after one source file changed — by `stack image build` and, in the same invocation,
// by `docker build` when a docker daemon answers here (both from the same busybox rootfs,
// imported into each store). Run as root after `npm run build`.
// Usage: node bench/build.mjs [RUNS=5]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { makeBusyboxRootfs } = await import(path.join(root, 'dist/test/support/busybox-rootfs.js'));
const { prepareHostForCrun } = await import(path.join(root, 'dist/test/support/host.js'));
const stackBin = path.join(root, 'dist/bundle/stack.mjs');

const RUNS = Number(process.argv[2] ?? 5);
const base = mkdtempSync(path.join(tmpdir(), 'stack-bench-build-'));
const env = { ...process.env, STACK_ROOT: path.join(base, 'state'), STACK_RUN: path.join(base, 'run') };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (fn) => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

const DOCKERFILE = `FROM bench-base:1
ENV APP_HOME=/app
WORKDIR /app
COPY package.json ./
RUN echo installing > /app/deps.txt
COPY src/ ./src/
RUN cat src/*.js > /app/bundle.js
ARG VERSION=1
LABEL version=$VERSION
CMD ["cat", "/app/bundle.js"]
`;

try {
  prepareHostForCrun();
  const rootfs = makeBusyboxRootfs(path.join(base, 'rootfs'));
  const tar = path.join(base, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  const ctx = path.join(base, 'ctx');
  mkdirSync(path.join(ctx, 'src'), { recursive: true });
  writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  writeFileSync(path.join(ctx, 'package.json'), '{"name":"bench"}\n');
  for (let i = 0; i < 20; i++) writeFileSync(path.join(ctx, 'src', `m${i}.js`), `export const m${i} = ${i};\n`);

  const tools = [
    {
      name: 'stack image build',
      setup: () => execFileSync('node', [stackBin, 'image', 'import', tar, 'bench-base:1'], { env, stdio: 'ignore' }),
      build: (noCache) => execFileSync('node', [stackBin, 'image', 'build', '-q', '-t', 'bench:1', ...(noCache ? ['--no-cache'] : []), ctx], { env, stdio: 'ignore' }),
    },
  ];
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
    tools.push({
      name: 'docker build',
      setup: () => execFileSync('docker', ['import', tar, 'bench-base:1'], { stdio: 'ignore' }),
      build: (noCache) => execFileSync('docker', ['build', '-q', '-t', 'bench:1', ...(noCache ? ['--no-cache'] : []), ctx], { stdio: 'ignore', env: { ...process.env, DOCKER_BUILDKIT: '0' } }),
    });
  } else {
    console.log('docker build: not available here (no docker daemon answers), so no peer ratio');
  }

  const results = {};
  for (const t of tools) {
    t.setup();
    const cold = [];
    const cached = [];
    const oneChange = [];
    for (let i = 0; i < RUNS; i++) {
      cold.push(ms(() => t.build(true)));
      cached.push(ms(() => t.build(false)));
      writeFileSync(path.join(ctx, 'src', 'm0.js'), `export const m0 = ${Date.now()};\n`);
      oneChange.push(ms(() => t.build(false)));
    }
    results[t.name] = { cold: median(cold), cached: median(cached), oneChange: median(oneChange) };
  }
  console.log(`10-step Dockerfile, median of ${RUNS} runs (ms)`);
  console.log(`${'tool'.padEnd(20)}${'cold'.padStart(10)}${'no change'.padStart(12)}${'one file'.padStart(12)}`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(20)}${r.cold.toFixed(0).padStart(10)}${r.cached.toFixed(0).padStart(12)}${r.oneChange.toFixed(0).padStart(12)}`);
  }
  const s = results['stack image build'];
  const d = results['docker build'];
  console.log(`stack cached rebuild: ${s.cached.toFixed(0)} ms (goal < 150 ms)`);
  if (d) {
    console.log(`docker / stack: cold ${(d.cold / s.cold).toFixed(2)}x, no change ${(d.cached / s.cached).toFixed(2)}x (goal >= 5x), one file ${(d.oneChange / s.oneChange).toFixed(2)}x`);
  }
} finally {
  spawnSync('docker', ['rmi', '-f', 'bench:1', 'bench-base:1'], { stdio: 'ignore' });
  rmSync(base, { recursive: true, force: true });
}
