/**
 * Layer tars <-> overlay-format layer directories, on real files and real overlay mounts:
 * a full round trip of every file kind and attribute, overlay whiteouts as OCI whiteouts and
 * back, byte-identical repacks, hostile tars that try to write outside, and the inputs an
 * extraction accepts. GNU tar, getcap and tar-stream serve as independent implementations.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  createReadStream,
  createWriteStream,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { extract, type Header, pack } from 'tar-stream';
import { extractLayer, packLayer } from '../engine/image/layers/index.js';
import { lgetxattr, llistxattr, lsetxattr } from '../engine/sys/file-calls.js';
import { mountOverlay, unmount } from '../engine/sys/mounts.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-layers-'));
after(() => rmSync(base, { recursive: true, force: true }));

let cases = 0;
function caseDir(label: string): string {
  const dir = path.join(base, `${label}-${++cases}`);
  mkdirSync(dir);
  return dir;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const at = (iso: string) => new Date(iso).getTime() / 1000;
const LONG_PATH = `long/${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(73)}`;
const LONG_NAME = `long/${'n'.repeat(150)}`;
const LONG_TARGET = `../${'t'.repeat(120)}`;

/** Every attribute a layer carries, per path, as comparable values. */
function snapshot(root: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = lstatSync(abs);
      const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'other';
      const xattrs = Object.fromEntries(llistxattr(abs).sort().map((x) => [x, lgetxattr(abs, x)!.toString('hex')]));
      out.set(r, {
        kind,
        mode: (st.mode & 0o7777).toString(8),
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
        content: st.isFile() ? sha256(readFileSync(abs)) : undefined,
        link: st.isSymbolicLink() ? readlinkSync(abs) : undefined,
        rdev: st.isCharacterDevice() || st.isBlockDevice() ? st.rdev : undefined,
        xattrs,
      });
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function assertSameTree(actual: string, expected: string): void {
  const a = snapshot(actual);
  const e = snapshot(expected);
  assert.deepEqual([...a.keys()], [...e.keys()]);
  for (const [p, attrs] of e) assert.deepEqual(a.get(p), attrs, p);
}

/** A tree with every kind of entry and attribute a layer keeps. */
function buildTree(root: string): void {
  const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: root });
  for (const d of ['bin', 'etc', 'secret', 'home/user', 'links', 'data', 'dev', 'run', 'empty', 'tmp', 'long']) mkdirSync(path.join(root, d), { recursive: true });
  writeFileSync(path.join(root, 'bin/ping'), 'ping\n', { mode: 0o755 });
  writeFileSync(path.join(root, 'bin/newuidmap'), 'newuidmap\n', { mode: 0o755 });
  sh('setcap', 'cap_net_raw+ep', 'bin/ping');
  // bits 6 and 7 make a 0xc0 byte: binary, not text, in the PAX record
  sh('setcap', 'cap_setuid,cap_setgid+ep', 'bin/newuidmap');
  writeFileSync(path.join(root, 'bin/su'), 'su\n');
  chmodSync(path.join(root, 'bin/su'), 0o4755);
  writeFileSync(path.join(root, 'bin/wall'), 'wall\n');
  chmodSync(path.join(root, 'bin/wall'), 0o2711);
  chmodSync(path.join(root, 'tmp'), 0o1777);
  chmodSync(path.join(root, 'secret'), 0o700);
  writeFileSync(path.join(root, 'secret/key'), 'k', { mode: 0o600 });
  writeFileSync(path.join(root, 'home/user/notes'), 'mine\n');
  chownSync(path.join(root, 'home/user/notes'), 1000, 50);
  chownSync(path.join(root, 'home/user'), 1000, 50);
  // beyond ustar's 7 octal digits: PAX uid/gid
  writeFileSync(path.join(root, 'home/big-ids'), '');
  chownSync(path.join(root, 'home/big-ids'), 3_000_000, 3_000_001);
  symlinkSync('../bin/ping', path.join(root, 'links/relative'));
  symlinkSync('/etc/passwd', path.join(root, 'links/absolute'));
  symlinkSync(LONG_TARGET, path.join(root, 'links/long-target'));
  lchownSync(path.join(root, 'links/relative'), 1000, 50);
  writeFileSync(path.join(root, 'data/first'), 'shared\n');
  linkSync(path.join(root, 'data/first'), path.join(root, 'data/second'));
  writeFileSync(path.join(root, 'data/big'), Buffer.alloc(300_000, 'xyz'));
  writeFileSync(path.join(root, 'data/tagged'), 'x');
  lsetxattr(path.join(root, 'data/tagged'), 'user.blob', Buffer.from([0x00, 0x80, 0xff, 0x3d, 0x0a]));
  writeFileSync(path.join(root, 'data/naïve ünïcode.txt'), 'é\n');
  sh('mkfifo', '-m', '0620', 'run/fifo');
  sh('mknod', '-m', '0666', 'dev/null', 'c', '1', '3');
  sh('mknod', '-m', '0660', 'dev/loop9', 'b', '7', '9');
  mkdirSync(path.dirname(path.join(root, LONG_PATH)), { recursive: true });
  writeFileSync(path.join(root, LONG_PATH), 'deep\n');
  writeFileSync(path.join(root, LONG_NAME), 'wide\n');
  writeFileSync(path.join(root, 'etc/old'), 'old\n');
  utimesSync(path.join(root, 'etc/old'), at('2001-09-09T01:46:40Z'), at('2001-09-09T01:46:40Z'));
  writeFileSync(path.join(root, 'etc/older'), 'older\n');
  utimesSync(path.join(root, 'etc/older'), at('1969-07-20T20:17:00Z'), at('1969-07-20T20:17:00Z'));
  lutimesSync(path.join(root, 'links/absolute'), at('2005-01-01T00:00:00Z'), at('2005-01-01T00:00:00Z'));
  // directories last: creating their children changed them
  utimesSync(path.join(root, 'secret'), at('2001-01-01T00:00:00Z'), at('2001-01-01T00:00:00Z'));
  utimesSync(path.join(root, 'home/user'), at('2002-02-02T00:00:00Z'), at('2002-02-02T00:00:00Z'));
  utimesSync(path.join(root, 'empty'), at('2003-03-03T00:00:00Z'), at('2003-03-03T00:00:00Z'));
}

/** Entry headers in archive order, read by tar-stream (names and types only: it mangles binary PAX values). */
async function listTar(file: string): Promise<Header[]> {
  const headers: Header[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      headers.push(entry.header);
      entry.resume();
    }
  })();
  const data = readFileSync(file);
  ex.end(data[0] === 0x1f ? gunzipSync(data) : data);
  await done;
  return headers;
}

interface HostileEntry {
  header: Partial<Header> & { name: string };
  body?: string;
}

async function writeTar(file: string, entries: HostileEntry[]): Promise<void> {
  const p = pack();
  const written = pipeline(p, createWriteStream(file));
  for (const e of entries) {
    p.entry({ mtime: new Date(0), ...e.header }, e.body ?? '');
  }
  p.finalize();
  await written;
}

describe('layer round trip', () => {
  test('every kind of entry and attribute survives pack then extract', async () => {
    const dir = caseDir('roundtrip');
    const src = path.join(dir, 'src');
    mkdirSync(src);
    buildTree(src);
    const blob = path.join(dir, 'layer.tar.gz');
    const packed = await packLayer(src, blob);
    const out = path.join(dir, 'out');
    const { diffId } = await extractLayer(blob, out);
    assert.equal(diffId, packed.diffId);
    assertSameTree(out, src);

    const first = lstatSync(path.join(out, 'data/first'));
    assert.equal(first.ino, lstatSync(path.join(out, 'data/second')).ino, 'the hardlink pair shares one inode');
    assert.equal(first.nlink, 2);
    assert.equal(execFileSync('getcap', ['bin/newuidmap'], { cwd: out }).toString().trim(), 'bin/newuidmap cap_setgid,cap_setuid=ep');
    assert.equal(lgetxattr(path.join(out, 'data/tagged'), 'user.blob')?.toString('hex'), '0080ff3d0a');

    // the archive as another reader sees it: relative names, dirs with '/', byte order, no owner names
    const headers = await listTar(blob);
    const names = headers.map((h) => h.name);
    assert.ok(names.includes(`${LONG_PATH}`) && names.includes(LONG_NAME) && names.includes('data/naïve ünïcode.txt'), 'long and non-ASCII names read back whole');
    assert.equal(headers.find((h) => h.name === 'links/long-target')?.linkname, LONG_TARGET);
    assert.deepEqual(names.slice(0, 4), ['bin/', 'bin/newuidmap', 'bin/ping', 'bin/su']);
    assert.ok(names.every((n) => !n.startsWith('/') && !n.startsWith('./')));
    for (const h of headers) assert.equal(h.type === 'directory', h.name.endsWith('/'), h.name);
    assert.ok(headers.every((h) => h.uname === '' && h.gname === ''));
    assert.equal(headers.find((h) => h.name === 'data/second')?.type, 'link');
    assert.equal(headers.find((h) => h.name === 'data/second')?.linkname, 'data/first');
  });

  test('GNU tar reads what we write and we read what it writes, capabilities included', async () => {
    const dir = caseDir('gnutar');
    const src = path.join(dir, 'src');
    mkdirSync(src);
    buildTree(src);
    const ours = path.join(dir, 'ours.tar');
    await packLayer(src, ours, { compression: 'none' });
    const byGnu = path.join(dir, 'by-gnu');
    mkdirSync(byGnu);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', ours, '-C', byGnu]);
    assertSameTree(byGnu, src);

    const theirs = path.join(dir, 'theirs.tar');
    execFileSync('tar', ['--format=posix', '--xattrs', '--xattrs-include=*', '--numeric-owner', '--sort=name', '-cf', theirs, '-C', src, '.']);
    const fromGnu = path.join(dir, 'from-gnu');
    // GNU tar pads to 10 KiB records; small chunks make the padding arrive after the end marker
    const bytes = readFileSync(theirs);
    assert.ok(bytes.subarray(-4096).every((b) => b === 0));
    const { diffId } = await extractLayer(Readable.from(oddChunks(bytes)), fromGnu);
    assert.equal(diffId, sha256(bytes), 'the diffId covers the padding after the end marker');
    assertSameTree(fromGnu, src);
  });

  test('the same tree packs to the same bytes; digests are of the tar and of the blob', async () => {
    const dir = caseDir('determinism');
    const src = path.join(dir, 'src');
    mkdirSync(src);
    buildTree(src);
    const one = await packLayer(src, path.join(dir, 'one.tgz'));
    // new ctimes and atimes, same content
    chmodSync(path.join(src, 'bin/ping'), 0o755);
    readFileSync(path.join(src, 'data/big'));
    const two = await packLayer(src, path.join(dir, 'two.tgz'));
    assert.deepEqual(two, one);
    assert.deepEqual(readFileSync(path.join(dir, 'two.tgz')), readFileSync(path.join(dir, 'one.tgz')));

    const blob = readFileSync(path.join(dir, 'one.tgz'));
    assert.equal(one.digest, sha256(blob));
    assert.equal(one.size, blob.length);
    assert.equal(one.diffId, sha256(gunzipSync(blob)));
    assert.equal(one.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.deepEqual([...blob.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], 'gzip header without name or mtime');

    const plain = await packLayer(src, path.join(dir, 'plain.tar'), { compression: 'none' });
    assert.equal(plain.digest, plain.diffId);
    assert.equal(plain.diffId, one.diffId);
    assert.equal(plain.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(plain.size, lstatSync(path.join(dir, 'plain.tar')).size);

    writeFileSync(path.join(src, 'data/first'), 'changed\n');
    assert.notEqual((await packLayer(src, path.join(dir, 'three.tgz'))).diffId, one.diffId);
  });
});

describe('unpackable directories', () => {
  test('overlayfs redirects and non-UTF-8 names are refused, and no blob is left behind', async () => {
    const dir = caseDir('unpackable');
    const redirected = path.join(dir, 'redirected');
    mkdirSync(path.join(redirected, 'moved'), { recursive: true });
    lsetxattr(path.join(redirected, 'moved'), 'trusted.overlay.redirect', Buffer.from('/old'));
    const blob = path.join(dir, 'layer.tgz');
    await assert.rejects(packLayer(redirected, blob), /cannot pack moved: it carries trusted\.overlay\.redirect/);
    assert.deepEqual(readdirSync(dir).sort(), ['redirected']);

    const latin1 = path.join(dir, 'latin1');
    mkdirSync(latin1);
    writeFileSync(Buffer.concat([Buffer.from(`${latin1}/caf`), Buffer.from([0xe9])]), '');
    await assert.rejects(packLayer(latin1, blob), /cannot pack the name "caf\ufffd": it is not valid UTF-8/);
    assert.ok(!readdirSync(dir).includes('layer.tgz'));
  });
});

describe('whiteouts', () => {
  test('an overlay upper dir packs to OCI whiteouts, which extract to a lowerdir that hides the same files', async () => {
    const dir = caseDir('whiteouts');
    const [lower, upper, work, merged, extracted, upper2, work2, merged2] = ['L', 'U', 'W', 'M', 'E', 'U2', 'W2', 'M2'].map((n) => path.join(dir, n)) as [string, string, string, string, string, string, string, string];
    for (const d of [lower, upper, work, merged, upper2, work2, merged2]) mkdirSync(d);
    writeFileSync(path.join(lower, 'a'), 'a');
    writeFileSync(path.join(lower, 'b'), 'b');
    writeFileSync(path.join(lower, 'c'), 'c');
    mkdirSync(path.join(lower, 'd'));
    writeFileSync(path.join(lower, 'd/x'), 'x');
    try {
      mountOverlay({ lower: [lower], upper, work, target: merged });
      unlinkSync(path.join(merged, 'a'));
      unlinkSync(path.join(merged, 'c'));
      rmSync(path.join(merged, 'd'), { recursive: true });
      mkdirSync(path.join(merged, 'd'));
      writeFileSync(path.join(merged, 'd/y'), 'y');
    } finally {
      unmount(merged);
    }
    // what the kernel made: shared whiteout inodes and an opaque directory
    assert.ok(lstatSync(path.join(upper, 'a')).isCharacterDevice());
    assert.equal(lstatSync(path.join(upper, 'a')).ino, lstatSync(path.join(upper, 'c')).ino);
    assert.equal(lgetxattr(path.join(upper, 'd'), 'trusted.overlay.opaque')?.toString(), 'y');

    const blob = path.join(dir, 'layer.tgz');
    await packLayer(upper, blob);
    const headers = await listTar(blob);
    assert.deepEqual(
      headers.map((h) => [h.name, h.type, h.size]),
      [
        ['.wh.a', 'file', 0],
        ['.wh.c', 'file', 0],
        ['d/', 'directory', 0],
        ['d/.wh..wh..opq', 'file', 0],
        ['d/y', 'file', 1],
      ],
    );
    assert.ok(headers.every((h) => !Object.keys(h.pax ?? {}).some((k) => k.includes('overlay'))), 'no overlayfs xattr is packed');

    await extractLayer(blob, extracted);
    const wh = lstatSync(path.join(extracted, 'a'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.equal(lgetxattr(path.join(extracted, 'd'), 'trusted.overlay.opaque')?.toString(), 'y');
    try {
      mountOverlay({ lower: [extracted, lower], upper: upper2, work: work2, target: merged2 });
      assert.deepEqual(readdirSync(merged2).sort(), ['b', 'd']);
      assert.deepEqual(readdirSync(path.join(merged2, 'd')), ['y']);
      assert.equal(readFileSync(path.join(merged2, 'd/y'), 'utf8'), 'y');
    } finally {
      unmount(merged2);
    }
  });

  test('later entries replace earlier ones, a directory over a directory merges, AUFS metadata and overlayfs xattrs are dropped', async () => {
    const dir = caseDir('replace');
    const tarFile = path.join(dir, 'layer.tar');
    await writeTar(tarFile, [
      { header: { name: 'd/', type: 'directory', mode: 0o700 } },
      { header: { name: 'd/keep' }, body: 'kept' },
      { header: { name: 'd', type: 'directory', mode: 0o755, uid: 7, mtime: new Date('2001-01-01T00:00:00Z') } },
      { header: { name: 'x' }, body: 'one' },
      { header: { name: 'x', type: 'symlink', linkname: '/nowhere' } },
      { header: { name: 'x' }, body: 'two' },
      { header: { name: 'y', type: 'symlink', linkname: path.join(dir, 'victim') } },
      { header: { name: 'y' }, body: 'mine' },
      { header: { name: 'z/sub/file' }, body: 'gone soon' },
      { header: { name: '.wh.z' } },
      { header: { name: './dot/./slash//name' }, body: 'clean' },
      { header: { name: '.wh..wh.plnk/123' }, body: 'aufs' },
      { header: { name: '.wh..wh.aufs' } },
      // only whiteout entries may steer overlayfs
      { header: { name: 'od', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/elsewhere', 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.kept': 'v' } } },
    ]);
    writeFileSync(path.join(dir, 'victim'), 'victim');
    const out = path.join(dir, 'out');
    await extractLayer(tarFile, out);
    assert.deepEqual(readdirSync(out).sort(), ['d', 'dot', 'od', 'x', 'y', 'z']);
    assert.deepEqual(llistxattr(path.join(out, 'od')), ['user.kept']);
    assert.deepEqual(readdirSync(path.join(out, 'd')), ['keep']);
    const d = lstatSync(path.join(out, 'd'));
    assert.equal(d.mode & 0o7777, 0o755);
    assert.equal(d.uid, 7);
    assert.equal(d.mtimeMs, Date.parse('2001-01-01T00:00:00Z'));
    assert.equal(readFileSync(path.join(out, 'x'), 'utf8'), 'two');
    assert.ok(lstatSync(path.join(out, 'y')).isFile());
    assert.equal(readFileSync(path.join(out, 'y'), 'utf8'), 'mine');
    assert.equal(readFileSync(path.join(dir, 'victim'), 'utf8'), 'victim');
    assert.ok(lstatSync(path.join(out, 'z')).isCharacterDevice());
    assert.equal(readFileSync(path.join(out, 'dot/slash/name'), 'utf8'), 'clean');
    // a directory the tar only implies
    assert.equal(lstatSync(path.join(out, 'dot')).mode & 0o7777, 0o755);
  });
});

describe('hostile layers', () => {
  /** Everything under `dir` except the extraction dir, with what could be changed about it. */
  function outside(dir: string, out: string): string[] {
    const found: string[] = [];
    const walk = (p: string) => {
      for (const name of readdirSync(p).sort()) {
        const abs = path.join(p, name);
        if (abs === out) continue;
        const st = lstatSync(abs);
        found.push(`${path.relative(dir, abs)} ${st.mode.toString(8)} ${st.nlink} ${st.size} ${st.mtimeMs}`);
        if (st.isDirectory()) walk(abs);
      }
    };
    walk(dir);
    return found;
  }

  const openFds = () => readdirSync('/proc/self/fd').length;

  const cases: { label: string; error: RegExp; entries: (sentinel: string) => HostileEntry[] }[] = [
    { label: 'parent escape', error: /layer entry "\.\.\/evil" escapes the layer root/, entries: () => [{ header: { name: '../evil' }, body: 'x' }] },
    { label: 'escape after a directory', error: /"a\/\.\.\/\.\.\/evil" escapes the layer root/, entries: () => [{ header: { name: 'a/../../evil' }, body: 'x' }] },
    {
      label: 'absolute symlink parent',
      error: /layer entry "link\/pwned" goes through the symlink "link"/,
      entries: (sentinel) => [{ header: { name: 'link', type: 'symlink', linkname: sentinel } }, { header: { name: 'link/pwned' }, body: 'x' }],
    },
    {
      label: 'relative symlink parent',
      error: /goes through the symlink "up"/,
      entries: () => [{ header: { name: 'up', type: 'symlink', linkname: '../..' } }, { header: { name: 'up/pwned' }, body: 'x' }],
    },
    {
      label: 'symlink parent deeper down',
      error: /goes through the symlink "ok\/up"/,
      entries: () => [{ header: { name: 'ok/up', type: 'symlink', linkname: '../../..' } }, { header: { name: 'ok/up/sentinel/pwned' }, body: 'x' }],
    },
    {
      label: 'whiteout through a symlink',
      error: /goes through the symlink "link"/,
      entries: (sentinel) => [{ header: { name: 'link', type: 'symlink', linkname: sentinel } }, { header: { name: 'link/.wh.secret' } }],
    },
    {
      label: 'opaque marker through a symlink',
      error: /goes through the symlink "link"/,
      entries: (sentinel) => [{ header: { name: 'link', type: 'symlink', linkname: sentinel } }, { header: { name: 'link/.wh..wh..opq' } }],
    },
    {
      label: 'hardlink escape',
      error: /hardlink target "\.\.\/\.\.\/outside" escapes the layer root/,
      entries: () => [{ header: { name: 'h', type: 'link', linkname: '../../outside' } }],
    },
    {
      label: 'hardlink through a symlinked parent',
      error: /hardlink target "link\/secret" goes through the symlink "link"/,
      entries: (sentinel) => [{ header: { name: 'link', type: 'symlink', linkname: sentinel } }, { header: { name: 'h', type: 'link', linkname: 'link/secret' } }],
    },
    {
      label: 'hardlink to nothing',
      error: /hardlink target "missing" does not exist/,
      entries: () => [{ header: { name: 'h', type: 'link', linkname: 'missing' } }],
    },
    {
      label: 'invalid whiteout',
      error: /layer entry "sub\/\.wh\.\.\." is not a valid whiteout/,
      entries: () => [{ header: { name: 'sub/.wh...' } }],
    },
  ];

  for (const c of cases) {
    test(`refused: ${c.label}`, async () => {
      const dir = caseDir('hostile');
      const sentinel = path.join(dir, 'sentinel');
      mkdirSync(sentinel);
      writeFileSync(path.join(sentinel, 'secret'), 'keep', { mode: 0o644 });
      writeFileSync(path.join(dir, 'outside'), 'outside', { mode: 0o644 });
      const out = path.join(dir, 'deep/out');
      const tarFile = path.join(dir, 'deep/layer.tar');
      mkdirSync(out, { recursive: true });
      await writeTar(tarFile, c.entries(sentinel));
      const before = outside(dir, out);
      const fds = openFds();
      await assert.rejects(extractLayer(tarFile, out), (e: Error) => {
        assert.match(e.message, c.error);
        assert.equal((e as { kind?: string }).kind, 'invalid');
        return true;
      });
      assert.deepEqual(outside(dir, out), before, 'nothing outside the extraction dir changed');
      assert.equal(openFds(), fds, 'the layer file was closed');
    });
  }

  test('an absolute name lands inside, under its own path', async () => {
    const dir = caseDir('absolute');
    const sentinel = path.join(dir, 'sentinel');
    mkdirSync(sentinel);
    const tarFile = path.join(dir, 'layer.tar');
    await writeTar(tarFile, [
      { header: { name: `${sentinel}/pwned` }, body: 'x' },
      { header: { name: '/etc/hardlinked', type: 'link', linkname: `/${sentinel}/pwned` } },
    ]);
    const out = path.join(dir, 'out');
    await extractLayer(tarFile, out);
    assert.deepEqual(readdirSync(sentinel), []);
    assert.equal(readFileSync(path.join(out, sentinel, 'pwned'), 'utf8'), 'x');
    assert.equal(lstatSync(path.join(out, 'etc/hardlinked')).ino, lstatSync(path.join(out, sentinel, 'pwned')).ino);
  });

  test('a hardlink to a symlink gets no mode or times through it', async () => {
    const dir = caseDir('link-to-symlink');
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'v', { mode: 0o644 });
    utimesSync(victim, at('2010-01-01T00:00:00Z'), at('2010-01-01T00:00:00Z'));
    const tarFile = path.join(dir, 'layer.tar');
    await writeTar(tarFile, [
      { header: { name: 'ln', type: 'symlink', linkname: victim } },
      { header: { name: 'h', type: 'link', linkname: 'ln', mode: 0o4777, mtime: new Date('2020-01-01T00:00:00Z') } },
    ]);
    const out = path.join(dir, 'out');
    await extractLayer(tarFile, out);
    assert.ok(lstatSync(path.join(out, 'h')).isSymbolicLink());
    assert.equal(lstatSync(victim).mode & 0o7777, 0o644);
    assert.equal(lstatSync(victim).mtimeMs, Date.parse('2010-01-01T00:00:00Z'));
  });

  test('truncated and non-tar input are errors', async () => {
    const dir = caseDir('broken');
    const src = path.join(dir, 'src');
    mkdirSync(src);
    writeFileSync(path.join(src, 'f'), Buffer.alloc(5000, 1));
    const tarFile = path.join(dir, 'layer.tar');
    await packLayer(src, tarFile, { compression: 'none' });
    const cut = path.join(dir, 'cut.tar');
    writeFileSync(cut, readFileSync(tarFile).subarray(0, 2048));
    await assert.rejects(extractLayer(cut, path.join(dir, 'o1')), /ends in the middle of an entry/);
    const gz = path.join(dir, 'layer.tgz');
    await packLayer(src, gz);
    const cutGz = path.join(dir, 'cut.tgz');
    writeFileSync(cutGz, readFileSync(gz).subarray(0, -20));
    await assert.rejects(extractLayer(cutGz, path.join(dir, 'o3')), /layer blob is not valid gzip: unexpected end of file/);
    const junk = path.join(dir, 'junk');
    writeFileSync(junk, Buffer.alloc(1024, 'junk'));
    await assert.rejects(extractLayer(junk, path.join(dir, 'o2')), /checksum does not match/);
  });
});

describe('extraction input', () => {
  test('gzip and plain, from a path or a stream, give the same tree and diffId', async () => {
    const dir = caseDir('inputs');
    const src = path.join(dir, 'src');
    mkdirSync(src);
    buildTree(src);
    const gz = path.join(dir, 'layer.tgz');
    const plain = path.join(dir, 'layer.tar');
    const { diffId } = await packLayer(src, gz);
    await packLayer(src, plain, { compression: 'none' });
    const tarBytes = readFileSync(plain);
    const inputs: [string, string | NodeJS.ReadableStream][] = [
      ['gzip path', gz],
      ['plain path', plain],
      ['gzip stream', createReadStream(gz)],
      // chunk edges fall anywhere: inside headers, PAX records and data
      ['plain stream in odd chunks', Readable.from(oddChunks(tarBytes))],
      ['gzip stream in odd chunks', Readable.from(oddChunks(readFileSync(gz)))],
    ];
    for (const [label, input] of inputs) {
      const out = path.join(dir, label.replace(/ /g, '-'));
      const r = await extractLayer(input, out);
      assert.equal(r.diffId, diffId, label);
      assertSameTree(out, src);
    }
  });
});

function* oddChunks(bytes: Buffer): Generator<Buffer> {
  for (let i = 0, n = 1; i < bytes.length; i += n, n = 1 + ((n * 37 + 11) % 1500)) yield bytes.subarray(i, i + n);
}
