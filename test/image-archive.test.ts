import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImageStore, type StoredImage } from '../engine/image/store/image-store.js';
import { busyboxRootfsTar, tarDir, tinyRootfsTar, tool } from './support/image-fixtures.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-archive-'));
after(() => rmSync(base, { recursive: true, force: true }));

const sha = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const fresh = () => new ImageStore(mkdtempSync(path.join(base, 'store-')));
const untar = (file: string) => {
  const dir = mkdtempSync(path.join(base, 'untar-'));
  execFileSync('tar', ['-C', dir, '-xf', file]);
  return dir;
};
const summary = (imgs: StoredImage[]) => imgs.map((i) => ({ id: i.id, names: [...i.names].sort(), diffIds: i.layers.map((l) => l.diffId) })).sort((a, b) => a.id.localeCompare(b.id));

let source: ImageStore;
let busybox: StoredImage;
let app: StoredImage;

before(async () => {
  source = new ImageStore(path.join(base, 'source'));
  busybox = await source.importRootfs(busyboxRootfsTar(base), 'busybox', { changes: { Cmd: ['sh'] } });
  const upper = path.join(base, 'upper');
  mkdirSync(path.join(upper, 'app'), { recursive: true });
  writeFileSync(path.join(upper, 'app/hello.txt'), 'hello from app\n');
  const layer = await source.addLayerFromDir(upper);
  app = await source.commit(
    { ...busybox.config, config: { Cmd: ['cat', '/app/hello.txt'], Labels: { a: '<&>' } }, rootfs: { type: 'layers', diff_ids: [busybox.layers[0]!.diffId, layer.diffId] } },
    [busybox.layers[0]!, layer],
    ['app:1', 'localhost:5000/team/app:v2'],
  );
});

describe('save and load', () => {
  test('oci-archive: a tar of an OCI layout; loads into a fresh store with the same ids, manifests and names', async () => {
    const out = path.join(base, 'images.oci.tar');
    await source.save(['busybox', 'app:1'], out, 'oci-archive');
    const dir = untar(out);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
    assert.deepEqual(
      index.manifests.map((d: { digest: string; annotations?: Record<string, string> }) => [d.digest, d.annotations?.['io.containerd.image.name']]),
      [
        [busybox.manifestDigest, 'docker.io/library/busybox:latest'],
        [app.manifestDigest, 'docker.io/library/app:1'],
      ],
    );
    // each blob once, named by its content
    const blobs = new Set([busybox.manifestDigest, busybox.id, app.manifestDigest, app.id, ...app.layers.map((l) => l.digest)]);
    for (const d of blobs) assert.equal(sha(readFileSync(path.join(dir, 'blobs/sha256', d.slice(7)))), d);

    const target = fresh();
    const loaded = await target.load(out);
    assert.deepEqual(summary(loaded), summary([busybox, { ...app, names: ['docker.io/library/app:1'] }]));
    assert.equal(target.resolve('app:1').manifestDigest, app.manifestDigest);
    const rt = target.runtimeImage(target.resolve('app:1'));
    assert.equal(readFileSync(path.join(rt.layers[0]!, 'app/hello.txt'), 'utf8'), 'hello from app\n');
    assert.ok(existsSync(path.join(rt.layers[1]!, 'bin/busybox')));
    assert.deepEqual(rt.config, app.config.config);
    // loading again changes nothing
    assert.deepEqual(summary(await target.load(out)), summary(loaded));
    assert.equal(target.list().length, 2);
  });

  test('docker-archive: the layout docker save writes, and it loads back with the same ids', async () => {
    const out = path.join(base, 'images.docker.tar');
    await source.save(['busybox:latest', 'app'], out, 'docker-archive');
    const dir = untar(out);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }>;
    assert.deepEqual(
      manifest.map((m) => [m.Config, m.RepoTags]),
      [
        [`${busybox.id.slice(7)}.json`, ['busybox:latest']],
        [`${app.id.slice(7)}.json`, ['app:1']],
      ],
    );
    for (const [i, img] of [busybox, app].entries()) {
      const item = manifest[i]!;
      assert.equal(sha(readFileSync(path.join(dir, item.Config))), img.id, 'config bytes as stored');
      let parent: string | undefined;
      for (const [j, layerPath] of item.Layers.entries()) {
        const v1 = path.dirname(layerPath);
        assert.match(v1, /^[0-9a-f]{64}$/);
        assert.equal(readFileSync(path.join(dir, v1, 'VERSION'), 'utf8'), '1.0');
        const json = JSON.parse(readFileSync(path.join(dir, v1, 'json'), 'utf8'));
        assert.equal(json.id, v1);
        assert.equal(json.parent, parent);
        assert.equal(json.os, 'linux');
        // uncompressed: the tar's digest is the diffID
        assert.equal(sha(readFileSync(path.join(dir, layerPath))), img.layers[j]!.diffId);
        parent = v1;
      }
    }
    // the top layer's json carries the image config; a lower one an empty config
    const appTop = JSON.parse(readFileSync(path.join(dir, path.dirname(manifest[1]!.Layers[1]!), 'json'), 'utf8'));
    assert.deepEqual(appTop.config.Cmd, ['cat', '/app/hello.txt']);
    assert.equal(appTop.config.Hostname, '');
    const appBase = JSON.parse(readFileSync(path.join(dir, path.dirname(manifest[1]!.Layers[0]!), 'json'), 'utf8'));
    assert.equal(appBase.created, '1970-01-01T00:00:00Z');
    assert.equal(appBase.config, undefined);
    // the same layer under a second v1 id is a link to the first copy, as docker does it
    const linked = [manifest[0]!.Layers[0]!, manifest[1]!.Layers[0]!].find((p) => lstatSync(path.join(dir, p)).isSymbolicLink());
    assert.ok(linked, 'shared base layer stored once');
    assert.match(readlinkSync(path.join(dir, linked)), /^\.\.\/[0-9a-f]{64}\/layer\.tar$/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'repositories'), 'utf8')), {
      busybox: { latest: path.dirname(manifest[0]!.Layers[0]!) },
      app: { '1': path.dirname(manifest[1]!.Layers[1]!) },
    });
    // Go's encoder escapes HTML characters
    assert.ok(readFileSync(path.join(dir, path.dirname(manifest[1]!.Layers[1]!), 'json'), 'utf8').includes('\\u003c\\u0026\\u003e'));

    const target = fresh();
    const loaded = await target.load(out);
    assert.deepEqual(summary(loaded), summary([busybox, { ...app, names: ['docker.io/library/app:1'] }]));
    const loadedApp = target.resolve('app:1');
    assert.equal(loadedApp.layers[1]!.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(readFileSync(path.join(target.runtimeImage(loadedApp).layers[0]!, 'app/hello.txt'), 'utf8'), 'hello from app\n');
  });

  test('saved by id: no names in the archive, a nameless image when loaded', async () => {
    const out = path.join(base, 'byid.docker.tar');
    await source.save([app.id.slice(7, 19)], out, 'docker-archive');
    const dir = untar(out);
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0].RepoTags, null);
    assert.ok(!existsSync(path.join(dir, 'repositories')));
    const [img] = await fresh().load(out);
    assert.equal(img!.id, app.id);
    assert.deepEqual(img!.names, []);
  });

  test('docker 25+ archives (OCI layout and manifest.json together) load through manifest.json', async () => {
    const oci = path.join(base, 'for-docker25.oci.tar');
    await source.save(['app:1'], oci, 'oci-archive');
    const dir = untar(oci);
    const blob = (d: string) => `blobs/sha256/${d.slice(7)}`;
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: blob(app.id), RepoTags: ['app:docker25'], Layers: app.layers.map((l) => blob(l.digest)) }]));
    const [img] = await fresh().load(tarDir(dir, path.join(base, 'docker25.tar')));
    assert.equal(img!.id, app.id);
    assert.deepEqual(img!.names, ['docker.io/library/app:docker25']);
  });

  test('load rejects layers that do not match the config or their digest, and non-archives', async () => {
    const out = path.join(base, 'tamper.docker.tar');
    await source.save(['app:1'], out, 'docker-archive');
    const dir = untar(out);
    const item = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))[0];
    const top = path.join(dir, item.Layers[1]);
    rmSync(top);
    cpSync(tinyRootfsTar(base, 'intruder'), top);
    const target = fresh();
    await assert.rejects(target.load(tarDir(dir, path.join(base, 'tampered.tar'))), /layer [0-9a-f]{64}\/layer\.tar does not match the image config: its diff_id is sha256:/);
    assert.deepEqual(target.list(), []);

    const oci = path.join(base, 'tamper.oci.tar');
    await source.save(['app:1'], oci, 'oci-archive');
    const odir = untar(oci);
    const layerFile = path.join(odir, 'blobs/sha256', app.layers[1]!.digest.slice(7));
    const data = readFileSync(layerFile);
    data.writeUInt8(data.readUInt8(data.length - 1) ^ 0xff, data.length - 1);
    writeFileSync(layerFile, data);
    await assert.rejects(fresh().load(tarDir(odir, path.join(base, 'tampered-oci.tar'))), new RegExp(`layer blobs/sha256/${app.layers[1]!.digest.slice(7)}: layer content does not match its digest`));

    const junk = path.join(base, 'junk');
    mkdirSync(junk);
    writeFileSync(path.join(junk, 'hello.txt'), 'hi');
    await assert.rejects(fresh().load(tarDir(junk, path.join(base, 'junk.tar'))), /is not an image archive: it has neither manifest.json/);
  });
});

describe('interop with skopeo and umoci', () => {
  const skopeo = tool('skopeo');
  const umoci = tool('umoci');
  const noSkopeo = skopeo ? false : 'skopeo is not installed';
  const noUmoci = umoci ? false : 'umoci is not installed';
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  test('skopeo reads the store layout by tag', { skip: noSkopeo }, () => {
    const raw = run(skopeo!, ['inspect', '--raw', `oci:${source.root}/oci:1`]);
    assert.equal(sha(Buffer.from(raw)), app.manifestDigest);
    assert.equal(JSON.parse(raw).config.digest, app.id);
  });

  test('skopeo reads our oci-archive and docker-archive', { skip: noSkopeo }, async () => {
    const oci = path.join(base, 'skopeo.oci.tar');
    const docker = path.join(base, 'skopeo.docker.tar');
    await source.save(['app:1'], oci, 'oci-archive');
    await source.save(['app:1'], docker, 'docker-archive');
    const fromOci = JSON.parse(run(skopeo!, ['inspect', `oci-archive:${oci}`]));
    assert.equal(fromOci.Digest, app.manifestDigest);
    assert.equal(fromOci.Layers.length, 2);
    assert.equal(fromOci.Architecture, app.config.architecture);
    const fromDocker = JSON.parse(run(skopeo!, ['inspect', `docker-archive:${docker}`]));
    assert.deepEqual(fromDocker.Layers, app.layers.map((l) => l.diffId));
    assert.deepEqual(fromDocker.Labels, { a: '<&>' });
    const config = JSON.parse(run(skopeo!, ['inspect', '--config', `docker-archive:${docker}`]));
    assert.deepEqual(config.rootfs.diff_ids, app.layers.map((l) => l.diffId));
  });

  test('umoci unpacks an image from a copy of the store layout', { skip: noUmoci }, () => {
    const layout = path.join(base, 'umoci-layout');
    cpSync(path.join(source.root, 'oci'), layout, { recursive: true });
    const bundle = path.join(base, 'umoci-bundle');
    run(umoci!, ['unpack', '--image', `${layout}:1`, bundle]);
    assert.equal(readFileSync(path.join(bundle, 'rootfs/app/hello.txt'), 'utf8'), 'hello from app\n');
    assert.ok(lstatSync(path.join(bundle, 'rootfs/bin/busybox')).isFile());
    assert.deepEqual(JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')).process.args, ['cat', '/app/hello.txt']);
  });

  test('skopeo copy to docker-archive produces an archive load accepts', { skip: noSkopeo }, async () => {
    const out = path.join(base, 'skopeo-copied.tar');
    run(skopeo!, ['copy', '--quiet', `oci:${source.root}/oci:1`, `docker-archive:${out}:example.com/copied:v1`]);
    const [img] = await fresh().load(out);
    assert.deepEqual(img!.names, ['example.com/copied:v1']);
    // skopeo passes the config through untouched, so the id survives the trip
    assert.equal(img!.id, app.id);
    assert.deepEqual(img!.layers.map((l) => l.diffId), app.layers.map((l) => l.diffId));
  });
});
