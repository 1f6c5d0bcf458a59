import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { StackError } from '../engine/errors.js';
import type { Service } from '../engine/model/types.js';
import type { OciMount } from '../engine/runtime/oci-spec.js';
import { resolveArgv } from '../engine/runtime/spec/argv.js';
import { buildSpec, MASKED_PATHS, READONLY_PATHS, type SpecInput } from '../engine/runtime/spec/build-spec.js';
import { CAPABILITY_NAMES, capabilitySets, DEFAULT_CAPABILITIES, resolveCapabilities } from '../engine/runtime/spec/capabilities.js';
import { DEFAULT_DEVICE_RULES } from '../engine/runtime/spec/devices.js';
import { buildEnv, DEFAULT_PATH } from '../engine/runtime/spec/env.js';
import { goArch, kernelAtLeast, parseProcLimits, type HostFacts } from '../engine/runtime/spec/host.js';
import { parentsFirst } from '../engine/runtime/spec/mounts.js';
import { readFileInRoot, resolveInRoot } from '../engine/sys/read-in-root.js';
import { buildRlimits, DEFAULT_NOFILE, UNLIMITED } from '../engine/runtime/spec/rlimits.js';
import { convertSeccompProfile, DEFAULT_SECCOMP_PROFILE, loadSeccompProfile, type DockerSeccompProfile } from '../engine/runtime/spec/seccomp.js';
import { parseSecurityOpts } from '../engine/runtime/spec/security-opt.js';
import { parseTmpfs } from '../engine/runtime/spec/tmpfs.js';
import { resolveUser, resolveUserFrom } from '../engine/runtime/spec/user.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'stack-spec-'));
  dirs.push(d);
  return d;
}
function write(root: string, rel: string, content: string): string {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

function svc(over: Partial<Service> = {}): Service {
  return { name: 'web', profiles: [], environment: {}, labels: {}, depends_on: {}, ports: [], volumes: [], extra: {}, extensions: {}, ...over };
}

/** StackError matcher: message contains `text`, and the hint `hint` when given. */
function stackError(text: string | RegExp, hint?: string | RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof StackError, `expected a StackError, got ${String(e)}`);
    if (typeof text === 'string') assert.ok(e.message.includes(text), e.message);
    else assert.match(e.message, text);
    if (hint !== undefined) {
      if (typeof hint === 'string') assert.ok(e.hint?.includes(hint), `hint: ${e.hint}`);
      else assert.match(e.hint ?? '', hint);
    }
    return true;
  };
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n# comment\nbroken line\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nwheel:x:10:app,root\nstaff:x:50:other,app\napp:x:1000:\nnogroup:x:65534:\n';

describe('argv', () => {
  const image = { Entrypoint: ['/entry.sh'], Cmd: ['serve', '--port', '80'] };
  const cases: [string, Partial<Service>, object, string[]][] = [
    ['image defaults', {}, image, ['/entry.sh', 'serve', '--port', '80']],
    ['command replaces Cmd only', { command: ['migrate'] }, image, ['/entry.sh', 'migrate']],
    ['entrypoint replaces Entrypoint and resets Cmd', { entrypoint: ['/bin/sh', '-c'] }, image, ['/bin/sh', '-c']],
    ['entrypoint and command', { entrypoint: ['/bin/sh', '-c'], command: ['echo hi'] }, image, ['/bin/sh', '-c', 'echo hi']],
    ['null means the image value', { entrypoint: null, command: null }, image, ['/entry.sh', 'serve', '--port', '80']],
    ['empty entrypoint keeps the image Cmd', { entrypoint: [] }, image, ['serve', '--port', '80']],
    ['empty command empties Cmd', { command: [] }, image, ['/entry.sh']],
    ['empty entrypoint with command', { entrypoint: [], command: ['ls'] }, image, ['ls']],
    ['image without entrypoint', {}, { Cmd: ['nginx'] }, ['nginx']],
    ['null collections in the image', { command: ['x'] }, { Entrypoint: null, Cmd: null }, ['x']],
  ];
  for (const [name, service, img, want] of cases) {
    test(name, () => assert.deepEqual(resolveArgv(svc(service), img), want));
  }
  test('nothing to run is an error naming the service', () => {
    assert.throws(() => resolveArgv(svc({ command: [] }), { Cmd: ['x'] }), stackError('service web has no command to run', 'command'));
    assert.throws(() => resolveArgv(svc({ entrypoint: [], command: [] }), image), stackError('no command to run'));
    assert.throws(() => resolveArgv(svc(), {}), stackError('no command to run'));
  });
});

describe('env', () => {
  test('defaults: PATH and HOSTNAME, TERM with a tty', () => {
    assert.deepEqual(buildEnv({ hostname: 'web1' }), [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=web1']);
    assert.deepEqual(buildEnv({ hostname: 'web1', tty: true }), [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=web1', 'TERM=xterm']);
  });
  test('image, then service: replaced in place, null removes, new appended, HOME last if unset', () => {
    const env = buildEnv({
      image: ['PATH=/opt/bin:/usr/bin', 'LANG=C.UTF-8', 'DEBUG=1', 'NOVALUE', 'A=x=y'],
      service: { LANG: 'en_US.UTF-8', DEBUG: null, NEW: 'yes', EMPTY: '', NEVER: null },
      hostname: 'h',
      home: '/home/app',
    });
    assert.deepEqual(env, ['PATH=/opt/bin:/usr/bin', 'HOSTNAME=h', 'LANG=en_US.UTF-8', 'A=x=y', 'NEW=yes', 'EMPTY=', 'HOME=/home/app']);
  });
  test('HOME from the image or service wins over the passwd home; TERM can be overridden', () => {
    assert.deepEqual(buildEnv({ image: ['HOME=/srv'], hostname: 'h', home: '/root' }).slice(2), ['HOME=/srv']);
    assert.deepEqual(buildEnv({ service: { TERM: 'dumb', HOSTNAME: 'x' }, hostname: 'h', tty: true }).slice(1), ['HOSTNAME=x', 'TERM=dumb']);
  });
});

describe('readFileInRoot', () => {
  test('plain files, missing files, and a file where a directory is expected', () => {
    const root = tmp();
    write(root, 'etc/passwd', PASSWD);
    assert.equal(readFileInRoot(root, '/etc/passwd'), PASSWD);
    assert.equal(readFileInRoot(root, 'etc/./passwd'), PASSWD);
    assert.equal(readFileInRoot(root, '/etc/group'), undefined);
    assert.equal(readFileInRoot(root, '/etc/passwd/x'), undefined);
    assert.throws(() => readFileInRoot(root, '/etc'), stackError('not a regular file'));
    assert.throws(() => readFileInRoot(root, '/etc/passwd', 10), stackError('too large'));
  });

  test('absolute and `..` symlinks resolve inside the root, never outside', () => {
    // <base>/a/b/rootfs; <base>/a/etc/evil is what a host-side `../../../etc/evil` from rootfs/etc reaches.
    const base = tmp();
    const root = path.join(base, 'a', 'b', 'rootfs');
    write(base, 'a/etc/evil', 'evil:x:666:666::/evil:/bin/sh\n');
    write(base, 'a/b/etc/evil', 'evil:x:667:667::/evil:/bin/sh\n');
    write(root, 'etc/evil', 'inside:x:1:1::/in:/bin/sh\n');
    write(root, 'etc/shadow', 'shadow-inside\n');
    symlinkSync('/../../etc/shadow', path.join(root, 'etc/abs'));
    symlinkSync('../../../etc/evil', path.join(root, 'etc/rel'));
    symlinkSync('../../../../../../../../../../../../../etc/evil', path.join(root, 'etc/deep'));
    assert.equal(readFileInRoot(root, '/etc/abs'), 'shadow-inside\n');
    assert.equal(readFileInRoot(root, '/etc/rel'), 'inside:x:1:1::/in:/bin/sh\n');
    assert.equal(readFileInRoot(root, '/etc/deep'), 'inside:x:1:1::/in:/bin/sh\n');
    assert.equal(readFileInRoot(root, '/../../../a/etc/evil'), undefined);
    assert.equal(resolveInRoot(root, '/etc/abs')!.hostPath, path.join(root, 'etc/shadow'));
  });

  test('a symlinked directory, a host-pointing link that does not exist inside, and loops', () => {
    const root = tmp();
    write(root, 'real/passwd', PASSWD);
    symlinkSync('/real', path.join(root, 'etc'));
    assert.equal(readFileInRoot(root, '/etc/passwd'), PASSWD);
    symlinkSync('/etc/hostname', path.join(root, 'hostlink'));
    assert.equal(readFileInRoot(root, '/hostlink'), undefined);
    symlinkSync('loop2', path.join(root, 'loop1'));
    symlinkSync('loop1', path.join(root, 'loop2'));
    assert.throws(() => readFileInRoot(root, '/loop1'), stackError('too many levels of symbolic links'));
    symlinkSync('self/x', path.join(root, 'self'));
    assert.throws(() => readFileInRoot(root, '/self'), stackError('too many levels'));
  });

  test('a FIFO is refused, not opened', { skip: spawnSync('mkfifo', ['--version']).status !== 0 && 'no mkfifo' }, () => {
    const root = tmp();
    mkdirSync(path.join(root, 'etc'));
    assert.equal(spawnSync('mkfifo', [path.join(root, 'etc/passwd')]).status, 0);
    assert.throws(() => readFileInRoot(root, '/etc/passwd'), stackError('not a regular file'));
  });
});

describe('user', () => {
  const look = (user?: string, groupAdd?: string[]) => resolveUserFrom({ user, groupAdd, service: 'web' }, PASSWD, GROUP);
  test('no user is root with root\'s home and groups', () => {
    assert.deepEqual(look(), { uid: 0, gid: 0, additionalGids: [10], home: '/root' });
    assert.deepEqual(resolveUserFrom({ service: 'web' }, undefined, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/' });
  });
  test('names and uids find the passwd entry; supplementary groups list the user', () => {
    assert.deepEqual(look('app'), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/app' });
    assert.deepEqual(look('1000'), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/app' });
  });
  test('numeric ids need no entry', () => {
    assert.deepEqual(look('4242'), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
    assert.deepEqual(look('4242:4343'), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUserFrom({ user: '5:6', service: 'web' }, undefined, undefined), { uid: 5, gid: 6, additionalGids: [], home: '/' });
  });
  test('an explicit group replaces the primary group and drops supplementary ones', () => {
    assert.deepEqual(look('app:staff'), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' });
    assert.deepEqual(look('1000:wheel'), { uid: 1000, gid: 10, additionalGids: [], home: '/home/app' });
    assert.deepEqual(look('app:77'), { uid: 1000, gid: 77, additionalGids: [], home: '/home/app' });
  });
  test('group_add appends, by name or id, without duplicates', () => {
    assert.deepEqual(look('app', ['nogroup', '10', '99']).additionalGids, [10, 50, 65534, 99]);
    assert.throws(() => look('app', ['nosuch']), stackError('group_add: unknown group "nosuch"'));
  });
  test('unknown names are errors naming the user and the service', () => {
    assert.throws(() => look('bob'), stackError(/service web: unknown user "bob"/, 'numeric uid'));
    assert.throws(() => resolveUserFrom({ user: 'bob', service: 'db' }, undefined, undefined), stackError(/service db: unknown user "bob": the image has no \/etc\/passwd/));
    assert.throws(() => look('app:nosuch'), stackError('unknown group "nosuch"'));
    assert.throws(() => look('99999999999'), stackError('out of range'));
  });
  test('resolveUser reads the rootfs files, through symlinks kept inside it', () => {
    const root = tmp();
    write(root, 'etc/passwd.real', PASSWD);
    write(root, 'etc/group', GROUP);
    symlinkSync('/../../etc/passwd.real', path.join(root, 'etc/passwd'));
    assert.deepEqual(resolveUser(root, { user: 'app', service: 'web' }), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: '/home/app' });
    // The host's own users are not visible: the rootfs has no `bin` entry.
    assert.throws(() => resolveUser(root, { user: 'bin', service: 'web' }), stackError('unknown user "bin"'));
  });
});

describe('capabilities', () => {
  const resolve = (over: Partial<Parameters<typeof resolveCapabilities>[0]> = {}) =>
    resolveCapabilities({ lastCap: 40, service: 'web', ...over });
  test('docker\'s default set', () => {
    assert.deepEqual(resolve().caps, DEFAULT_CAPABILITIES);
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
    assert.equal(CAPABILITY_NAMES[40], 'CAP_CHECKPOINT_RESTORE');
    assert.equal(CAPABILITY_NAMES[21], 'CAP_SYS_ADMIN');
  });
  test('add and drop in any spelling', () => {
    const { caps } = resolve({ capAdd: ['sys_admin', 'CAP_NET_ADMIN', 'Sys_Admin'], capDrop: ['MKNOD', 'cap_net_raw'] });
    assert.deepEqual(caps, [...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_MKNOD' && c !== 'CAP_NET_RAW'), 'CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
  });
  test('ALL', () => {
    assert.deepEqual(resolve({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] }).caps, CAPABILITY_NAMES.filter((c) => c !== 'CAP_SYS_ADMIN'));
    assert.deepEqual(resolve({ capDrop: ['all'], capAdd: ['chown'] }).caps, ['CAP_CHOWN']);
    assert.deepEqual(resolve({ capDrop: ['ALL'] }).caps, []);
  });
  test('privileged is every capability of the running kernel', () => {
    assert.deepEqual(resolve({ privileged: true, capDrop: ['ALL'] }).caps, CAPABILITY_NAMES);
    assert.deepEqual(resolve({ privileged: true, lastCap: 37 }).caps, CAPABILITY_NAMES.slice(0, 38));
  });
  test('a capability the kernel lacks is dropped with a warning', () => {
    const r = resolve({ capAdd: ['BPF'], lastCap: 37 });
    assert.deepEqual(r.caps, DEFAULT_CAPABILITIES);
    assert.match(r.warnings[0]!, /CAP_BPF is not supported by the running kernel/);
  });
  test('unknown names suggest the closest', () => {
    assert.throws(() => resolve({ capAdd: ['SYS_ADMN'] }), stackError('cap_add: unknown capability "SYS_ADMN"', 'did you mean "SYS_ADMIN"?'));
    assert.throws(() => resolve({ capDrop: ['CAP_NET_RAWW'] }), stackError('cap_drop: unknown capability', 'did you mean "CAP_NET_RAW"?'));
  });
  test('sets: root gets them effective, others only in the bounding set', () => {
    assert.deepEqual(capabilitySets(['CAP_CHOWN'], 0), { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], inheritable: [], permitted: ['CAP_CHOWN'], ambient: [] });
    assert.deepEqual(capabilitySets(['CAP_CHOWN'], 1000), { bounding: ['CAP_CHOWN'], effective: [], inheritable: [], permitted: [], ambient: [] });
  });
});

describe('seccomp', () => {
  const profile: DockerSeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], includes: {}, excludes: {} },
      { names: ['mount', 'umount2'], action: 'SCMP_ACT_ALLOW', args: null, includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['mount', 'umount2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
      { names: ['arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
      { names: ['future'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '99.1' } },
      { names: ['modern'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.8' } },
      { names: ['fallback'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { minKernel: '5.8' } },
      { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] } },
    ],
  };
  const names = (s: ReturnType<typeof convertSeccompProfile>) => s.syscalls!.map((c) => `${c.action}:${c.names.join(',')}`);
  const ctx = { caps: DEFAULT_CAPABILITIES, arch: 'amd64', kernelRelease: '6.1.0-18-amd64' };

  test('rules needing a capability the container lacks are dropped; their fallbacks kept', () => {
    const s = convertSeccompProfile(profile, ctx);
    assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.defaultErrnoRet, 38);
    assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(names(s), [
      'SCMP_ACT_ALLOW:read,write',
      'SCMP_ACT_ERRNO:mount,umount2',
      'SCMP_ACT_ALLOW:arch_prctl',
      'SCMP_ACT_ALLOW:modern',
      'SCMP_ACT_ALLOW:personality',
    ]);
    assert.equal(s.syscalls![1]!.errnoRet, 1);
    assert.deepEqual(s.syscalls![4]!.args, [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }]);
    assert.equal('args' in s.syscalls![0]!, false);
  });
  test('with CAP_SYS_ADMIN the allowing rule is kept and the denial dropped; all includes.caps must be held', () => {
    const s = convertSeccompProfile(profile, { ...ctx, caps: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'] });
    assert.ok(names(s).includes('SCMP_ACT_ALLOW:mount,umount2'));
    assert.ok(!names(s).includes('SCMP_ACT_ERRNO:mount,umount2'));
    assert.ok(!names(s).includes('SCMP_ACT_ALLOW:bpf'));
    const both = convertSeccompProfile(profile, { ...ctx, caps: ['CAP_SYS_ADMIN', 'CAP_BPF'] });
    assert.ok(names(both).includes('SCMP_ACT_ALLOW:bpf'));
  });
  test('architectures and kernel versions', () => {
    const arm = convertSeccompProfile(profile, { ...ctx, arch: 'arm64', kernelRelease: '5.4.0' });
    assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.deepEqual(names(arm).filter((n) => /arch_prctl|arm_fadvise|modern|fallback/.test(n)), ['SCMP_ACT_ALLOW:arm_fadvise64_64', 'SCMP_ACT_ERRNO:fallback']);
    assert.equal(convertSeccompProfile(profile, { ...ctx, arch: 'riscv64' }).architectures, undefined);
    assert.ok(kernelAtLeast('6.18.44-fc-v657', '5.8'));
    assert.ok(kernelAtLeast('5.8.0', '5.8'));
    assert.ok(!kernelAtLeast('5.7.19', '5.8'));
    assert.ok(!kernelAtLeast('4.19', '4.19.1'));
    assert.equal(goArch('x64'), 'amd64');
    assert.equal(goArch('ppc64', 'LE'), 'ppc64le');
  });
  test('the installed default profile converts', { skip: !existsSync(DEFAULT_SECCOMP_PROFILE) && 'no default profile' }, () => {
    const p = loadSeccompProfile(DEFAULT_SECCOMP_PROFILE, true);
    assert.equal(loadSeccompProfile(DEFAULT_SECCOMP_PROFILE, true), p, 'cached');
    const allows = (caps: readonly string[]) =>
      convertSeccompProfile(p, { ...ctx, caps }).syscalls!.filter((c) => c.action === 'SCMP_ACT_ALLOW' && !c.args?.length).flatMap((c) => c.names);
    assert.ok(allows(DEFAULT_CAPABILITIES).includes('read'));
    // containers-common's profile gates sethostname (and bpf, quotactl, ...) on CAP_SYS_ADMIN.
    assert.ok(!allows(DEFAULT_CAPABILITIES).includes('sethostname'));
    assert.ok(allows([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']).includes('sethostname'));
  });
  test('profile errors', () => {
    const dir = tmp();
    assert.throws(() => loadSeccompProfile(path.join(dir, 'none.json')), (e) => e instanceof StackError && e.kind === 'not-found');
    const bad = write(dir, 'bad.json', JSON.stringify({ syscalls: [] }));
    assert.throws(() => loadSeccompProfile(bad), stackError(/seccomp profile .*bad\.json: "defaultAction" must be a string/));
    const both = write(dir, 'both.json', JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [] }));
    assert.throws(() => loadSeccompProfile(both), stackError('both'));
  });
  test('security_opt', () => {
    assert.deepEqual(parseSecurityOpts(undefined, 'web'), { seccomp: { kind: 'default' }, noNewPrivileges: false, unmaskSystemPaths: false });
    assert.deepEqual(parseSecurityOpts(['seccomp=unconfined', 'no-new-privileges', 'label=disable', 'apparmor=unconfined'], 'web'), {
      seccomp: { kind: 'unconfined' },
      noNewPrivileges: true,
      unmaskSystemPaths: false,
    });
    assert.deepEqual(parseSecurityOpts(['seccomp:/p.json', 'no-new-privileges:true', 'no-new-privileges=false', 'systempaths=unconfined'], 'web'), {
      seccomp: { kind: 'profile', path: '/p.json' },
      noNewPrivileges: false,
      unmaskSystemPaths: true,
    });
    assert.throws(() => parseSecurityOpts(['apparmor=docker-default'], 'web'), stackError('not supported'));
    assert.throws(() => parseSecurityOpts(['label=type:svirt_t'], 'web'), stackError('not supported'));
    assert.throws(() => parseSecurityOpts(['seccomp=rel.json'], 'web'), stackError('absolute'));
    assert.throws(() => parseSecurityOpts(['no-new-privilege'], 'web'), stackError('unknown option', 'did you mean "no-new-privileges"?'));
    assert.throws(() => parseSecurityOpts(['no-new-privileges=maybe'], 'web'), stackError('true or false'));
  });
});

describe('rlimits', () => {
  test('NOFILE defaults to 1048576, capped at the host hard limit without a warning', () => {
    assert.deepEqual(buildRlimits(undefined, {}, 'web'), { rlimits: [{ type: 'RLIMIT_NOFILE', soft: DEFAULT_NOFILE, hard: DEFAULT_NOFILE }], warnings: [] });
    assert.deepEqual(buildRlimits(undefined, { RLIMIT_NOFILE: 20000 }, 'web'), { rlimits: [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }], warnings: [] });
  });
  test('service limits override; above the host they are capped with a warning', () => {
    const r = buildRlimits({ nofile: { soft: 30000, hard: 50000 }, NPROC: { soft: 100, hard: 200 } }, { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: Infinity }, 'web');
    assert.deepEqual(r.rlimits, [
      { type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 },
      { type: 'RLIMIT_NPROC', soft: 100, hard: 200 },
    ]);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /service web: ulimits.nofile: 50000 is above the host's hard limit 20000; using 20000/);
    assert.deepEqual(buildRlimits({ nofile: { soft: 1024, hard: 4096 } }, { RLIMIT_NOFILE: 20000 }, 'web').rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }]);
  });
  test('-1 is unlimited', () => {
    assert.deepEqual(buildRlimits({ core: { soft: -1, hard: -1 } }, { RLIMIT_CORE: Infinity }, 'web').rlimits[1], { type: 'RLIMIT_CORE', soft: UNLIMITED, hard: UNLIMITED });
    const capped = buildRlimits({ memlock: { soft: -1, hard: -1 } }, { RLIMIT_MEMLOCK: 8388608 }, 'web');
    assert.deepEqual(capped.rlimits[1], { type: 'RLIMIT_MEMLOCK', soft: 8388608, hard: 8388608 });
    assert.match(capped.warnings[0]!, /unlimited is above the host's hard limit 8388608/);
  });
  test('errors', () => {
    assert.throws(() => buildRlimits({ nofiles: { soft: 1, hard: 1 } }, {}, 'web'), stackError('unknown limit "nofiles"', 'did you mean "nofile"?'));
    assert.throws(() => buildRlimits({ nofile: { soft: 10, hard: 5 } }, {}, 'web'), stackError('soft limit 10 is above the hard limit 5'));
    assert.throws(() => buildRlimits({ nofile: { soft: -5, hard: 5 } }, {}, 'web'), stackError('whole numbers'));
  });
  test('/proc/self/limits parses', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max cpu time              unlimited            unlimited            seconds   ',
      'Max open files            20000                20000                files     ',
      'Max nice priority         0                    0                    ',
      'Max realtime timeout      unlimited            unlimited            us        ',
    ].join('\n');
    assert.deepEqual(parseProcLimits(text), { RLIMIT_CPU: Infinity, RLIMIT_NOFILE: 20000, RLIMIT_NICE: 0, RLIMIT_RTTIME: Infinity });
  });
});

describe('tmpfs and mount order', () => {
  test('tmpfs entries get docker\'s defaults, the user\'s options win', () => {
    assert.deepEqual(parseTmpfs('/run:size=64m,mode=1777,uid=1000', 'web'), {
      destination: '/run',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=64m', 'mode=1777', 'uid=1000'],
    });
    assert.deepEqual(parseTmpfs('/tmp/:exec,size=1m,size=2m,shared', 'web').options, ['nosuid', 'nodev', 'exec', 'size=2m', 'shared']);
    assert.equal(parseTmpfs('/tmp/', 'web').destination, '/tmp');
    assert.throws(() => parseTmpfs('tmp', 'web'), stackError('absolute'));
    assert.throws(() => parseTmpfs('/tmp:sise=1m', 'web'), stackError('unknown option "sise=1m"', 'did you mean "size"?'));
    assert.throws(() => parseTmpfs('/tmp:mode=999', 'web'), stackError('invalid value'));
  });
  test('parents go first, otherwise the order is kept', () => {
    const m = (d: string): OciMount => ({ destination: d });
    assert.deepEqual(parentsFirst([m('/a/b'), m('/c'), m('/a'), m('/a/b/c'), m('/a/'), m('/c')]).map((x) => x.destination), ['/c', '/a', '/a/', '/a/b', '/a/b/c', '/c']);
  });
});

describe('buildSpec', () => {
  const host: HostFacts = { kernelRelease: '6.1.0', arch: 'amd64', lastCap: 40, hardLimits: { RLIMIT_NOFILE: 20000 } };
  const rootfs = tmp();
  write(rootfs, 'etc/passwd', PASSWD);
  write(rootfs, 'etc/group', GROUP);
  const etcFiles = { hosts: '/run/stack/c1/hosts', hostname: '/run/stack/c1/hostname', resolvConf: '/run/stack/c1/resolv.conf' };
  const profile = write(tmp(), 'profile.json', JSON.stringify({
    defaultAction: 'SCMP_ACT_ERRNO',
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    ],
  }));
  const input = (over: Partial<SpecInput> = {}, service: Partial<Service> = {}): SpecInput => ({
    service: svc({ command: ['nginx', '-g', 'daemon off;'], ...service }),
    image: { Env: ['PATH=/usr/sbin:/usr/bin', 'NGINX_VERSION=1.25'], WorkingDir: '/srv' },
    rootfs,
    hostname: 'web-1',
    etcFiles,
    mounts: [],
    network: { kind: 'netns', path: '/run/netns/stack-p-web-1' },
    cgroupNamespace: false,
    cgroupsPath: '/stack/p/web-1',
    resources: {},
    seccompProfile: profile,
    host,
    ...over,
  });

  test('key fields of a default container', () => {
    const { spec, warnings } = buildSpec(input({ resources: { pids: { limit: 100 }, devices: [{ allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }] } }));
    assert.deepEqual(warnings, []);
    assert.equal(spec.ociVersion, '1.0.2');
    assert.deepEqual(spec.process.args, ['nginx', '-g', 'daemon off;']);
    assert.deepEqual(spec.process.env, ['PATH=/usr/sbin:/usr/bin', 'HOSTNAME=web-1', 'NGINX_VERSION=1.25', 'HOME=/root']);
    assert.equal(spec.process.cwd, '/srv');
    assert.equal(spec.process.terminal, false);
    assert.deepEqual(spec.process.user, { uid: 0, gid: 0, additionalGids: [10] });
    assert.deepEqual(spec.process.capabilities!.effective, DEFAULT_CAPABILITIES);
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
    assert.equal(spec.process.noNewPrivileges, false);
    assert.deepEqual(spec.root, { path: rootfs, readonly: false });
    assert.equal(spec.hostname, 'web-1');
    assert.deepEqual(spec.linux.namespaces, [
      { type: 'mount' },
      { type: 'network', path: '/run/netns/stack-p-web-1' },
      { type: 'uts' },
      { type: 'pid' },
      { type: 'ipc' },
    ]);
    assert.equal(spec.linux.cgroupsPath, '/stack/p/web-1');
    assert.deepEqual(spec.linux.resources, {
      pids: { limit: 100 },
      devices: [...DEFAULT_DEVICE_RULES, { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }],
    });
    assert.deepEqual(spec.linux.maskedPaths, MASKED_PATHS);
    assert.deepEqual(spec.linux.readonlyPaths, READONLY_PATHS);
    assert.deepEqual(spec.mounts.map((m) => m.destination), [
      '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf',
    ]);
    assert.deepEqual(spec.mounts[3], { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] });
    assert.deepEqual(spec.mounts[5]!.options, ['nosuid', 'noexec', 'nodev', 'ro']);
    assert.deepEqual(spec.mounts[7], { destination: '/etc/hosts', type: 'bind', source: etcFiles.hosts, options: ['rbind', 'rprivate'] });
    assert.deepEqual(spec.linux.seccomp, { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] });
    assert.equal(spec.linux.sysctl, undefined);
    assert.equal(spec.linux.devices, undefined);
    assert.equal(spec.annotations, undefined);
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec, 'JSON-clean');
  });

  test('the same input gives the same spec', () => {
    assert.deepEqual(buildSpec(input()), buildSpec(input()));
  });

  test('service attributes', () => {
    const { spec } = buildSpec(input({ annotations: { 'io.stack.project': 'p' } }, {
      user: 'app',
      working_dir: '/app',
      tty: true,
      read_only: true,
      oom_score_adj: 500,
      domainname: 'example.org',
      sysctls: { 'net.core.somaxconn': '1024', 'kernel.shmmax': '68719476736' },
      cap_add: ['SYS_ADMIN'],
      security_opt: ['no-new-privileges:true'],
      annotations: { 'org.example/a': '1', 'io.stack.project': 'user' },
      shm_size: 1024 * 1024,
      environment: { FOO: 'bar' },
    }));
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [10, 50] });
    assert.equal(spec.process.cwd, '/app');
    assert.equal(spec.process.terminal, true);
    assert.deepEqual(spec.process.env, ['PATH=/usr/sbin:/usr/bin', 'HOSTNAME=web-1', 'TERM=xterm', 'NGINX_VERSION=1.25', 'FOO=bar', 'HOME=/home/app']);
    assert.equal(spec.process.oomScoreAdj, 500);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.deepEqual(spec.process.capabilities!.effective, [], 'non-root: bounding only');
    assert.ok(spec.process.capabilities!.bounding.includes('CAP_SYS_ADMIN'));
    assert.deepEqual(spec.linux.seccomp!.syscalls!.map((s) => s.names[0]), ['read', 'mount'], 'the SYS_ADMIN rule is kept');
    assert.equal(spec.root.readonly, true);
    assert.deepEqual(spec.linux.sysctl, { 'net.core.somaxconn': '1024', 'kernel.shmmax': '68719476736', 'kernel.domainname': 'example.org' });
    assert.deepEqual(spec.annotations, { 'org.example/a': '1', 'io.stack.project': 'p' });
    assert.ok(spec.mounts.find((m) => m.destination === '/dev/shm')!.options!.includes('size=1048576'));
  });

  test('mount order: tmpfs, then the volume layer\'s, parents before children, init last', () => {
    const bind = (destination: string, source: string): OciMount => ({ destination, type: 'bind', source, options: ['rbind'] });
    const { spec } = buildSpec(input({ mounts: [bind('/data', '/srv/data'), bind('/etc', '/srv/etc'), bind('/run/secrets/x', '/s/x')], init: { hostPath: '/usr/bin/catatonit' } }, { tmpfs: ['/run:size=1m'] }));
    assert.deepEqual(spec.mounts.map((m) => m.destination), [
      '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup',
      '/run', '/data', '/etc', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/secrets/x', '/run/stack-init',
    ]);
    assert.deepEqual(spec.mounts.at(-1), { destination: '/run/stack-init', type: 'bind', source: '/usr/bin/catatonit', options: ['bind', 'ro', 'nosuid', 'nodev', 'rprivate'] });
    assert.deepEqual(spec.process.args, ['/run/stack-init', '--', 'nginx', '-g', 'daemon off;']);
  });

  test('user mounts replace the defaults at the same place, and /dev replaces all of /dev', () => {
    const shm: OciMount = { destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['size=1g'] };
    const resolv: OciMount = { destination: '/etc/resolv.conf/', type: 'bind', source: '/my/resolv.conf', options: ['rbind', 'ro'] };
    const { spec } = buildSpec(input({ mounts: [shm, resolv] }));
    assert.deepEqual(spec.mounts.filter((m) => m.destination.startsWith('/dev/shm')), [shm]);
    assert.deepEqual(spec.mounts.filter((m) => m.destination.startsWith('/etc/resolv.conf')), [resolv]);
    const dev = buildSpec(input({ mounts: [{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }] })).spec;
    assert.deepEqual(dev.mounts.filter((m) => m.destination.startsWith('/dev')).map((m) => m.source), ['/dev']);
  });

  test('namespaces follow pid, ipc, uts, cgroup and the network', () => {
    const types = (s: SpecInput) => buildSpec(s).spec.linux.namespaces.map((n) => (n.path ? `${n.type}=${n.path}` : n.type));
    assert.deepEqual(types(input({ network: { kind: 'host' } })), ['mount', 'uts', 'pid', 'ipc']);
    assert.deepEqual(types(input({ network: { kind: 'none' }, cgroupNamespace: true })), ['mount', 'network', 'uts', 'pid', 'ipc', 'cgroup']);
    assert.deepEqual(types(input({ cgroupNamespace: true }, { cgroup: 'host', pid: 'host', ipc: 'host' })), ['mount', 'network=/run/netns/stack-p-web-1', 'uts']);
    assert.deepEqual(types(input({ sharedNamespaces: { pid: '/proc/42/ns/pid' } }, { pid: 'service:db', cgroup: 'private' })), [
      'mount', 'network=/run/netns/stack-p-web-1', 'uts', 'pid=/proc/42/ns/pid', 'ipc', 'cgroup',
    ]);
    const uts = buildSpec(input({}, { uts: 'host' })).spec;
    assert.equal(uts.hostname, undefined);
    assert.ok(uts.process.env.includes('HOSTNAME=web-1'));
    const hostIpc = buildSpec(input({}, { ipc: 'host' })).spec.mounts.find((m) => m.destination === '/dev/shm');
    assert.equal(hostIpc?.source, '/dev/shm');
    assert.equal(buildSpec(input({}, { ipc: 'none' })).spec.mounts.find((m) => m.destination === '/dev/shm'), undefined);
    assert.throws(() => buildSpec(input({}, { pid: 'service:db' })), stackError('needs the namespace of a running container'));
    assert.throws(() => buildSpec(input({}, { ipc: 'bogus' })), stackError('ipc: unsupported value "bogus"'));
    assert.throws(() => buildSpec(input({}, { userns_mode: 'keep-id' })), stackError('not supported'));
  });

  test('sysctls must belong to a namespace of the container\'s own', () => {
    assert.throws(() => buildSpec(input({ network: { kind: 'host' } }, { sysctls: { 'net.ipv4.ip_forward': '1' } })), stackError('cannot be set with network_mode: host'));
    assert.throws(() => buildSpec(input({}, { ipc: 'host', sysctls: { 'kernel.shmmax': '1' } })), stackError('cannot be set with ipc: host'));
    assert.throws(() => buildSpec(input({}, { sysctls: { 'vm.swappiness': '1' } })), stackError('is not namespaced'));
    assert.throws(() => buildSpec(input({}, { uts: 'host', domainname: 'x.org' })), stackError('domainname cannot be set'));
  });

  test('devices: a node at the container path and a cgroup rule', { skip: !existsSync('/dev/null') && 'no /dev/null' }, () => {
    const { spec } = buildSpec(input({}, { devices: [{ source: '/dev/null', target: '/dev/mynull', permissions: 'rw' }] }));
    assert.deepEqual(spec.linux.devices, [{ type: 'c', path: '/dev/mynull', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }]);
    assert.deepEqual(spec.linux.resources!.devices!.at(-1), { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
    assert.throws(() => buildSpec(input({}, { devices: [{ source: '/dev/null', target: '/dev/n', permissions: 'rwx' }] })), stackError('invalid permissions "rwx"'));
    assert.throws(() => buildSpec(input({}, { devices: [{ source: '/dev/null', target: '/dev/n', permissions: 'rr' }] })), stackError('invalid permissions'));
    assert.throws(() => buildSpec(input({}, { devices: [{ source: '/dev/nope-stack', target: '/dev/n', permissions: 'rwm' }] })), (e) => e instanceof StackError && e.kind === 'not-found');
    assert.throws(() => buildSpec(input({}, { devices: [{ source: rootfs, target: '/dev/n', permissions: 'rwm' }] })), stackError('not a device'));
  });

  test('privileged: all caps and devices, no seccomp, no masked paths, /sys and cgroups writable', () => {
    const { spec } = buildSpec(input({}, { privileged: true, cap_drop: ['ALL'] }));
    assert.deepEqual(spec.process.capabilities!.bounding, CAPABILITY_NAMES);
    assert.equal(spec.linux.seccomp, undefined);
    assert.equal(spec.linux.maskedPaths, undefined);
    assert.equal(spec.linux.readonlyPaths, undefined);
    assert.deepEqual(spec.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('ro'));
    if (existsSync('/dev/null')) assert.ok(spec.linux.devices!.some((d) => d.path === '/dev/null' && d.major === 1 && d.minor === 3));
  });

  test('security_opt: unconfined seccomp, a profile of its own, systempaths', () => {
    assert.equal(buildSpec(input({}, { security_opt: ['seccomp=unconfined'] })).spec.linux.seccomp, undefined);
    const own = write(tmp(), 'own.json', JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO' }] }));
    assert.deepEqual(buildSpec(input({}, { security_opt: [`seccomp=${own}`] })).spec.linux.seccomp, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['reboot'], action: 'SCMP_ACT_ERRNO' }],
    });
    const open = buildSpec(input({}, { security_opt: ['systempaths=unconfined'] })).spec;
    assert.equal(open.linux.maskedPaths, undefined);
    assert.throws(() => buildSpec(input({}, { security_opt: ['bogus'] })), stackError('unknown option "bogus"'));
  });

  test('errors name the service', () => {
    assert.throws(() => buildSpec(input({}, { command: [] , entrypoint: [] })), stackError('service web has no command to run'));
    assert.throws(() => buildSpec(input({}, { user: 'ghost' })), stackError('service web: unknown user "ghost"'));
    assert.throws(() => buildSpec(input({}, { working_dir: 'app' })), stackError('must be an absolute path'));
    assert.throws(() => buildSpec(input({}, { cap_add: ['NET_ADMN'] })), stackError('unknown capability', 'NET_ADMIN'));
  });

  test('a capped ulimit is a warning', () => {
    const { spec, warnings } = buildSpec(input({}, { ulimits: { nofile: { soft: 65536, hard: 65536 } } }));
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
    assert.equal(warnings.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// The generated config.json, executed by runc.

const BUSYBOX = '/bin/busybox';
const runcSkip = process.platform !== 'linux' ? 'not Linux'
  : process.getuid?.() !== 0 ? 'needs root'
  : spawnSync('runc', ['--version']).status !== 0 ? 'runc not installed'
  : !existsSync(BUSYBOX) ? 'busybox-static not installed'
  : !existsSync(DEFAULT_SECCOMP_PROFILE) ? 'no default seccomp profile'
  : false;

describe('runc runs the generated spec', { skip: runcSkip }, () => {
  const unique = `t${process.pid}-${Date.now().toString(36)}`;
  const cgroupParent = 'stack-spec-test';
  const base = runcSkip ? '' : tmp();
  const stateRoot = path.join(base, 'runc-state');
  const ids: string[] = [];

  after(() => {
    for (const id of ids) spawnSync('runc', ['--root', stateRoot, 'delete', '--force', id]);
    // runc removes its cgroups on delete; remove what a failed run may have left, deepest first.
    // cgroupfs directories go with rmdir only, and only ours: <hierarchy>/stack-spec-test/<unique>-*.
    let hierarchies: string[] = [];
    try {
      hierarchies = readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h));
    } catch {
      // no cgroupfs
    }
    for (const h of [...hierarchies, '/sys/fs/cgroup']) {
      const parent = path.join(h, cgroupParent);
      let children: string[] = [];
      try {
        children = readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name.startsWith(unique)).map((d) => d.name);
      } catch {
        continue;
      }
      for (const c of children) {
        try {
          rmdirSync(path.join(parent, c));
        } catch {
          // still in use: nothing more we may do
        }
      }
      try {
        rmdirSync(parent); // only when empty: another run may be using it
      } catch {
        // not empty, or gone
      }
    }
  });

  function bundle(name: string, service: Partial<Service>, over: Partial<SpecInput> = {}): { dir: string; id: string } {
    const dir = path.join(base, name);
    const rootfs = path.join(dir, 'rootfs');
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
    symlinkSync('busybox', path.join(rootfs, 'bin/sh'));
    const etc = {
      hosts: write(dir, 'etc/hosts', '127.0.0.1\tlocalhost\n'),
      hostname: write(dir, 'etc/hostname', `${name}\n`),
      resolvConf: write(dir, 'etc/resolv.conf', 'nameserver 127.0.0.1\n'),
    };
    const id = `${unique}-${name}`;
    const { spec } = buildSpec({
      service: svc({ name, ...service }),
      image: {},
      rootfs,
      hostname: name,
      etcFiles: etc,
      mounts: [],
      network: { kind: 'none' },
      cgroupNamespace: false,
      cgroupsPath: `/${cgroupParent}/${id}`,
      resources: {},
      ...over,
    });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return { dir, id };
  }

  function run(b: { dir: string; id: string }) {
    ids.push(b.id);
    const r = spawnSync('runc', ['--root', stateRoot, 'run', '--bundle', b.dir, b.id], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    spawnSync('runc', ['--root', stateRoot, 'delete', '--force', b.id]);
    return r;
  }

  test('sh -c "echo ok" as root, default seccomp, no network', () => {
    const r = run(bundle('plain', { command: ['sh', '-c', 'echo ok'] }));
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'ok\n');
    assert.equal(r.status, 0);
  });

  test('a non-root user, read-only rootfs with a tmpfs, init, hostname, env', () => {
    const script = [
      'echo "$(/bin/busybox id -u):$(/bin/busybox id -g) $(/bin/busybox hostname) $HOME $GREETING"',
      '/bin/busybox touch /run/x && echo tmpfs-writable',
      '/bin/busybox touch /x 2>/dev/null || echo root-readonly',
      '/bin/busybox grep -q "^CapEff:\\s*0000000000000000" /proc/self/status && echo no-effective-caps',
      'echo "$PPID"',
    ].join('; ');
    const catatonit = ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit'].find((p) => existsSync(p));
    const r = run(bundle('user', {
      command: ['sh', '-c', script],
      user: '1000:1000',
      read_only: true,
      tmpfs: ['/run:size=1m,mode=1777'],
      environment: { GREETING: 'hi' },
    }, catatonit ? { init: { hostPath: catatonit } } : {}));
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 4), ['1000:1000 user / hi', 'tmpfs-writable', 'root-readonly', 'no-effective-caps']);
    // Under an init the shell is not pid 1's only child of nothing: its parent is the init (pid 1).
    assert.equal(lines[4], catatonit ? '1' : '0');
  });
});
