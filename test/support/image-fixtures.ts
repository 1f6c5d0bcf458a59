/**
 * Inputs for image store tests: small root filesystems as tars, and a walk of a directory
 * tree for checking what the store left on disk.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeBusyboxRootfs } from './busybox-rootfs.js';

/** `dir` as an uncompressed tar at `out`, numeric owners, sorted (so the same tree gives the same bytes). */
export function tarDir(dir: string, out: string): string {
  execFileSync('tar', ['-C', dir, '--numeric-owner', '--sort=name', '--mtime=@0', '-cf', out, '.']);
  return out;
}

/** A three-file tree, tarred: enough for a layer whose content tests can check. */
export function tinyRootfsTar(base: string, tag = 'tiny'): string {
  const dir = path.join(base, `${tag}-rootfs`);
  mkdirSync(path.join(dir, 'etc'), { recursive: true });
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  writeFileSync(path.join(dir, 'etc/os-release'), `NAME=${tag}\n`);
  writeFileSync(path.join(dir, 'etc/hostname'), 'tiny\n');
  writeFileSync(path.join(dir, 'bin/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  return tarDir(dir, path.join(base, `${tag}.tar`));
}

export function busyboxRootfsTar(base: string): string {
  const dir = makeBusyboxRootfs(path.join(base, 'busybox-rootfs'));
  return tarDir(dir, path.join(base, 'busybox.tar'));
}

/** Relative paths of every regular file under `dir` (empty when it does not exist). */
export function filesUnder(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

/** The tool's path, or undefined when it is not installed. */
export function tool(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
