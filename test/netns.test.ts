import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseMountinfo, readMountinfo } from '../engine/sys/mounts.js';
import { closeFd, createNetns, inNetns, openNetns, removeNetns, setSysctl } from '../engine/sys/netns.js';
import { SysError } from '../engine/sys/sys-error.js';

const base = mkdtempSync(path.join(tmpdir(), 'stack-netns-'));
const nsDir = path.join(base, 'netns');
after(() => {
  for (const f of existsSync(nsDir) ? readdirSync(nsDir) : []) removeNetns(path.join(nsDir, f));
  rmSync(base, { recursive: true, force: true });
});

const HOST_NETNS = statSync('/proc/self/ns/net').ino;
/** the network namespace the test's (main) thread is in, as its nsfs inode */
const threadNetns = () => statSync('/proc/thread-self/ns/net').ino;
const mountsUnder = (dir: string) => parseMountinfo(readMountinfo()).filter((m) => m.mountPoint.startsWith(`${dir}/`));
const nsenter = (file: string, ...cmd: string[]) => execFileSync('nsenter', [`--net=${file}`, ...cmd], { encoding: 'utf8' });
const UNPRIVILEGED_PORT_START = '/proc/sys/net/ipv4/ip_unprivileged_port_start';

describe('network namespaces', () => {
  test('createNetns binds a fresh namespace at the file and leaves the caller where it was', () => {
    const file = path.join(nsDir, 'fresh');
    createNetns(file);
    assert.equal(threadNetns(), HOST_NETNS);
    assert.equal(statSync('/proc/self/ns/net').ino, HOST_NETNS);
    // the file is now the nsfs inode of another namespace
    assert.notEqual(statSync(file).ino, HOST_NETNS);
    assert.deepEqual(
      mountsUnder(nsDir).map((m) => [m.mountPoint, m.fsType]),
      [[file, 'nsfs']],
    );
    // a fresh namespace has nothing but its loopback, down
    assert.match(nsenter(file, 'ip', '-o', 'link').trim(), /^1: lo: <LOOPBACK> [^\n]*$/);
    removeNetns(file);
  });

  test('an existing file is refused and left as it was; a failure before the namespace exists leaves nothing', () => {
    const file = path.join(nsDir, 'taken');
    createNetns(file);
    const ino = statSync(file).ino;
    assert.throws(() => createNetns(file), (e: unknown) => e instanceof SysError && e.code === 'EEXIST');
    assert.equal(statSync(file).ino, ino);
    assert.equal(mountsUnder(nsDir).filter((m) => m.mountPoint === file).length, 1);
    removeNetns(file);

    const plain = path.join(base, 'plain-file');
    writeFileSync(plain, '');
    assert.throws(() => createNetns(path.join(plain, 'sub', 'ns')), (e: unknown) => e instanceof SysError && e.code === 'ENOTDIR');
    assert.equal(threadNetns(), HOST_NETNS);
    assert.deepEqual(mountsUnder(base), []);
  });

  test('inNetns runs inside the namespace and always switches back', () => {
    const a = path.join(nsDir, 'a');
    const b = path.join(nsDir, 'b');
    createNetns(a);
    createNetns(b);
    try {
      assert.equal(
        inNetns(a, () => threadNetns()),
        statSync(a).ino,
      );
      assert.equal(threadNetns(), HOST_NETNS);
      // nested, each level returns to the one around it
      const seen = inNetns(a, () => [threadNetns(), inNetns(b, () => threadNetns()), threadNetns()]);
      assert.deepEqual(seen, [statSync(a).ino, statSync(b).ino, statSync(a).ino]);
      assert.equal(threadNetns(), HOST_NETNS);

      assert.throws(() =>
        inNetns(a, () => {
          throw new Error('boom inside');
        }),
        /boom inside/,
      );
      assert.equal(threadNetns(), HOST_NETNS);
      // an async function would do its work after the switch back: refused, and back all the same
      assert.throws(() => inNetns(a, async () => 1), (e: unknown) => e instanceof SysError && e.code === 'EINVAL');
      assert.equal(threadNetns(), HOST_NETNS);
      // a namespace file that is not one fails before any switch
      assert.throws(() => inNetns(path.join(base, 'plain-file'), () => 1), (e: unknown) => e instanceof SysError && e.code === 'EINVAL');
      assert.equal(threadNetns(), HOST_NETNS);
    } finally {
      removeNetns(a);
      removeNetns(b);
    }
  });

  test('setSysctl writes in the namespace when given one, never in the host', () => {
    const file = path.join(nsDir, 'sysctl');
    createNetns(file);
    try {
      const host = readFileSync(UNPRIVILEGED_PORT_START, 'utf8');
      assert.notEqual(host.trim(), '80');
      setSysctl('net.ipv4.ip_unprivileged_port_start', '80', file);
      assert.equal(nsenter(file, 'cat', UNPRIVILEGED_PORT_START).trim(), '80');
      assert.equal(inNetns(file, () => readFileSync(UNPRIVILEGED_PORT_START, 'utf8')).trim(), '80');
      assert.equal(readFileSync(UNPRIVILEGED_PORT_START, 'utf8'), host);
      // the slash form reaches keys whose parts hold dots
      setSysctl('net/ipv4/ip_unprivileged_port_start', '81', file);
      assert.equal(nsenter(file, 'cat', UNPRIVILEGED_PORT_START).trim(), '81');
      assert.throws(() => setSysctl('net.ipv4..x', '1', file), (e: unknown) => e instanceof SysError && e.code === 'EINVAL');
      assert.throws(() => setSysctl('net/ipv4/../../kernel/x', '1', file), (e: unknown) => e instanceof SysError && e.code === 'EINVAL');
      assert.throws(() => setSysctl('net.ipv4.no_such_key', '1', file), (e: unknown) => e instanceof SysError && e.code === 'ENOENT');
      assert.equal(threadNetns(), HOST_NETNS);
    } finally {
      removeNetns(file);
    }
  });

  test('removeNetns unbinds and deletes, and is fine when there is nothing to remove', () => {
    const file = path.join(nsDir, 'gone');
    createNetns(file);
    const fd = openNetns(file);
    closeFd(fd);
    removeNetns(file);
    assert.ok(!existsSync(file));
    assert.deepEqual(mountsUnder(nsDir), []);
    removeNetns(file);
    // a stale file whose mount is gone (after a reboot) is removed too
    writeFileSync(file, '');
    removeNetns(file);
    assert.ok(!existsSync(file));
    assert.throws(() => openNetns(file), (e: unknown) => e instanceof SysError && e.code === 'ENOENT');
  });

  test('the host is left as it was', () => {
    assert.deepEqual(readdirSync(nsDir), []);
    assert.deepEqual(mountsUnder(base), []);
    assert.equal(threadNetns(), HOST_NETNS);
  });
});
