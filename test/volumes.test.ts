import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ServiceVolume } from '../engine/model/types.js';
import { prepareMounts } from '../engine/volumes/service-mounts.js';
import { VolumeStore } from '../engine/volumes/volume-store.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-vol-'));
after(() => rmSync(base, { recursive: true, force: true }));

function setup() {
  const dir = mkdtempSync(path.join(base, 'case-'));
  const store = new VolumeStore({ stateDir: path.join(dir, 'state'), runDir: path.join(dir, 'run') });
  const image = path.join(dir, 'image');
  mkdirSync(path.join(image, 'var/lib/app'), { recursive: true });
  writeFileSync(path.join(image, 'var/lib/app/seed.txt'), 'seed\n');
  // an image may point a path anywhere; copying must not follow it out of the image
  symlinkSync('/etc', path.join(image, 'var/lib/app/escape'));
  return { dir, store, image };
}

const project = { name: 'shop', volumes: { data: { name: 'shop_data' }, ext: { name: 'shared', external: true } } };
const mountsFor = (store: VolumeStore, image: string, volumes: ServiceVolume[]) =>
  prepareMounts({ project, service: { name: 'web', volumes }, store, imageLayers: [image] });

describe('service volumes', () => {
  test('a new named volume is created and filled from the image; symlinks are copied, not followed', () => {
    const { store, image } = setup();
    const r = mountsFor(store, image, [{ type: 'volume', source: 'data', target: '/var/lib/app' }]);
    assert.deepEqual(r.volumes, ['shop_data']);
    const data = store.dataDir('shop_data');
    assert.deepEqual(r.mounts, [{ destination: '/var/lib/app', type: 'bind', source: data, options: ['rbind', 'rw', 'rprivate'] }]);
    assert.equal(readFileSync(path.join(data, 'seed.txt'), 'utf8'), 'seed\n');
    assert.ok(lstatSync(path.join(data, 'escape')).isSymbolicLink(), 'the symlink was followed instead of copied');
    assert.equal(readlinkSync(path.join(data, 'escape')), '/etc');
    assert.equal(store.get('shop_data')?.project, 'shop');
    // an existing volume keeps its content
    writeFileSync(path.join(data, 'seed.txt'), 'changed\n');
    mountsFor(store, image, [{ type: 'volume', source: 'data', target: '/var/lib/app' }]);
    assert.equal(readFileSync(path.join(data, 'seed.txt'), 'utf8'), 'changed\n');
  });

  test('nocopy, read_only, anonymous volumes, subpaths', () => {
    const { store, image } = setup();
    const r = mountsFor(store, image, [
      { type: 'volume', source: 'data', target: '/var/lib/app', read_only: true, volume: { nocopy: true } },
      { type: 'volume', target: '/cache' },
    ]);
    assert.ok(!existsSync(path.join(store.dataDir('shop_data'), 'seed.txt')));
    assert.deepEqual(r.mounts[0]!.options, ['rbind', 'ro', 'rprivate']);
    assert.match(r.volumes[1]!, /^[0-9a-f]{64}$/);
    assert.equal(store.get(r.volumes[1]!)?.anonymous, true);
    mkdirSync(path.join(store.dataDir('shop_data'), 'sub'));
    symlinkSync('/', path.join(store.dataDir('shop_data'), 'up'));
    const sub = mountsFor(store, image, [{ type: 'volume', source: 'data', target: '/x', volume: { subpath: 'sub' } }]);
    assert.equal(sub.mounts[0]!.source, path.join(store.dataDir('shop_data'), 'sub'));
    // a symlink to / inside the volume resolves to the volume's own root, never the host's
    const up = mountsFor(store, image, [{ type: 'volume', source: 'data', target: '/x', volume: { subpath: 'up/sub' } }]);
    assert.equal(up.mounts[0]!.source, path.join(store.dataDir('shop_data'), 'sub'));
    assert.throws(() => mountsFor(store, image, [{ type: 'volume', source: 'data', target: '/x', volume: { subpath: 'missing' } }]), /subpath missing does not exist/);
  });

  test('external volumes must exist; bind mounts create their host path unless told not to', () => {
    const { dir, store, image } = setup();
    assert.throws(() => mountsFor(store, image, [{ type: 'volume', source: 'ext', target: '/e' }]), /external volume "shared" does not exist/);
    store.ensure('shared');
    assert.equal(mountsFor(store, image, [{ type: 'volume', source: 'ext', target: '/e' }]).volumes[0], 'shared');
    const host = path.join(dir, 'made/by/bind');
    const b = mountsFor(store, image, [{ type: 'bind', source: host, target: '/b', read_only: true, bind: { create_host_path: true } }]);
    assert.ok(existsSync(host));
    assert.deepEqual(b.mounts[0], { destination: '/b', type: 'bind', source: host, options: ['rbind', 'ro', 'rprivate'] });
    assert.throws(() => mountsFor(store, image, [{ type: 'bind', source: path.join(dir, 'nope'), target: '/b', bind: { create_host_path: false } }]), /does not exist/);
  });

  test('tmpfs with size and mode', () => {
    const { store, image } = setup();
    const r = mountsFor(store, image, [{ type: 'tmpfs', target: '/run', tmpfs: { size: 65536, mode: 0o1777 } }]);
    assert.deepEqual(r.mounts[0], { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=65536', 'mode=1777'] });
  });
});
