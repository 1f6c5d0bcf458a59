/**
 * Seccomp profiles in docker's format (what `docker run --security-opt seccomp=...` takes
 * and podman ships in containers-common) converted to the OCI `linux.seccomp` a runtime
 * loads, the way moby's setupSeccomp does: the architecture list is the host's entry of
 * `archMap` (native plus its sub-architectures: x86_64 also runs x86 and x32 code), and each
 * rule is kept only when its `includes` hold and its `excludes` do not, judged against the
 * container's final bounding capability set, the host architecture and the running kernel.
 * The capability conditions are why a profile can allow `mount` to a container given
 * CAP_SYS_ADMIN and deny it otherwise.
 */

import { readFileSync } from 'node:fs';
import { StackError } from '../../errors.js';
import type { OciSeccomp } from '../oci-spec.js';
import { kernelAtLeast } from './host.js';

export const DEFAULT_SECCOMP_PROFILE = '/usr/share/containers/seccomp.json';

type SeccompArg = NonNullable<NonNullable<OciSeccomp['syscalls']>[number]['args']>[number];

export interface SeccompFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

export interface DockerSyscallRule {
  /** the older single-name form */
  name?: string;
  names?: string[] | null;
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: SeccompFilter | null;
  excludes?: SeccompFilter | null;
  comment?: string;
}

export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  /** the older flat form; a profile has this or archMap, not both */
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  flags?: string[] | null;
  syscalls?: DockerSyscallRule[] | null;
}

export interface SeccompContext {
  /** the container's bounding set, `CAP_*` */
  caps: readonly string[];
  /** Go's GOARCH of the host (`amd64`) */
  arch: string;
  /** os.release() */
  kernelRelease: string;
}

/** GOARCH -> the libseccomp name of that native architecture, as moby maps it. */
const NATIVE_ARCH: Record<string, string> = {
  '386': 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64le: 'SCMP_ARCH_MIPSEL64',
  mipsle: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
};

/** Profiles write 32-bit x86 as libseccomp does (`x86`), Go says `386`: both name the host. */
function archNames(arch: string): string[] {
  return arch === '386' ? ['386', 'x86'] : [arch];
}

export function convertSeccompProfile(profile: DockerSeccompProfile, ctx: SeccompContext): OciSeccomp {
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const native = NATIVE_ARCH[ctx.arch];
  if (profile.archMap?.length) {
    const entry = profile.archMap.find((a) => a.architecture === native);
    if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  } else if (profile.architectures?.length) {
    out.architectures = [...profile.architectures];
  }
  if (profile.flags?.length) out.flags = [...profile.flags];
  const arches = archNames(ctx.arch);
  const held = new Set(ctx.caps);
  const syscalls: NonNullable<OciSeccomp['syscalls']> = [];
  for (const rule of profile.syscalls ?? []) {
    const ex = rule.excludes;
    if (ex) {
      if (ex.arches?.some((a) => arches.includes(a))) continue;
      if (ex.caps?.some((c) => held.has(c))) continue;
      if (ex.minKernel && kernelAtLeast(ctx.kernelRelease, ex.minKernel)) continue;
    }
    const inc = rule.includes;
    if (inc) {
      if (inc.arches?.length && !inc.arches.some((a) => arches.includes(a))) continue;
      if (inc.caps?.length && !inc.caps.every((c) => held.has(c))) continue;
      if (inc.minKernel && !kernelAtLeast(ctx.kernelRelease, inc.minKernel)) continue;
    }
    const names = rule.names?.length ? [...rule.names] : rule.name ? [rule.name] : [];
    const call: NonNullable<OciSeccomp['syscalls']>[number] = { names, action: rule.action };
    if (rule.errnoRet !== undefined) call.errnoRet = rule.errnoRet;
    if (rule.args?.length) call.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(call);
  }
  out.syscalls = syscalls;
  return out;
}

const cache = new Map<string, DockerSeccompProfile>();

/**
 * Reads and checks a docker-format profile. `cached` keeps it for the life of the process,
 * which is what the default profile wants (read once, used for every container); a user's
 * own profile is read each time so an edit takes effect on the next `up`.
 */
export function loadSeccompProfile(file: string, cached = false): DockerSeccompProfile {
  const hit = cached ? cache.get(file) : undefined;
  if (hit) return hit;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new StackError(`cannot read seccomp profile ${file}: ${(e as Error).message}`, {
      kind: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not-found' : 'system',
      hint: file === DEFAULT_SECCOMP_PROFILE ? 'install golang-github-containers-common (Debian) or containers-common' : undefined,
      cause: e,
    });
  }
  let profile: DockerSeccompProfile;
  try {
    profile = parseSeccompProfile(JSON.parse(text));
  } catch (e) {
    throw new StackError(`seccomp profile ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (cached) cache.set(file, profile);
  return profile;
}

/** Checks the shape of a parsed profile; throws a plain Error naming the first problem. */
export function parseSeccompProfile(raw: unknown): DockerSeccompProfile {
  if (!isObject(raw)) throw new Error('expected a JSON object');
  if (typeof raw.defaultAction !== 'string') throw new Error('"defaultAction" must be a string');
  if (raw.architectures != null && raw.archMap != null) {
    throw new Error("both 'architectures' and 'archMap' are set; use one");
  }
  if (raw.syscalls != null && !Array.isArray(raw.syscalls)) throw new Error('"syscalls" must be a list');
  (raw.syscalls as unknown[] | null | undefined)?.forEach((r, i) => {
    if (!isObject(r) || typeof r.action !== 'string') throw new Error(`syscalls[${i}]: "action" must be a string`);
    if (r.name != null && r.names != null && (r.names as unknown[]).length > 0) {
      throw new Error(`syscalls[${i}]: use either "name" or "names"`);
    }
    for (const k of ['includes', 'excludes'] as const) {
      const f = r[k];
      if (isObject(f) && f.minKernel != null && !/^\d+\.\d+/.test(String(f.minKernel))) {
        throw new Error(`syscalls[${i}].${k}.minKernel: "${String(f.minKernel)}" is not a kernel version`);
      }
    }
  });
  return raw as unknown as DockerSeccompProfile;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
