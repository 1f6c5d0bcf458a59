import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import { ImageStore, type ImageConfigFile, type StoredImage } from '../engine/image/store/image-store.js';
import { familiarName, formatReference, normalizeName, parseReference } from '../engine/image/store/reference.js';
import { filesUnder, tinyRootfsTar } from './support/image-fixtures.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-images-'));
after(() => rmSync(base, { recursive: true, force: true }));

function freshStore(): { store: ImageStore; root: string; dir: string } {
  const dir = mkdtempSync(path.join(base, 'case-'));
  const root = path.join(dir, 'images');
  return { store: new ImageStore(root), root, dir };
}

/** An overlay-format upper dir as a build step leaves it, on the store's filesystem. */
/** A layer tree with fixed times: the same files make the same layer whenever they are written. */
function upperDir(dir: string, files: Record<string, string>): string {
  const upper = mkdtempSync(path.join(dir, 'upper-'));
  const paths = new Set<string>();
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(upper, rel)), { recursive: true });
    writeFileSync(path.join(upper, rel), content);
    for (let p = rel; p !== '.'; p = path.dirname(p)) paths.add(p);
  }
  // deepest first, so a file's time is set before its directory's
  for (const rel of [...paths].sort((a, b) => b.split('/').length - a.split('/').length)) utimesSync(path.join(upper, rel), FIXED_TIME, FIXED_TIME);
  return upper;
}

const FIXED_TIME = new Date('2024-01-01T00:00:00Z');

function childConfig(parent: StoredImage, diffIds: string[], extra: Partial<ImageConfigFile['config']> = {}): ImageConfigFile {
  return {
    ...parent.config,
    config: { ...parent.config.config, ...extra },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [...(parent.config.history ?? []), { created_by: 'RUN build step' }],
  };
}

const isStackError = (kind: string, message: RegExp) => (e: unknown) => e instanceof StackError && e.kind === kind && message.test(e.message);

describe('image references', () => {
  test('normalize the way docker does', () => {
    const table: Array<[string, string]> = [
      ['busybox', 'docker.io/library/busybox:latest'],
      ['busybox:1.36', 'docker.io/library/busybox:1.36'],
      ['library/busybox', 'docker.io/library/busybox:latest'],
      ['docker.io/busybox', 'docker.io/library/busybox:latest'],
      ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
      ['user/app', 'docker.io/user/app:latest'],
      ['user/app/sub:v_1.2-x', 'docker.io/user/app/sub:v_1.2-x'],
      ['localhost/app', 'localhost/app:latest'],
      ['localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
      ['quay.io/org/img:v1.2', 'quay.io/org/img:v1.2'],
      ['127.0.0.1:5000/x:y', '127.0.0.1:5000/x:y'],
      ['[::1]:5000/x', '[::1]:5000/x:latest'],
      ['my-registry/a__b/c--d', 'docker.io/my-registry/a__b/c--d:latest'],
      // an uppercase first component can only be a host
      ['Registry/app', 'Registry/app:latest'],
    ];
    for (const [input, want] of table) assert.equal(normalizeName(input), want, input);
  });

  test('digests, familiar names, round trips', () => {
    const hex = 'a'.repeat(64);
    assert.deepEqual(parseReference(`busybox@sha256:${hex}`), { repository: 'docker.io/library/busybox', digest: `sha256:${hex}` });
    assert.deepEqual(parseReference(`ghcr.io/o/i:1@sha256:${hex.toUpperCase()}`), { repository: 'ghcr.io/o/i', tag: '1', digest: `sha256:${hex}` });
    assert.equal(formatReference(parseReference(`localhost:5000/a:t@sha256:${hex}`)), `localhost:5000/a:t@sha256:${hex}`);
    const familiar: Array<[string, string]> = [
      ['docker.io/library/busybox:latest', 'busybox:latest'],
      ['docker.io/user/app:1', 'user/app:1'],
      ['docker.io/library/a/b:c', 'library/a/b:c'],
      ['localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
      [`docker.io/library/busybox@sha256:${hex}`, `busybox@sha256:${hex}`],
    ];
    for (const [input, want] of familiar) assert.equal(familiarName(input), want, input);
  });

  test('invalid references say what is wrong and how to write it', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /image reference is empty/],
      ['Busybox', /repository name "library\/Busybox" must be lowercase/],
      ['busybox:', /invalid tag ""/],
      ['busybox:-x', /invalid tag "-x"/],
      [`busybox:${'t'.repeat(129)}`, /invalid tag/],
      ['a//b', /invalid repository name "a\/\/b"/],
      ['exa mple', /invalid repository name/],
      ['busybox@sha256:abc', /invalid digest "sha256:abc"/],
      ['-bad.io:x/y', /invalid registry "-bad.io:x"/],
      ['a'.repeat(64), /64-character hexadecimal string is an image id/],
      [`x/${'a'.repeat(250)}`, /longer than 255 characters/],
    ];
    for (const [input, message] of bad) {
      assert.throws(
        () => normalizeName(input),
        (e: unknown) => e instanceof StackError && e.kind === 'invalid' && message.test(e.message) && (e.hint ?? '').length > 0,
        `${JSON.stringify(input)} should fail with ${message}`,
      );
    }
    assert.throws(() => parseReference(`busybox@sha512:${'a'.repeat(128)}`), isStackError('unsupported', /sha512.* not supported/));
    assert.throws(() => normalizeName(`busybox@sha256:${'a'.repeat(64)}`), /contains a digest/);
  });
});

describe('image store', () => {
  test('import: a one-layer image found by name, id, and id prefix; a valid OCI layout on disk', async () => {
    const { store, root, dir } = freshStore();
    const tar = tinyRootfsTar(dir);
    const img = await store.importRootfs(tar, 'tiny:1', { changes: { Cmd: ['/bin/hello'], Env: ['A=1'] }, message: 'from a test' });
    assert.match(img.id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(img.names, ['docker.io/library/tiny:1']);
    assert.equal(img.config.os, 'linux');
    assert.equal(img.config.architecture, { x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch);
    assert.deepEqual(img.config.config, { Cmd: ['/bin/hello'], Env: ['A=1'] });
    assert.equal(img.config.history?.[0]?.comment, 'from a test');
    assert.equal(img.layers.length, 1);
    // the tar went in unchanged: its digest is the blob's and the diffID
    const tarDigest = `sha256:${createHash('sha256').update(readFileSync(tar)).digest('hex')}`;
    assert.equal(img.layers[0]!.digest, tarDigest);
    assert.equal(img.layers[0]!.diffId, tarDigest);
    assert.equal(img.size, statSync(tar).size);
    assert.equal(readFileSync(path.join(img.layers[0]!.dir, 'etc/os-release'), 'utf8'), 'NAME=tiny\n');

    const hex = img.id.slice(7);
    for (const ref of ['tiny:1', 'docker.io/library/tiny:1', 'library/tiny:1', img.id, hex, hex.slice(0, 3), `sha256:${hex.slice(0, 12)}`]) {
      assert.equal(store.resolve(ref).id, img.id, ref);
    }
    assert.equal(store.resolve(`tiny@${img.manifestDigest}`).id, img.id);
    assert.equal(store.find('tiny'), undefined, 'tiny means tiny:latest');
    assert.equal(store.find(`other@${img.manifestDigest}`), undefined, 'a digest counts only for a repository the image carries');
    assert.throws(() => store.resolve('nope:1'), (e: unknown) => e instanceof StackError && e.kind === 'not-found' && /stack images/.test(e.hint ?? ''));
    assert.deepEqual(store.list().map((i) => i.id), [img.id]);
    assert.deepEqual(store.runtimeImage(img), { layers: [img.layers[0]!.dir], config: img.config.config });

    const layout = path.join(root, 'oci');
    assert.deepEqual(JSON.parse(readFileSync(path.join(layout, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8'));
    assert.deepEqual(index.manifests, [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: img.manifestDigest,
        size: statSync(path.join(layout, 'blobs/sha256', img.manifestDigest.slice(7))).size,
        annotations: { 'io.containerd.image.name': 'docker.io/library/tiny:1', 'org.opencontainers.image.ref.name': '1' },
      },
    ]);
    // every blob is named by its content
    for (const f of readdirSync(path.join(layout, 'blobs/sha256'))) {
      assert.equal(createHash('sha256').update(readFileSync(path.join(layout, 'blobs/sha256', f))).digest('hex'), f);
    }
    assert.deepEqual(readdirSync(path.join(root, 'tmp')), [], 'nothing left in tmp');
  });

  test('an ambiguous id prefix is refused', async () => {
    const { store, dir } = freshStore();
    const tiny = await store.importRootfs(tinyRootfsTar(dir));
    const byPrefix = new Map<string, string>();
    let clash: [string, string] | undefined;
    for (let i = 0; !clash; i++) {
      const img = await store.commit(childConfig(tiny, [tiny.layers[0]!.diffId], { Labels: { n: String(i) } }), tiny.layers);
      const prefix = img.id.slice(7, 10);
      const other = byPrefix.get(prefix);
      if (other) clash = [other, img.id];
      byPrefix.set(prefix, img.id);
    }
    const prefix = clash[0].slice(7, 10);
    assert.throws(() => store.resolve(prefix), /id prefix "[0-9a-f]{3}" is ambiguous: it matches/);
    assert.equal(store.resolve(clash[0].slice(7, 20)).id, clash[0]);
  });

  test('a second image shares the base layer: stored once, runtime dirs topmost first', async () => {
    const { store, root, dir } = freshStore();
    const baseImg = await store.importRootfs(tinyRootfsTar(dir), 'base');
    const upper = upperDir(dir, { 'app/run.sh': 'echo app\n', 'etc/hostname': 'app\n' });
    const layer = await store.addLayerFromDir(upper);
    assert.ok(!existsSync(upper), 'the upper dir is moved into the store');
    assert.equal(readFileSync(path.join(layer.dir, 'app/run.sh'), 'utf8'), 'echo app\n');
    assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.deepEqual(store.layer(layer.diffId), layer);
    // the same content again: the dir is dropped, the stored layer returned
    const again = upperDir(dir, { 'app/run.sh': 'echo app\n', 'etc/hostname': 'app\n' });
    const same = await store.addLayerFromDir(again);
    assert.equal(same.diffId, layer.diffId);
    assert.equal(same.dir, layer.dir);
    assert.ok(!existsSync(again));

    const app = await store.commit(childConfig(baseImg, [baseImg.layers[0]!.diffId, layer.diffId], { Cmd: ['/app/run.sh'] }), [baseImg.layers[0]!, layer], ['app:1', 'app:latest']);
    assert.deepEqual(app.names, ['docker.io/library/app:1', 'docker.io/library/app:latest']);
    assert.equal(app.layers[0]!.dir, baseImg.layers[0]!.dir);
    assert.equal(readdirSync(path.join(root, 'layers')).length, 2, 'two distinct layers stored');
    assert.deepEqual(store.runtimeImage(app), { layers: [layer.dir, baseImg.layers[0]!.dir], config: { Cmd: ['/app/run.sh'] } });
    assert.equal(store.list().length, 2);
    // one index entry per name
    const index = JSON.parse(readFileSync(path.join(root, 'oci/index.json'), 'utf8'));
    assert.equal(index.manifests.filter((d: { digest: string }) => d.digest === app.manifestDigest).length, 2);
    // committing the same config again gives the same image, not a second one
    const twice = await store.commit(app.config, app.layers, ['app:again']);
    assert.equal(twice.manifestDigest, app.manifestDigest);
    assert.equal(store.list().length, 2);
    await assert.rejects(store.commit(app.config, [layer, baseImg.layers[0]!]), /rootfs.diff_ids must list the layers/);
  });

  test('runtime dirs stack as overlay lowerdirs, topmost first: the top layer\'s files and whiteouts win, also after a save/load', async () => {
    const { store, dir } = freshStore();
    const baseImg = await store.importRootfs(tinyRootfsTar(dir), 'base');
    const upper = upperDir(dir, { 'etc/os-release': 'NAME=child\n' });
    // overlayfs marks a deleted file with a 0/0 character device
    execFileSync('mknod', [path.join(upper, 'etc/hostname'), 'c', '0', '0']);
    const layer = await store.addLayerFromDir(upper);
    const child = await store.commit(childConfig(baseImg, [baseImg.layers[0]!.diffId, layer.diffId]), [baseImg.layers[0]!, layer], ['child']);
    const archive = path.join(dir, 'child.tar');
    await store.save(['child'], archive, 'docker-archive');
    const other = new ImageStore(path.join(dir, 'other'));
    await other.load(archive);
    for (const s of [store, other]) {
      const rt = s.runtimeImage(s.resolve('child'));
      assert.equal(rt.layers.length, 2);
      const mnt = mkdtempSync(path.join(dir, 'mnt-'));
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rt.layers.join(':')}`, mnt]);
      try {
        assert.equal(readFileSync(path.join(mnt, 'etc/os-release'), 'utf8'), 'NAME=child\n');
        assert.ok(!existsSync(path.join(mnt, 'etc/hostname')), 'the whiteout hides the base file');
        assert.equal(readFileSync(path.join(mnt, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hello\n');
      } finally {
        execFileSync('umount', [mnt]);
      }
    }
    assert.equal(other.resolve('child').id, child.id);
  });

  const otherFs = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(base).dev;
  test('a build dir on another filesystem is extracted from its blob instead of moved', { skip: otherFs ? false : 'no second filesystem (/dev/shm) here' }, async () => {
    const { store } = freshStore();
    const upper = mkdtempSync('/dev/shm/stack-upper-');
    try {
      writeFileSync(path.join(upper, 'far.txt'), 'far\n');
      const layer = await store.addLayerFromDir(upper);
      assert.ok(!existsSync(upper));
      assert.equal(readFileSync(path.join(layer.dir, 'far.txt'), 'utf8'), 'far\n');
      assert.equal(statSync(layer.dir).dev, statSync(store.root).dev);
      assert.deepEqual(store.layer(layer.diffId), layer);
    } finally {
      rmSync(upper, { recursive: true, force: true });
    }
  });

  test('tag, untag, remove: conflicts, in-use images, force', async () => {
    const { store, dir } = freshStore();
    const one = await store.importRootfs(tinyRootfsTar(dir, 'one'), 'one');
    const layer = await store.addLayerFromDir(upperDir(dir, { 'two.txt': '2\n' }));
    const two = await store.commit(childConfig(one, [one.layers[0]!.diffId, layer.diffId]), [one.layers[0]!, layer], ['two']);

    await store.tag('one', 'alias:1');
    await store.tag(one.id, 'localhost:5000/one:x');
    assert.deepEqual(store.resolve('one').names, ['docker.io/library/one:latest', 'docker.io/library/alias:1', 'localhost:5000/one:x']);
    await assert.rejects(store.tag('missing', 'x'), isStackError('not-found', /"missing" not found/));
    await assert.rejects(store.tag('one', 'bad name'), /invalid repository name/);

    // a name moves: two takes alias:1 away from one
    await store.tag('two', 'alias:1');
    assert.equal(store.resolve('alias:1').id, two.id);
    assert.ok(!store.resolve(one.id).names.includes('docker.io/library/alias:1'));

    // several names: by name untags only, by id is a conflict
    assert.deepEqual(await store.remove('localhost:5000/one:x'), { untagged: ['localhost:5000/one:x'], deleted: [] });
    await store.tag('one', 'one:extra');
    await assert.rejects(store.remove(one.id.slice(7, 19)), isStackError('conflict', /several names \(one:latest, one:extra\)/));

    // in use by a container: refused, and with force the names go but the content stays
    const inUse = (id: string) => (id === one.id ? 'web-1' : undefined);
    // another name remains: untagging never disturbs the container
    assert.deepEqual(await store.remove('one:extra', { inUse }), { untagged: ['docker.io/library/one:extra'], deleted: [] });
    await assert.rejects(store.remove('one', { inUse }), (e: unknown) => isStackError('conflict', /one:latest: it is being used by container web-1/)(e) && /stack rm -f web-1/.test((e as StackError).hint ?? ''));
    assert.deepEqual(await store.remove('one', { inUse, force: true }), { untagged: ['docker.io/library/one:latest'], deleted: [] });
    assert.deepEqual(store.resolve(one.id).names, [], 'kept, nameless, for the container');
    assert.ok(existsSync(one.layers[0]!.dir));

    // by id without names: deleted; its layer stays because two uses it
    assert.deepEqual(await store.remove(one.id), { untagged: [], deleted: [one.id] });
    assert.equal(store.find(one.id), undefined);
    assert.ok(existsSync(one.layers[0]!.dir));
    assert.ok(existsSync(path.join(store.root, 'oci/blobs/sha256', one.layers[0]!.digest.slice(7))));
    assert.ok(!existsSync(path.join(store.root, 'oci/blobs/sha256', one.manifestDigest.slice(7))));

    // force by id with several names: all names go, then the image and its now unused layers
    await store.tag('two', 'two:b');
    const gone = await store.remove(two.id, { force: true });
    assert.deepEqual(gone.untagged.sort(), ['docker.io/library/alias:1', 'docker.io/library/two:b', 'docker.io/library/two:latest']);
    assert.deepEqual(gone.deleted.sort(), [two.id, one.layers[0]!.diffId, layer.diffId].sort());
    assert.deepEqual(store.list(), []);
    assert.deepEqual(filesUnder(path.join(store.root, 'oci/blobs')), []);
    assert.deepEqual(readdirSync(path.join(store.root, 'layers')), []);
    await assert.rejects(store.remove('two'), isStackError('not-found', /"two" not found/));
  });

  test('prune removes dangling images, then collects every unreferenced blob and layer', async () => {
    const { store, root, dir } = freshStore();
    const kept = await store.importRootfs(tinyRootfsTar(dir, 'kept'), 'kept');
    const dangling = await store.importRootfs(tinyRootfsTar(dir, 'dangling'));
    const renamed = await store.importRootfs(tinyRootfsTar(dir, 'renamed'), 'moving');
    await store.tag('kept', 'moving'); // renamed loses its only name: dangling too
    const orphan = await store.addLayerFromDir(upperDir(dir, { 'orphan.txt': 'o\n' }));
    const cached = await store.addLayerFromDir(upperDir(dir, { 'cached.txt': 'c\n' }));
    // a dead process's half-written leftovers
    mkdirSync(path.join(root, 'tmp', '99999999-x1'), { recursive: true });
    writeFileSync(path.join(root, 'tmp', '99999999-x1', 'blob'), 'partial');

    const r = await store.prune({ keep: [cached.diffId] });
    assert.deepEqual(r.deleted.slice(0, 2).sort(), [dangling.id, renamed.id].sort());
    assert.ok(r.deleted.includes(orphan.diffId));
    assert.ok(!r.deleted.includes(cached.diffId));
    assert.ok(r.reclaimedBytes > 0);
    assert.deepEqual(store.list().map((i) => i.id), [kept.id]);
    assert.ok(store.layer(cached.diffId), 'kept for the build cache');
    assert.deepEqual(readdirSync(path.join(root, 'tmp')), []);

    // walk the dirs: every blob and layer left is one the remaining image or keep needs
    const wantBlobs = [kept.manifestDigest, kept.id, kept.layers[0]!.digest, cached.digest].map((d) => d.slice(7)).sort();
    assert.deepEqual(filesUnder(path.join(root, 'oci/blobs/sha256')), wantBlobs);
    assert.deepEqual(readdirSync(path.join(root, 'layers')).sort(), [kept.layers[0]!.diffId, cached.diffId].map((d) => d.slice(7)).sort());

    const all = await store.prune({ all: true });
    assert.deepEqual(all.deleted.sort(), [kept.id, kept.layers[0]!.diffId, cached.diffId].sort());
    assert.deepEqual(filesUnder(path.join(root, 'oci/blobs')), []);
    assert.deepEqual(readdirSync(path.join(root, 'layers')), []);
    assert.deepEqual(JSON.parse(readFileSync(path.join(root, 'oci/index.json'), 'utf8')).manifests, []);
  });

  test('digests are verified on read: a corrupt blob is named, not used', async () => {
    const { store, root, dir } = freshStore();
    const img = await store.importRootfs(tinyRootfsTar(dir), 'tiny');
    const corrupt = (digest: string) => {
      const file = path.join(root, 'oci/blobs/sha256', digest.slice(7));
      const data = readFileSync(file);
      data.writeUInt8(data.readUInt8(data.length - 2) ^ 0x01, data.length - 2);
      writeFileSync(file, data);
    };
    corrupt(img.layers[0]!.digest);
    assert.throws(() => store.readBlob(img.layers[0]!.digest), (e: unknown) =>
      isStackError('system', new RegExp(`blob ${img.layers[0]!.digest} in the image store is corrupt: its content hashes to sha256:`))(e) && /stack rmi --force/.test((e as StackError).hint ?? ''));
    await assert.rejects(store.save(['tiny'], path.join(dir, 'out.tar'), 'oci-archive'), /corrupt/);
    assert.ok(!existsSync(path.join(dir, 'out.tar')), 'no half-written archive');

    corrupt(img.id);
    assert.throws(() => store.resolve('tiny'), new RegExp(`blob ${img.id} in the image store is corrupt`));
    rmSync(path.join(root, 'oci/blobs/sha256', img.id.slice(7)));
    assert.throws(() => store.resolve('tiny'), new RegExp(`blob ${img.id} is missing from the image store`));
    assert.throws(() => store.readBlob('sha256:1234'), /invalid digest/);
    await assert.rejects(store.writeBlob(Buffer.from('x'), `sha256:${'0'.repeat(64)}`), /does not match its digest/);
    assert.deepEqual(await store.writeBlob(Buffer.from('x')), { digest: `sha256:${createHash('sha256').update('x').digest('hex')}`, size: 1 });
    await assert.rejects(store.addLayerBlob(tinyRootfsTar(dir, 'other'), img.layers[0]!.diffId.replace(/.$/, '0')), /does not match its digest/);
  });

  test('concurrent changes from several processes lose no update; a dead holder\'s lock is taken over', async () => {
    const { store, root, dir } = freshStore();
    await store.importRootfs(tinyRootfsTar(dir), 'tiny');
    // a stale lock left by a process that died
    writeFileSync(path.join(root, 'lock'), '99999999 deadbeef\n');
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.tag('tiny', `local:${i}`)));
    assert.ok(!existsSync(path.join(root, 'lock')));

    const moduleUrl = new URL('../engine/image/store/image-store.js', import.meta.url).href;
    const script = `const { ImageStore } = await import(${JSON.stringify(moduleUrl)});
      const s = new ImageStore(process.argv[1]);
      for (let i = 0; i < 10; i++) await s.tag('tiny', 'proc' + process.argv[2] + ':' + i);`;
    const runs = [0, 1, 2].map(
      (n) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script, root, String(n)], { stdio: 'inherit' });
          child.on('exit', resolve);
        }),
    );
    assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
    const names = store.resolve('tiny').names;
    assert.equal(names.length, 1 + 8 + 30);
    for (const n of [0, 1, 2]) for (let i = 0; i < 10; i++) assert.ok(names.includes(`docker.io/library/proc${n}:${i}`), `proc${n}:${i}`);
  });

  test('addLayerBlob stores a blob as it is, dedupes by digest and by content', async () => {
    const { store, root, dir } = freshStore();
    const tar = tinyRootfsTar(dir);
    const plain = await store.addLayerBlob(tar);
    execFileSync('gzip', ['-k', '-n', tar]);
    const gz = await store.addLayerBlob(path.join(dir, 'tiny.tar.gz'));
    assert.equal(gz.diffId, plain.diffId);
    assert.notEqual(gz.digest, plain.digest);
    assert.equal(gz.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(plain.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(gz.dir, plain.dir, 'one tree for both blobs');
    assert.equal(readdirSync(path.join(root, 'layers')).length, 1);
    // known blob: nothing read, the record returned
    assert.deepEqual(await store.addLayerBlob('/nonexistent', plain.digest), plain);
    // a stream works as input too
    assert.deepEqual(await store.addLayerBlob(createReadStream(tar)), plain);
    assert.deepEqual(readdirSync(path.join(root, 'tmp')), []);
  });
});
