/**
 * Interop with docker itself: an image built by stack loads and runs in docker, and an image
 * docker saves loads into stack and runs under our runtime. Needs a docker daemon; skipped
 * with the reason printed where none answers (docker.io is a test oracle, not a dependency).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Builder } from '../engine/image/build/builder.js';
import { ImageStore } from '../engine/image/store/image-store.js';
import { ContainerFactory } from '../engine/runtime/container-factory.js';
import { loadProject } from '../engine/index.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { prepareHostForCrun } from './support/host.js';

const docker = spawnSync('docker', ['info'], { stdio: 'ignore' });
const skip = docker.error ? 'docker is not installed' : docker.status !== 0 ? 'no docker daemon answers' : false;
if (skip) console.log(`# image-docker: skipped: ${skip}`);

const TAG = `stack-interop-${process.pid}`;
let dir: string;
let store: ImageStore;

before(() => {
  if (skip) return;
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-docker-'));
  store = new ImageStore(path.join(dir, 'state/images'));
});

after(() => {
  if (skip) return;
  spawnSync('docker', ['rmi', '-f', `${TAG}:built`, `${TAG}:base`, `${TAG}:docker`], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

describe('docker interop', { skip }, () => {
  test('built by stack, saved as docker-archive: docker loads and runs it', async () => {
    const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
    execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
    await store.importRootfs(path.join(dir, 'rootfs.tar'), `${TAG}:base`);
    const ctx = path.join(dir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${TAG}:base\nRUN echo built-by-stack > /msg && rm /var/data/seed.txt\nUSER app\nCMD ["sh", "-c", "cat /msg; id -u; ls /var/data | wc -l"]\n`);
    const builder = new Builder(store, { stateDir: path.join(dir, 'state'), runDir: path.join(dir, 'run') });
    await builder.build({ context: ctx, tags: [`${TAG}:built`] });
    const archive = path.join(dir, 'built.tar');
    await store.save([`${TAG}:built`], archive, 'docker-archive');
    execFileSync('docker', ['load', '-i', archive], { stdio: 'ignore' });
    const out = execFileSync('docker', ['run', '--rm', '--network', 'none', `${TAG}:built`], { encoding: 'utf8' });
    assert.equal(out, 'built-by-stack\n1000\n0\n', 'docker sees the RUN layer, the whiteout and USER');
  });

  test('saved by docker: stack loads it and runs it under its own runtime', async () => {
    execFileSync('docker', ['tag', `${TAG}:built`, `${TAG}:docker`]);
    const archive = path.join(dir, 'from-docker.tar');
    execFileSync('docker', ['save', '-o', archive, `${TAG}:docker`]);
    const [img] = await store.load(archive);
    assert.ok(img);
    assert.ok(img.names.some((n) => n.endsWith(`${TAG}:docker`)), img.names.join(','));
    const paths = { stateDir: path.join(dir, 'state'), runDir: path.join(dir, 'run') };
    const proj = path.join(dir, 'proj');
    mkdirSync(proj);
    writeFileSync(path.join(proj, 'compose.yaml'), `services:\n  t:\n    image: ${TAG}:docker\n`);
    const { project } = loadProject({ cwd: proj, env: {} });
    const factory = new ContainerFactory(paths);
    const { record } = await factory.create({ project, service: project.services.t!, image: store.runtimeImage(img), number: 1, network: { kind: 'none' } });
    try {
      await factory.containers.start(record.id);
      const status = await factory.containers.wait(record.id);
      assert.equal(status?.code, 0);
      assert.deepEqual(factory.containers.logs(record.id).map((l) => l.text), ['built-by-stack', '1000', '0']);
    } finally {
      await factory.containers.remove(record.id, { force: true });
      factory.cgroups.removeProject(project.name);
    }
  });
});
