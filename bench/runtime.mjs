// Start-to-exit of a trivial container (`true` in a busybox rootfs), N times each:
// through the engine's API (overlay rootfs, cgroups, /etc files, spec, conmon, runtime),
// raw `crun run` / `runc run` of a prepared bundle, the CLI's `stack run --rm` on a
// one-service project (a whole process each time: node, loading the project, the image
// store, attach, removal), plus `docker run --rm` and `podman run --rm` when they work
// here, in the same invocation. Run as root after `npm run build`.
// Usage: node bench/runtime.mjs [N=50]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { makeBusyboxRootfs } = await import(path.join(root, 'dist/test/support/busybox-rootfs.js'));
const { minimalSpec } = await import(path.join(root, 'dist/test/support/minimal-spec.js'));
const { prepareHostForCrun } = await import(path.join(root, 'dist/test/support/host.js'));
const { ContainerFactory } = await import(path.join(root, 'dist/engine/runtime/container-factory.js'));
const { loadProject } = await import(path.join(root, 'dist/engine/index.js'));
const { NetworkManager } = await import(path.join(root, 'dist/engine/network/network-manager.js'));
const { createCgroupManager } = await import(path.join(root, 'dist/engine/cgroups/cgroup-manager.js'));
const STACK = path.join(root, 'dist/bundle/stack.mjs');

const N = Number(process.argv[2] ?? 50);
const base = mkdtempSync(path.join(tmpdir(), 'stack-bench-rt-'));
const results = [];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = async (label, fn) => {
  const samples = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  results.push({ label, median: median(samples) });
  console.log(`${label.padEnd(36)} median ${median(samples).toFixed(1).padStart(7)} ms   min ${Math.min(...samples).toFixed(1).padStart(7)} ms`);
};

try {
  prepareHostForCrun();
  const rootfs = makeBusyboxRootfs(path.join(base, 'rootfs'));
  const proj = path.join(base, 'bench');
  mkdirSync(proj);
  writeFileSync(path.join(proj, 'compose.yaml'), 'services:\n  t:\n    image: busybox\n    command: ["true"]\n');
  const project = loadProject({ cwd: proj, env: {} }).project;
  console.log(`start-to-exit of \`true\`, ${N} runs each`);

  for (const [name, binary] of [['crun', '/usr/bin/crun'], ['runc', '/usr/sbin/runc']]) {
    const bundle = path.join(base, `bundle-${name}`);
    mkdirSync(bundle);
    const spec = minimalSpec(['true'], { cgroupsPath: `/stack-bench/${name}` });
    spec.root.path = rootfs;
    writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    await time(`${name} run (raw)`, (i) => {
      execFileSync(binary, [`--root=${path.join(base, `root-${name}`)}`, 'run', '--bundle', bundle, `b${i}`], { stdio: 'ignore' });
    });
    const factory = new ContainerFactory({ stateDir: path.join(base, `state-${name}`), runDir: path.join(base, `run-${name}`) });
    await time(`engine API under ${name}`, async (i) => {
      const service = project.services.t;
      const { record } = await factory.create({ project, service, image: { layers: [rootfs], config: {} }, number: i + 1, network: { kind: 'none' }, runtime: { name, binary } });
      await factory.containers.start(record.id);
      await factory.containers.wait(record.id);
      await factory.containers.remove(record.id);
    });
    factory.cgroups.removeProject(project.name);
  }
  // the peers run the same rootfs, imported into their own stores (no registry here)
  const tar = path.join(base, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);

  // the CLI, as a user runs it: a store of its own, the image imported, a one-service project
  // whose service has no network, as the peers run with --network none; then on the
  // project's network (a veth, a sandbox and DNS names made and removed each time)
  const cliEnv = { ...process.env, STACK_ROOT: path.join(base, 'cli-state'), STACK_RUN: path.join(base, 'cli-run') };
  const cliProject = path.join(base, 'cli');
  mkdirSync(cliProject);
  writeFileSync(path.join(cliProject, 'compose.yaml'), 'name: stackbench\nservices:\n  t:\n    image: stack-bench-busybox\n    network_mode: none\n    command: ["true"]\n  net:\n    image: stack-bench-busybox\n    command: ["true"]\n');
  execFileSync(process.execPath, [STACK, 'image', 'import', tar, 'stack-bench-busybox'], { env: cliEnv, stdio: 'ignore' });
  const stackRun = (service) => () => void execFileSync(process.execPath, [STACK, 'run', '--rm', service], { cwd: cliProject, env: cliEnv, stdio: 'ignore' });
  try {
    await time('stack run --rm', stackRun('t'));
    await time('stack run --rm (project network)', stackRun('net'));
  } finally {
    const cliPaths = { stateDir: cliEnv.STACK_ROOT, runDir: cliEnv.STACK_RUN };
    await new NetworkManager(cliPaths).remove('stackbench_default', { force: true });
    createCgroupManager().removeProject('stackbench');
  }
  for (const [label, cmd, args] of [
    ['docker run --rm', 'docker', ['run', '--rm', '--network', 'none', 'stack-bench-busybox', 'true']],
    ['podman run --rm', 'podman', ['run', '--rm', '--network', 'none', 'stack-bench-busybox', 'true']],
  ]) {
    spawnSync(cmd, ['import', tar, 'stack-bench-busybox'], { stdio: 'ignore' });
    if (spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0) {
      console.log(`${label.padEnd(36)} not available here (no daemon or no busybox image)`);
      continue;
    }
    await time(label, () => void execFileSync(cmd, args, { stdio: 'ignore' }));
  }
  const get = (l) => results.find((r) => r.label === l)?.median;
  for (const rt of ['crun', 'runc']) {
    console.log(`engine overhead over raw ${rt}: ${(get(`engine API under ${rt}`) / get(`${rt} run (raw)`)).toFixed(2)}x (goal <= 2x)`);
  }
  for (const peer of ['docker run --rm', 'podman run --rm']) {
    if (!get(peer)) continue;
    console.log(`${peer} / engine API under crun: ${(get(peer) / get('engine API under crun')).toFixed(2)}x`);
    console.log(`${peer} / stack run --rm: ${(get(peer) / get('stack run --rm')).toFixed(2)}x (goal >= ${peer.startsWith('docker') ? 3 : 2}x)`);
  }
} finally {
  // the raw runs leave their cgroup parent behind
  for (const c of readdirSync('/sys/fs/cgroup')) {
    for (const dir of ['stack-bench/crun', 'stack-bench/runc', 'stack-bench']) {
      try {
        rmdirSync(path.join('/sys/fs/cgroup', c, dir));
      } catch {
        // not there in this hierarchy
      }
    }
  }
  rmSync(base, { recursive: true, force: true });
}
