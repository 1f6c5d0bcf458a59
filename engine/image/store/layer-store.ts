/**
 * `layers/<diffid-hex>/`: a layer's extracted overlay-format tree (`diff/`, used directly
 * as a lowerdir) and `layer.json`, the blob it came from. Keyed by diffID, the hash of the
 * uncompressed tar, so a layer is kept once whichever compression brought it in. A layer
 * dir appears by one rename of a finished staging dir: it is there whole or not at all.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../errors.js';
import { digestHex } from './digest.js';

export interface LayerRecord {
  diffId: string;
  digest: string;
  size: number;
  mediaType: string;
  /** the extracted diff dir */
  dir: string;
}

export type LayerMeta = Omit<LayerRecord, 'dir'>;

export class LayerStore {
  constructor(
    readonly dir: string,
    private readonly tmp: () => string,
  ) {}

  get(diffId: string): LayerRecord | undefined {
    const base = path.join(this.dir, digestHex(diffId));
    let meta: LayerMeta;
    try {
      meta = JSON.parse(readFileSync(path.join(base, 'layer.json'), 'utf8')) as LayerMeta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StackError(`layer ${diffId} in the image store is damaged: ${(e as Error).message}`, { kind: 'system', cause: e });
    }
    return { diffId: meta.diffId, digest: meta.digest, size: meta.size, mediaType: meta.mediaType, dir: path.join(base, 'diff') };
  }

  list(): LayerRecord[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((n) => this.get(`sha256:${n}`))
      .filter((l): l is LayerRecord => l !== undefined);
  }

  /** The layer stored from the blob `digest`, when one was. */
  byBlob(digest: string): LayerRecord | undefined {
    return this.list().find((l) => l.digest === digest);
  }

  /**
   * Makes `diffDir` the stored tree of the layer `meta` describes, by rename (so it must be
   * on the store's filesystem: EXDEV is left to the caller). When the layer is already
   * stored, `diffDir` is removed instead and the stored layer returned.
   */
  adopt(diffDir: string, meta: LayerMeta): LayerRecord {
    const existing = this.get(meta.diffId);
    if (existing) {
      rmSync(diffDir, { recursive: true, force: true });
      return existing;
    }
    const stage = this.tmp();
    try {
      renameSync(diffDir, path.join(stage, 'diff'));
    } catch (e) {
      rmSync(stage, { recursive: true, force: true });
      throw e;
    }
    return this.install(stage, meta);
  }

  /** Installs a staging dir that already holds `diff/`; the staging dir is consumed either way. */
  install(stage: string, meta: LayerMeta): LayerRecord {
    const fields: LayerMeta = { diffId: meta.diffId, digest: meta.digest, size: meta.size, mediaType: meta.mediaType };
    writeFileSync(path.join(stage, 'layer.json'), `${JSON.stringify(fields, null, 2)}\n`, { flush: true });
    const target = path.join(this.dir, digestHex(meta.diffId));
    try {
      renameSync(stage, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      // another process stored the same layer first
      rmSync(stage, { recursive: true, force: true });
    }
    const stored = this.get(meta.diffId);
    if (!stored) throw new StackError(`layer ${meta.diffId} vanished while it was stored`, { kind: 'system' });
    return stored;
  }

  /** Removes the layer (moved aside first, so it disappears at once); returns the bytes freed. */
  remove(diffId: string): number {
    const target = path.join(this.dir, digestHex(diffId));
    if (!existsSync(target)) return 0;
    const aside = path.join(this.tmp(), 'layer');
    renameSync(target, aside);
    const bytes = treeSize(aside);
    rmSync(path.dirname(aside), { recursive: true, force: true });
    return bytes;
  }
}

function treeSize(p: string): number {
  const st = lstatSync(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let total = 0;
  for (const name of readdirSync(p)) total += treeSize(path.join(p, name));
  return total;
}
