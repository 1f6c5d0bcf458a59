/**
 * `stack run` as a user runs it: the built binary as a child process, a store under a temp
 * STACK_ROOT with a busybox base imported, containers on the project's real network. Only
 * loopback and namespaces this test made are contacted: names are looked up on the
 * network's own DNS server, which answers single-label names itself.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadProject, type Project } from '../engine/index.js';
import { ImageStore } from '../engine/image/store/image-store.js';
import { NetworkManager } from '../engine/network/network-manager.js';
import { networkSpec } from '../engine/network/network-spec.js';
import { ServiceContainers } from '../engine/reconcile/service-containers.js';
import { ContainerFactory } from '../engine/runtime/container-factory.js';
import type { EnginePaths } from '../engine/runtime/paths.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { prepareHostForCrun } from './support/host.js';
import { BIN } from './support/cli-bin.js';

const PROJECT = `runcli${process.pid}`;

const COMPOSE = `
name: ${PROJECT}
services:
  svc:
    image: base:1
    environment:
      FROM_SERVICE: service
    command: ["echo", "service command"]
    restart: always
    depends_on: [db]
  db:
    image: base:1
    command: ["sleep", "300"]
  vol:
    image: base:1
    volumes: [/anon]
  tool:
    build:
      context: ./tool
  ghost:
    image: nosuch:1
    pull_policy: never
`;

let dir: string;
let proj: string;
let env: Record<string, string>;
let paths: EnginePaths;
let services: ServiceContainers;
let project: Project;

function stack(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: proj, encoding: 'utf8', env, input: input ?? '', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A `stack` child to talk to while it runs. */
function startStack(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: proj, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const waitFor = async (text: string) => {
    for (let i = 0; i < 300 && !stdout.includes(text); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(stdout.includes(text), `never printed ${text}: ${stdout} ${stderr}`);
  };
  return { child, exited, waitFor };
}

/** Containers and volumes on disk, sandboxes, veths on the project's bridge, its nft rules, mounts under the test dir, conmons. */
function leftovers() {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  const bridge = services.networks.get(`${PROJECT}_default`)?.bridge;
  const veths = bridge
    ? execFileSync('ip', ['-o', 'link', 'show', 'master', bridge]).toString().split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim()).sort()
    : [];
  return {
    containers: list(path.join(paths.stateDir, 'containers')),
    volumes: list(path.join(paths.stateDir, 'volumes')),
    sandboxes: list(path.join(paths.runDir, 'netns')),
    veths,
    rules: execFileSync('nft', ['list', 'ruleset']).toString().split('\n').filter((l) => l.includes(PROJECT)).map((l) => l.replace(/# handle \d+/, '').trim()).sort(),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir)).map((l) => l.split(' ')[4]!).sort(),
    conmons: spawnSync('pgrep', ['-f', `conmon .*${dir}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean),
  };
}

/** The state to come back to: the project's network stays after a run, as compose's does. */
async function baseline() {
  await services.ensureNetworks(project, project.services.svc!);
  return leftovers();
}

function freePort(): Promise<number> {
  const s = net.createServer();
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => {
    const { port } = s.address() as net.AddressInfo;
    s.close(() => resolve(port));
  }));
}

before(async () => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-run-cli-'));
  paths = { stateDir: path.join(dir, 'state'), runDir: path.join(dir, 'run') };
  env = { PATH: process.env.PATH ?? '', HOME: '/root', STACK_ROOT: paths.stateDir, STACK_RUN: paths.runDir, FROM_HOST: 'host value' };
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  proj = path.join(dir, 'proj');
  mkdirSync(path.join(proj, 'tool'), { recursive: true });
  writeFileSync(path.join(proj, 'compose.yaml'), COMPOSE);
  writeFileSync(path.join(proj, 'tool/Dockerfile'), 'FROM base:1\nCMD ["echo", "built tool"]\n');
  const imported = stack(['image', 'import', path.join(dir, 'rootfs.tar'), 'base:1']);
  assert.equal(imported.code, 0, imported.stderr);
  project = loadProject({ cwd: proj, env: {} }).project;
  // no upstream: the test only looks up the network's own names
  services = new ServiceContainers(new ContainerFactory(paths), new NetworkManager(paths, { dnsUpstreams: [] }));
});

after(async () => {
  for (const id of services?.factory.containers.list() ?? []) await services.remove(id, { volumes: true }).catch(() => undefined);
  for (const key of Object.keys(project?.networks ?? {})) await services.networks.remove(networkSpec(project, key).name, { force: true }).catch(() => undefined);
  services?.factory.cgroups.removeProject(PROJECT);
  rmSync(dir, { recursive: true, force: true });
});

describe('stack run', () => {
  test('an unknown service is an error and nothing is made', () => {
    const r = stack(['run', '--rm', 'nosuch', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: no such service: nosuch\n  hint: /);
    assert.doesNotMatch(r.stderr, /at .*\.js/, 'no stack trace for a user error');
    assert.ok(!existsSync(path.join(paths.stateDir, 'containers')));
    assert.ok(!existsSync(path.join(paths.runDir, 'netns')));
    assert.deepEqual(services.networks.list(), []);
  });

  test('a missing image is a clear error and nothing is made', () => {
    const r = stack(['run', '--rm', 'ghost', 'true']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: service "ghost": image nosuch:1 is not in the local store\n  hint: its pull_policy is never: .*import it/);
    assert.ok(!existsSync(path.join(paths.stateDir, 'containers')));
    assert.deepEqual(services.networks.list(), []);
  });

  test('options are checked before anything is made', () => {
    const cases: Array<[string[], RegExp]> = [
      [['-t', '-T', 'svc'], /-t and -T contradict each other/],
      [['-d', '--rm', 'svc'], /--rm with --detach is not supported/],
      [['-e', '=x', 'svc'], /--env =x: missing the name before =/],
      [['--pull', 'sometimes', 'svc'], /--pull sometimes: expected always, missing or never/],
      [['--name', 'bad/name', 'svc'], /invalid container name "bad\/name"/],
      [['-p', 'nonsense', 'svc'], /--publish nonsense: /],
    ];
    for (const [args, message] of cases) {
      const r = stack(['run', ...args, 'true']);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.ok(!existsSync(path.join(paths.stateDir, 'containers')));
  });

  test('with a terminal for stdin, the container gets a pseudo-terminal of the same size (compose\'s default); -T turns it off', () => {
    // script(1) is the terminal; its size is set first, then given to the container through conmon
    const inTerminal = (args: string) =>
      spawnSync('script', ['-qec', `stty cols 91 rows 33; ${process.execPath} ${BIN} ${args}`, '/dev/null'], { cwd: proj, env, encoding: 'utf8', timeout: 60_000 });
    const tty = inTerminal(`run --rm --no-deps svc sh -c 'tty; stty size; echo "$TERM"; exit 5'`);
    assert.equal(tty.status, 5, tty.stdout);
    assert.match(tty.stdout, /\/dev\/pts\/\d+\r?\r?\n33 91\r?\r?\nxterm/);
    const plain = inTerminal(`run --rm --no-deps -T svc sh -c 'tty || echo no terminal'`);
    assert.match(plain.stdout, /not a tty/);
  });

  test('output is streamed and the exit code is the container\'s', async () => {
    const r = stack(['run', '--rm', '--no-deps', 'svc', 'sh', '-c', 'echo hi; echo oops >&2; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.stderr, 'oops\n');

    // the first line arrives while the container still runs
    const run = startStack(['run', '--rm', '--no-deps', 'svc', 'sh', '-c', 'echo first; sleep 3; echo second']);
    await run.waitFor('first\n');
    assert.equal(run.child.exitCode, null, 'output came only at the end');
    assert.ok(!run.child.stdout.readableEnded);
    const done = await run.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, 'first\nsecond\n');

    // bytes as written, every one of them, up to the exit
    const big = spawnSync(process.execPath, [BIN, 'run', '--rm', '--no-deps', 'svc', 'sh', '-c', 'head -c 2000000 /dev/urandom > /tmp/x; md5sum < /tmp/x >&2; cat /tmp/x'], { cwd: proj, env, input: '', maxBuffer: 64 << 20 });
    assert.equal(big.status, 0, big.stderr.toString());
    assert.equal(big.stdout.length, 2_000_000);
    assert.equal(big.stderr.toString().split(' ')[0], createHash('md5').update(big.stdout).digest('hex'));
  });

  test('stdin is piped to the container with -i', () => {
    const r = stack(['run', '--rm', '--no-deps', '-i', 'svc', 'sh', '-c', 'cat; echo end'], 'data\nmore data\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'data\nmore data\nend\n');
  });

  test('command, environment, entrypoint, working dir and user overrides', () => {
    assert.equal(stack(['run', '--rm', '--no-deps', 'svc']).stdout, 'service command\n');
    const envs = stack(['run', '--rm', '--no-deps', '-e', 'FOO=bar', '-e', 'FROM_SERVICE=over', '-e', 'FROM_HOST', 'svc', 'sh', '-c', 'echo "$FOO|$FROM_SERVICE|$FROM_HOST"']);
    assert.equal(envs.stdout, 'bar|over|host value\n', envs.stderr);
    // an entrypoint without a command drops the service's command, as compose does
    const ep = stack(['run', '--rm', '--no-deps', '--entrypoint', 'echo "from entrypoint"', 'svc']);
    assert.equal(ep.stdout, 'from entrypoint\n', ep.stderr);
    const epCmd = stack(['run', '--rm', '--no-deps', '--entrypoint', 'sh -c', 'svc', 'echo $FROM_SERVICE']);
    assert.equal(epCmd.stdout, 'service\n', epCmd.stderr);
    const where = stack(['run', '--rm', '--no-deps', '-w', '/tmp', '-u', 'app', 'svc', 'sh', '-c', 'pwd; id -un']);
    assert.equal(where.stdout, '/tmp\napp\n', where.stderr);
  });

  test('a service with a build section is built when its image is missing', () => {
    const r = stack(['run', '--rm', 'tool']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'built tool\n');
    assert.match(r.stderr, /tool \[stage-0 1\/2\] FROM base:1/);
    const id = ImageStore.open(paths).resolve(`${PROJECT}-tool`).id;
    // present now: used as it is, unless --build asks for a build (all cached here)
    const again = stack(['run', '--rm', 'tool']);
    assert.equal(again.stdout, 'built tool\n');
    assert.equal(again.stderr, '');
    const rebuilt = stack(['run', '--rm', '--build', 'tool']);
    assert.match(rebuilt.stderr, /\(cached\)/);
    assert.equal(ImageStore.open(paths).resolve(`${PROJECT}-tool`).id, id);
  });

  test('dependencies are brought up first; other services by name; the one-off by its own name only', async () => {
    const r = stack(['run', '--rm', 'svc', 'sh', '-c', 'ping -c 1 -W 3 db >/dev/null && echo reached']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'reached\n');
    assert.match(r.stderr, new RegExp(`Container ${PROJECT}-db-1 {2}Started`));
    const db = { record: services.factory.containers.record(`${PROJECT}-db-1`) };
    const again = stack(['run', '--rm', 'svc', 'true']);
    assert.match(again.stderr, new RegExp(`Container ${PROJECT}-db-1 {2}Running`), 'db was not left as it ran');

    const detached = stack(['run', '-d', '-l', 'team=infra', 'svc', 'sleep', '60']);
    assert.equal(detached.code, 0, detached.stderr);
    const name = detached.stdout.trim();
    assert.match(name, new RegExp(`^${PROJECT}-svc-run-[0-9a-f]{12}$`));
    const rec = services.factory.containers.record(name);
    assert.equal(rec.labels.team, 'infra');
    assert.equal(rec.labels['com.docker.compose.oneoff'], 'True');
    assert.match(rec.labels['com.docker.compose.slug']!, new RegExp(`^${name.slice(-12)}[0-9a-f]{52}$`));
    assert.equal(rec.labels['com.docker.compose.container-number'], undefined);
    assert.equal(await services.factory.containers.status(name), 'running');
    const byName = await services.factory.containers.exec(db.record.id, { args: ['sh', '-c', `nslookup ${name} >/dev/null && echo found; nslookup svc >/dev/null || echo not-svc`] });
    assert.equal(byName.stdout, 'found\nnot-svc');

    // a name in use is refused before anything is touched: the running one keeps its network
    const clash = stack(['run', '--rm', '--name', name, 'svc', 'true']);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, new RegExp(`error: container ${name} already exists`));
    const still = await services.factory.containers.exec(db.record.id, { args: ['sh', '-c', `ping -c 1 -W 3 ${name} >/dev/null && echo reached`] });
    assert.equal(still.stdout, 'reached');
    await services.remove(name, { volumes: true });
  });

  test('--rm leaves no container, volume, sandbox, veth, rule, mount or process', async () => {
    const port = await freePort();
    const before_ = await baseline();
    const name = `${PROJECT}-leak`;
    const run = startStack(['run', '--rm', '--name', name, '-p', `127.0.0.1:${port}:80`, 'vol', 'sh', '-c', 'touch /anon/x && ip -4 -o addr show eth0 | grep -q inet && echo ready; read line; echo "got $line"']);
    await run.waitFor('ready\n');
    // everything was there while it ran
    const during = leftovers();
    assert.ok(during.containers.includes(name));
    assert.equal(during.volumes.length, before_.volumes.length + 1);
    assert.ok(during.sandboxes.includes(name));
    assert.equal(during.veths.length, before_.veths.length + 1);
    assert.ok(during.rules.some((l) => l.includes(name) && l.includes(`dport ${port}`)), during.rules.join('\n'));
    assert.ok(during.mounts.length > before_.mounts.length);
    run.child.stdin.end('bye\n');
    const done = await run.exited;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, 'ready\ngot bye\n');
    assert.deepEqual(leftovers(), before_);
  });

  test('Ctrl-C is forwarded to the container; a second one kills it; a reader going away kills it; --rm cleans up after each', async () => {
    const before_ = await baseline();
    const trapped = startStack(['run', '--rm', 'svc', 'sh', '-c', 'trap "echo caught; exit 7" INT; echo ready; while :; do sleep 0.1; done']);
    await trapped.waitFor('ready\n');
    trapped.child.kill('SIGINT');
    const t = await trapped.exited;
    assert.equal(t.code, 7, t.stderr);
    assert.equal(t.stdout, 'ready\ncaught\n');

    // sleep as pid 1 ignores SIGINT: the second Ctrl-C kills it
    const deaf = startStack(['run', '--rm', 'svc', 'sh', '-c', 'echo ready; exec sleep 300']);
    await deaf.waitFor('ready\n');
    deaf.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(deaf.child.exitCode, null, 'the first SIGINT is only forwarded');
    deaf.child.kill('SIGINT');
    const d = await deaf.exited;
    assert.equal(d.code, 137, d.stderr);

    // `stack run svc yes | head -1`: our stdout breaks, the container must not write forever
    const endless = startStack(['run', '--rm', '--no-deps', 'svc', 'yes']);
    await endless.waitFor('y\n');
    endless.child.stdout.destroy();
    const e = await endless.exited;
    assert.equal(e.code, 137, e.stderr);
    assert.doesNotMatch(e.stderr, /EPIPE|at .*\.js/);
    assert.deepEqual(leftovers(), before_);
  });
});
