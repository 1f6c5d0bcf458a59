/**
 * The two ways a layer says "deleted". OCI layer tars use AUFS's names: an empty file
 * `.wh.<name>` deletes <name> from the layers below, and `.wh..wh..opq` in a directory hides
 * everything below it. Layer directories are overlayfs lowerdirs, so there a deleted name is a
 * character device 0:0 and an opaque directory carries trusted.overlay.opaque=y.
 */
import type { BigIntStats } from 'node:fs';
import { lgetxattr, lsetxattr, mknod, S_IFCHR } from '../../sys/file-calls.js';

export const WHITEOUT_PREFIX = '.wh.';
/** AUFS's own bookkeeping (hardlink store, opaque marker): never a deleted file's name. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/** What a tar entry's last path component means. */
export type OciName = { kind: 'plain' } | { kind: 'opaque' } | { kind: 'meta' } | { kind: 'whiteout'; target: string };

export function classifyOciName(base: string): OciName {
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  if (base.startsWith(WHITEOUT_PREFIX)) return { kind: 'whiteout', target: base.slice(WHITEOUT_PREFIX.length) };
  return { kind: 'plain' };
}

export function isOverlayWhiteout(stats: BigIntStats): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0n;
}

export function isOverlayOpaque(dirPath: string): boolean {
  return lgetxattr(dirPath, OVERLAY_OPAQUE_XATTR)?.toString('latin1') === 'y';
}

/** Mode 0, as overlayfs makes its own whiteouts. */
export function makeOverlayWhiteout(path: string): void {
  mknod(path, S_IFCHR, 0n);
}

export function markOverlayOpaque(dirPath: string): void {
  lsetxattr(dirPath, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
}

/** overlayfs metadata that would make the upper directory alone an incomplete layer. */
const UNPACKABLE_OVERLAY_XATTRS = new Set(['trusted.overlay.redirect', 'trusted.overlay.metacopy']);

export function isUnpackableOverlayXattr(name: string): boolean {
  return UNPACKABLE_OVERLAY_XATTRS.has(name);
}

/**
 * Whether an xattr belongs in a layer. overlayfs's own (trusted.overlay.*, or user.overlay.*
 * under the userxattr option) steer lookups through the layer stack: a layer tar must not be
 * able to set a redirect or a metacopy, and only whiteout entries make a directory opaque.
 * SELinux labels describe the host that wrote the files; the runtime labels the container.
 */
export function isLayerXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.') && name !== 'security.selinux';
}
