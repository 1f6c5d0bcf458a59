/**
 * Platforms (`linux/arm64/v8`) as containerd's platforms package reads and matches them:
 * normalized names (`aarch64` is `arm64`, `x86_64` is `amd64`), arm64's default variant
 * `v8`, and arm variants older than the one asked for accepted, best first.
 */
import { StackError } from '../errors.js';
import { hostArch, type Descriptor, type Platform } from '../image/store/oci-types.js';

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

export function parsePlatform(spec: string): Platform {
  const parts = spec.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new StackError(`invalid platform ${JSON.stringify(spec)}`, { hint: 'a platform is os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8' });
  }
  const [os, arch, variant] = parts as [string, string, string?];
  return normalize({ os, architecture: arch, ...(variant !== undefined && { variant }) });
}

export function hostPlatform(): Platform {
  return normalize({ os: 'linux', architecture: hostArch() });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The manifest of an index that runs on `want`, or undefined; attestation entries never match. */
export function selectManifest(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  const w = normalize(want);
  const variants = acceptedVariants(w);
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of manifests) {
    if (!d.platform || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const p = normalize(d.platform);
    if (p.os !== w.os || p.architecture !== w.architecture) continue;
    const rank = variants.indexOf(p.variant ?? '');
    if (rank < 0) continue;
    if (!best || rank < best.rank) best = { d, rank };
  }
  return best?.d;
}

function normalize(p: Platform): Platform {
  const architecture = ARCH_ALIASES[p.architecture] ?? p.architecture;
  let variant = p.variant;
  if (architecture === 'arm64' && (variant === undefined || variant === 'v8' || variant === '8')) variant = undefined;
  else if (architecture === 'arm' && variant === undefined) variant = 'v7';
  else if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { os: p.os, architecture, ...(variant !== undefined && { variant }) };
}

/** Variants that run where `p` runs, best first ('' = none given). */
function acceptedVariants(p: Platform): string[] {
  if (p.architecture === 'arm') {
    const n = Number((p.variant ?? 'v7').replace(/^v/, ''));
    const out: string[] = [];
    for (let v = n; v >= 5; v--) out.push(`v${v}`);
    return out;
  }
  if (p.architecture === 'amd64' && p.variant !== undefined) {
    const n = Number(p.variant.replace(/^v/, ''));
    const out: string[] = [];
    for (let v = n; v >= 2; v--) out.push(`v${v}`);
    return [...out, ''];
  }
  return [p.variant ?? ''];
}
