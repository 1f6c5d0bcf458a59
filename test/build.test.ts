/**
 * Dockerfiles built for real: RUN steps run in containers on the host's kernel, layers land
 * in the store, and the result is read back through an overlay mount of the image's layers,
 * the way a container would see it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import { Builder, type BuildEvent, type BuildRequest } from '../engine/image/build/builder.js';
import { ImageStore, type StoredImage } from '../engine/image/store/image-store.js';
import type { EnginePaths } from '../engine/runtime/paths.js';
import { mountOverlay, readMountinfo, unmount } from '../engine/sys/mounts.js';
import { makeBusyboxRootfs } from './support/busybox-rootfs.js';
import { prepareHostForCrun } from './support/host.js';
import { gunzipSync, gzipSync } from 'node:zlib';

let dir: string;
let paths: EnginePaths;
let store: ImageStore;
let builder: Builder;

before(async () => {
  prepareHostForCrun();
  dir = mkdtempSync(path.join(tmpdir(), 'stack-build-'));
  paths = { stateDir: path.join(dir, 'state'), runDir: path.join(dir, 'run') };
  store = new ImageStore(path.join(paths.stateDir, 'images'));
  builder = new Builder(store, paths);
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  const tar = path.join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
  await store.importRootfs(tar, 'busybox:test');
});

after(() => {
  // nothing the builds made may stay mounted
  const left = readMountinfo().split('\n').filter((l) => l.includes(dir));
  for (const l of left) unmount(l.split(' ')[4]!);
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(left, [], 'mounts left behind by the builds');
});

function project(files: Record<string, string>): string {
  const ctx = mkdtempSync(path.join(dir, 'ctx-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(ctx, name)), { recursive: true });
    writeFileSync(path.join(ctx, name), content);
  }
  return ctx;
}

async function build(context: string, extra: Partial<BuildRequest> = {}): Promise<{ image: StoredImage; cached: number; steps: number; events: BuildEvent[] }> {
  const events: BuildEvent[] = [];
  const r = await builder.build({ context, onEvent: (e) => events.push(e), ...extra });
  return { ...r, events };
}

/** The image's filesystem as a container sees it: an overlay of its layers. */
function withRootfs<T>(image: StoredImage, fn: (root: string) => T): T {
  const target = mkdtempSync(path.join(dir, 'view-'));
  const layers = store.runtimeImage(image).layers;
  const lower = layers.length === 1 ? [...layers, mkdtempSync(path.join(dir, 'empty-'))] : layers;
  mountOverlay({ lower, target });
  try {
    return fn(target);
  } finally {
    unmount(target);
  }
}

describe('build', () => {
  test('instructions: ENV, WORKDIR, COPY, RUN (deletes become whiteouts), CMD, metadata', async () => {
    const ctx = project({
      Dockerfile: `
ARG BASE=busybox:test
FROM \${BASE}
ENV GREETING=hello
WORKDIR /app
COPY files/ ./
COPY --chmod=0700 run.sh /usr/local/bin/
RUN echo "$GREETING from run" > /app/run.txt && rm /var/data/seed.txt && id -u > /app/uid
USER app
RUN id -u > /tmp/uid-as-app
EXPOSE 8080 53/udp
LABEL org.example.name="the app"
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["serve"]
`,
      'files/a.txt': 'A\n',
      'files/sub/b.txt': 'B\n',
      'run.sh': '#!/bin/sh\necho run\n',
    });
    const { image, steps, cached } = await build(ctx, { tags: ['app:1'] });
    assert.equal(cached, 0, 'nothing is cached on a cold build');
    assert.equal(steps, 13);
    const c = image.config.config;
    assert.ok(c.Env?.includes('GREETING=hello'));
    assert.equal(c.WorkingDir, '/app');
    assert.equal(c.User, 'app');
    assert.deepEqual(c.Entrypoint, ['/usr/local/bin/run.sh']);
    assert.deepEqual(c.Cmd, ['serve']);
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), ['53/udp', '8080/tcp']);
    assert.equal(c.Labels?.['org.example.name'], 'the app');
    assert.equal(c.StopSignal, 'SIGINT');
    assert.deepEqual(c.Healthcheck, { Test: ['CMD', 'true'], Interval: 5_000_000_000, Retries: 2 });
    assert.deepEqual(store.resolve('app:1').id, image.id);
    // one layer for the base, then WORKDIR, two COPYs and two RUNs
    assert.equal(image.layers.length, 6);
    assert.equal(image.config.history?.filter((h) => !h.empty_layer).length, 6);
    withRootfs(image, (root) => {
      assert.equal(readFileSync(path.join(root, 'app/a.txt'), 'utf8'), 'A\n');
      assert.equal(readFileSync(path.join(root, 'app/sub/b.txt'), 'utf8'), 'B\n');
      assert.equal(readFileSync(path.join(root, 'app/run.txt'), 'utf8'), 'hello from run\n');
      assert.equal(readFileSync(path.join(root, 'app/uid'), 'utf8'), '0\n');
      assert.equal(readFileSync(path.join(root, 'tmp/uid-as-app'), 'utf8'), '1000\n');
      assert.equal(existsSync(path.join(root, 'var/data/seed.txt')), false, 'the deleted file is hidden by a whiteout');
      const st = statSync(path.join(root, 'app/a.txt'));
      assert.deepEqual([st.uid, st.gid], [0, 0], 'COPY makes files root-owned');
      assert.equal(statSync(path.join(root, 'usr/local/bin/run.sh')).mode & 0o7777, 0o700);
      // the runtime's mount points did not become part of a layer
      for (const layer of image.layers.slice(1)) {
        assert.equal(existsSync(path.join(layer.dir, 'etc/hosts')), false, `${layer.dir} holds /etc/hosts`);
      }
    });
  });

  test('cache: a rebuild with no change reuses every step and gives the same image', async () => {
    const ctx = project({
      Dockerfile: 'FROM busybox:test\nARG V=1\nCOPY a.txt /a.txt\nRUN echo $V > /v.txt\nCOPY b.txt /b.txt\nRUN cat /a.txt /b.txt > /ab.txt\n',
      'a.txt': 'a1\n',
      'b.txt': 'b1\n',
    });
    const first = await build(ctx);
    const again = await build(ctx);
    assert.equal(again.cached, again.steps, 'every step cached');
    assert.equal(again.image.id, first.image.id);
    // a change in b.txt rebuilds from its COPY on, not before
    writeFileSync(path.join(ctx, 'b.txt'), 'b2\n');
    const changed = await build(ctx);
    const cachedSteps = changed.events.filter((e) => e.type === 'step' && e.cached).map((e) => (e as { text: string }).text);
    assert.deepEqual(cachedSteps, ['ARG V=1', 'COPY a.txt /a.txt', 'RUN echo $V > /v.txt']);
    withRootfs(changed.image, (root) => assert.equal(readFileSync(path.join(root, 'ab.txt'), 'utf8'), 'a1\nb2\n'));
    // a build arg reaches RUN and is part of its key
    const withArg = await build(ctx, { buildArgs: { V: '2' } });
    withRootfs(withArg.image, (root) => assert.equal(readFileSync(path.join(root, 'v.txt'), 'utf8'), '2\n'));
    assert.notEqual(withArg.image.id, changed.image.id);
    // --no-cache runs everything again
    const fresh = await build(ctx, { noCache: true });
    assert.equal(fresh.events.some((e) => e.type === 'step' && e.cached && e.text.startsWith('RUN')), false);
  });

  test('multi-stage: COPY --from a stage, target selection, unused stages not built', async () => {
    const ctx = project({
      Dockerfile: `
FROM busybox:test AS builder
RUN mkdir /out && echo built > /out/artifact
FROM busybox:test AS unused
RUN exit 1
FROM scratch AS final
COPY --from=builder /out/artifact /artifact
FROM busybox:test AS other
RUN echo other > /other
`,
    });
    const { image } = await build(ctx, { target: 'final' });
    assert.equal(image.layers.length, 1);
    const files = readdirSync(image.layers[0]!.dir);
    assert.deepEqual(files, ['artifact']);
    assert.equal(readFileSync(path.join(image.layers[0]!.dir, 'artifact'), 'utf8'), 'built\n');
  });

  test('a failing RUN names the instruction and its line, and leaves nothing behind', async () => {
    const ctx = project({ Dockerfile: 'FROM busybox:test\n\nRUN echo about to fail && exit 3\n' });
    await assert.rejects(build(ctx), (e: unknown) => {
      assert.ok(e instanceof StackError);
      assert.match(e.message, /exited with code 3/);
      assert.equal(e.location?.line, 3);
      assert.match(e.hint ?? '', /about to fail/);
      return true;
    });
    assert.deepEqual(readdirSync(path.join(paths.stateDir, 'containers')), [], 'the step container was removed');
  });

  test('COPY sources cannot leave the context: .., absolute paths and symlinks stay inside', async () => {
    const outside = path.join(dir, 'secret.txt');
    writeFileSync(outside, 'secret\n');
    const ctx = project({ Dockerfile: 'FROM busybox:test\nCOPY ../secret.txt /x\n' });
    await assert.rejects(build(ctx), /not found in the build context/);
    writeFileSync(path.join(ctx, 'Dockerfile'), `FROM busybox:test\nCOPY ${outside} /x\n`);
    await assert.rejects(build(ctx), /not found in the build context/);
    symlinkSync(outside, path.join(ctx, 'link'));
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox:test\nCOPY link /x\n');
    await assert.rejects(build(ctx), /not found in the build context/);
    // a symlink copied as part of a directory stays a symlink, never followed
    mkdirSync(path.join(ctx, 'd'));
    symlinkSync(outside, path.join(ctx, 'd/inner'));
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox:test\nCOPY d /d\n');
    const { image } = await build(ctx);
    withRootfs(image, (root) => assert.ok(lstatSync(path.join(root, 'd/inner')).isSymbolicLink()));
  });

  test('COPY into an image symlink that points at / stays inside the image', async () => {
    const ctx = project({ Dockerfile: 'FROM busybox:test\nRUN ln -s / /escape\nCOPY f.txt /escape/etc/landed.txt\n', 'f.txt': 'in\n' });
    const { image } = await build(ctx);
    withRootfs(image, (root) => assert.equal(readFileSync(path.join(root, 'etc/landed.txt'), 'utf8'), 'in\n'));
    assert.equal(existsSync('/etc/landed.txt'), false);
  });

  test('.dockerignore hides files from COPY and from the cache key', async () => {
    const ctx = project({ Dockerfile: 'FROM busybox:test\nCOPY . /src\n', '.dockerignore': '*.log\n!keep.log\n', 'app.js': 'x\n', 'debug.log': 'noise\n', 'keep.log': 'keep\n' });
    const first = await build(ctx);
    withRootfs(first.image, (root) => assert.deepEqual(readdirSync(path.join(root, 'src')).sort(), ['.dockerignore', 'Dockerfile', 'app.js', 'keep.log']));
    writeFileSync(path.join(ctx, 'debug.log'), 'more noise\n');
    const again = await build(ctx);
    assert.equal(again.cached, again.steps, 'an ignored file does not invalidate the cache');
  });

  test('ADD unpacks a local tar (plain, gzip, bzip2, xz); heredocs work for RUN and COPY', async () => {
    const ctx = project({
      Dockerfile:
        'FROM busybox:test\nADD bundle.tar /opt/\nADD zipped.tgz /zipped/\nADD notes.gz /plain/\nADD b.tbz2 /bz/\nADD x.txz /xz/\nADD notes.xz /plain/\nRUN <<EOF\necho from heredoc > /h.txt\nEOF\nCOPY <<EOT /etc/motd\nhi there\nEOT\n',
    });
    const src = mkdtempSync(path.join(dir, 'tarsrc-'));
    writeFileSync(path.join(src, 'inside.txt'), 'packed\n');
    execFileSync('tar', ['-C', src, '-cf', path.join(ctx, 'bundle.tar'), 'inside.txt']);
    execFileSync('tar', ['-C', src, '-czf', path.join(ctx, 'zipped.tgz'), 'inside.txt']);
    execFileSync('tar', ['-C', src, '-cjf', path.join(ctx, 'b.tbz2'), 'inside.txt']);
    execFileSync('tar', ['-C', src, '-cJf', path.join(ctx, 'x.txz'), 'inside.txt']);
    // a compressed file that holds no tar is a file like any other, copied as it is (docker's rule)
    writeFileSync(path.join(ctx, 'notes.gz'), gzipSync('just notes\n'));
    writeFileSync(path.join(ctx, 'notes'), 'xz notes\n');
    execFileSync('xz', ['-z', path.join(ctx, 'notes')]);
    const { image } = await build(ctx);
    withRootfs(image, (root) => {
      assert.equal(readFileSync(path.join(root, 'opt/inside.txt'), 'utf8'), 'packed\n');
      assert.equal(readFileSync(path.join(root, 'zipped/inside.txt'), 'utf8'), 'packed\n');
      assert.equal(gunzipSync(readFileSync(path.join(root, 'plain/notes.gz'))).toString(), 'just notes\n');
      assert.equal(readFileSync(path.join(root, 'bz/inside.txt'), 'utf8'), 'packed\n');
      assert.equal(readFileSync(path.join(root, 'xz/inside.txt'), 'utf8'), 'packed\n');
      assert.equal(execFileSync('xz', ['-dc', path.join(root, 'plain/notes.xz')]).toString(), 'xz notes\n');
      assert.equal(readFileSync(path.join(root, 'h.txt'), 'utf8'), 'from heredoc\n');
      assert.equal(readFileSync(path.join(root, 'etc/motd'), 'utf8'), 'hi there\n');
    });
  });

  test('COPY of a file and a heredoc is a copy of several sources: into a directory, which the destination must name', async () => {
    const ctx = project({ Dockerfile: 'FROM busybox:test\nCOPY a.txt <<extra.txt /both/\nfrom the heredoc\nextra.txt\n', 'a.txt': 'from a file\n' });
    const { image } = await build(ctx);
    withRootfs(image, (root) => {
      assert.equal(readFileSync(path.join(root, 'both/a.txt'), 'utf8'), 'from a file\n');
      assert.equal(readFileSync(path.join(root, 'both/extra.txt'), 'utf8'), 'from the heredoc\n');
    });
    const bad = project({ Dockerfile: 'FROM busybox:test\nCOPY a.txt <<extra.txt /both\nfrom the heredoc\nextra.txt\n', 'a.txt': 'x\n' });
    await assert.rejects(build(bad), (e: unknown) => e instanceof StackError && e.location?.line === 2);
  });

  test('a missing base image that cannot be pulled is a clear error at the FROM line', async () => {
    // a loopback port nothing listens on: tests send packets to loopback only
    const ctx = project({ Dockerfile: '# base\nFROM 127.0.0.1:1/nosuch/image:1\n' });
    await assert.rejects(build(ctx), (e: unknown) => {
      assert.ok(e instanceof StackError);
      assert.match(e.message, /nosuch\/image:1 is not in the local image store, and pulling it failed: cannot reach registry 127\.0\.0\.1:1: connection refused/);
      assert.equal(e.location?.line, 2);
      return true;
    });
  });
});
