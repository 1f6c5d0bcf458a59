/**
 * Local images without a daemon. Content lives in an OCI image layout (`oci/`), each layer
 * also extracted once (`layers/`) to serve as an overlay lowerdir; index.json says which
 * manifests are images and what they are called. Blobs and layers are content-addressed
 * and appear by rename, so only index.json changes need the lock; garbage collection
 * counts references from the manifests index.json lists.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../../errors.js';
import { enginePaths, type EnginePaths } from '../../runtime/paths.js';
import type { ImageConfig } from '../../runtime/spec/image-config.js';
import type { SavedImage } from './archive.js';
import { BlobStore } from './blob-store.js';
import { checkDigest, copyHashed, digestHex, sha256 } from './digest.js';
import { LayerStore, type LayerMeta, type LayerRecord } from './layer-store.js';
import { alive, StoreLock } from './lock.js';
import { OciLayout, type IndexEntry } from './oci-layout.js';
import { hostArch, MANIFEST_TYPES, MEDIA, type ImageConfigFile, type Manifest } from './oci-types.js';
import { familiarName, normalizeName, parseReference } from './reference.js';

export type { LayerMeta, LayerRecord } from './layer-store.js';
export type { HistoryEntry, ImageConfigFile } from './oci-types.js';

export interface StoredImage {
  /** config digest */
  id: string;
  manifestDigest: string;
  config: ImageConfigFile;
  /** manifest order: bottom first */
  layers: LayerRecord[];
  /** full normalized names */
  names: string[];
  /** sum of layer blob sizes */
  size: number;
  /** `repository@digest` references it was pulled by */
  repoDigests: string[];
}

export interface RemoveOptions {
  force?: boolean;
  /** a container using the image, by name, if any */
  inUse?: (imageId: string) => string | undefined;
  /** layer (diffID) digests other modules still need, e.g. the build cache: kept on disk */
  keep?: Iterable<string>;
}

export interface PruneOptions {
  /** every image without a `keep` id, not only those without names */
  all?: boolean;
  /** config, blob or layer (diffID) digests other modules still need, e.g. the build cache */
  keep?: Iterable<string>;
}

export interface ImportOptions {
  changes?: Partial<ImageConfig>;
  message?: string;
}

const NOT_FOUND_HINT = 'run `stack images` to list local images; add one with `stack image import`, `stack image load` or `stack build`';

/** A located image: its index entry, and the name it was found by when it was. */
interface Hit {
  entry: IndexEntry;
  id: string;
  byName?: string;
}

export class ImageStore {
  readonly root: string;
  private readonly layout: OciLayout;
  private readonly blobs: BlobStore;
  private readonly layers: LayerStore;
  private readonly lock: StoreLock;
  private readonly tmpRoot: string;

  constructor(root: string) {
    this.root = root;
    this.tmpRoot = path.join(root, 'tmp');
    const tmp = () => this.tmpDir();
    this.layout = new OciLayout(path.join(root, 'oci'));
    this.blobs = new BlobStore(this.layout.dir, tmp);
    this.layers = new LayerStore(path.join(root, 'layers'), tmp);
    this.lock = new StoreLock(path.join(root, 'lock'));
  }

  static open(paths: EnginePaths = enginePaths()): ImageStore {
    return new ImageStore(path.join(paths.stateDir, 'images'));
  }

  // ---- layers and blobs

  async addLayerFromDir(dir: string): Promise<LayerRecord> {
    this.prepare();
    const work = this.tmpDir();
    try {
      const blob = path.join(work, 'layer.tar.gz');
      const packed = await (await layers()).packLayer(dir, blob, { compression: 'gzip' });
      this.blobs.adopt(blob, packed.digest);
      const meta: LayerMeta = { diffId: packed.diffId, digest: packed.digest, size: packed.size, mediaType: packed.mediaType };
      let stored: LayerRecord;
      try {
        stored = this.layers.adopt(dir, meta);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        // the dir is on another filesystem: the blob just written has the same tree
        stored = await this.extractInto(work, meta, meta.diffId);
        rmSync(dir, { recursive: true, force: true });
      }
      return { ...meta, dir: stored.dir };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  async addLayerBlob(input: string | NodeJS.ReadableStream, expectedDigest?: string): Promise<LayerRecord> {
    this.prepare();
    if (expectedDigest !== undefined) {
      checkDigest(expectedDigest, 'layer digest');
      const known = this.blobs.has(expectedDigest) ? this.layers.byBlob(expectedDigest) : undefined;
      if (known) {
        if (typeof input !== 'string') input.resume();
        return known;
      }
    }
    const work = this.tmpDir();
    try {
      const blob = path.join(work, 'blob');
      const { digest, size } = await copyHashed(input, blob);
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        throw new StackError(`layer content does not match its digest: expected ${expectedDigest}, got ${digest}`, {
          hint: 'the image source is damaged or was changed after its manifest was written',
        });
      }
      const mediaType = layerMediaType(blob);
      const known = this.layers.byBlob(digest);
      this.blobs.adopt(blob, digest);
      if (known) return known;
      // the tree may be stored already, from another blob of the same content
      const stored = await this.extractInto(work, { digest, size, mediaType });
      return { diffId: stored.diffId, digest, size, mediaType, dir: stored.dir };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  layer(diffId: string): LayerRecord | undefined {
    return this.layers.get(diffId);
  }

  readBlob(digest: string): Buffer {
    return this.blobs.read(checkDigest(digest, 'blob'));
  }

  async writeBlob(data: Buffer | NodeJS.ReadableStream, expectedDigest?: string): Promise<{ digest: string; size: number }> {
    this.prepare();
    return this.blobs.write(data, expectedDigest);
  }

  // ---- registry pulls

  hasBlob(digest: string): boolean {
    return this.blobs.has(checkDigest(digest, 'blob'));
  }

  /** The file of a stored blob, for sending it as it is. */
  blobPath(digest: string): string {
    return this.blobs.path(digest);
  }

  /** The layer stored from blob `digest`, when both are there: a pull need not fetch it. */
  layerFromBlob(digest: string): LayerRecord | undefined {
    return this.blobs.has(checkDigest(digest, 'blob')) ? this.layers.byBlob(digest) : undefined;
  }

  /** A fresh working dir on the store's filesystem; a dead process's ones go at the next prune. */
  stagingDir(): string {
    this.prepare();
    return this.tmpDir();
  }

  /**
   * Where a blob being downloaded is written: kept after a failed pull so the next one goes
   * on from its end (`Range`), removed once the blob is stored or found corrupt.
   */
  ingestPath(digest: string): string {
    const dir = path.join(this.root, 'ingest');
    mkdirSync(dir, { recursive: true });
    return path.join(dir, digestHex(digest));
  }

  /**
   * Stores a verified layer: `blobFile` (its digest already checked) becomes the blob and
   * `stage/diff` the extracted tree. Both must be on the store's filesystem.
   */
  installLayer(stage: string, blobFile: string, meta: LayerMeta): LayerRecord {
    this.blobs.adopt(blobFile, meta.digest);
    const known = this.layers.get(meta.diffId);
    if (known) {
      rmSync(stage, { recursive: true, force: true });
      return known;
    }
    return this.layers.install(stage, meta);
  }

  /**
   * Stores a pulled image: the config and manifest exactly as the registry sent them (so
   * the id and digest are the registry's), named, with the reference it was pulled by.
   */
  async commitManifest(configBytes: Buffer, layers: readonly LayerRecord[], names: readonly string[], manifestBytes: Buffer, repoDigest?: string): Promise<StoredImage> {
    return this.commitRaw(configBytes, layers, names, manifestBytes, repoDigest);
  }

  // ---- images

  async commit(config: ImageConfigFile, layers: LayerRecord[], names: string[] = []): Promise<StoredImage> {
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== layers.length || diffIds.some((d, i) => d !== layers[i]!.diffId)) {
      throw new StackError('image config does not match its layers: rootfs.diff_ids must list the layers\' diffIDs, bottom first', { kind: 'invalid' });
    }
    return this.commitRaw(Buffer.from(JSON.stringify(config)), layers, names);
  }

  /**
   * Stores an image from its config bytes as they are (the id is their digest, so a loaded
   * image keeps it) and, when given, a manifest's bytes as they are.
   */
  private async commitRaw(
    configBytes: Buffer,
    layers: readonly LayerRecord[],
    names: readonly string[],
    manifestBytes?: Buffer,
    repoDigest?: string,
  ): Promise<StoredImage> {
    this.prepare();
    const wanted = [...new Set(names.map(normalizeName))];
    // written under the lock: unreferenced until index.json names them, a concurrent prune
    // would collect them
    return this.lock.withLock(async () => {
      const config = await this.blobs.write(configBytes);
      const manifestData =
        manifestBytes ??
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MEDIA.ociManifest,
            config: { mediaType: MEDIA.ociConfig, digest: config.digest, size: config.size },
            layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
          } satisfies Manifest),
        );
      const manifest = await this.blobs.write(manifestData);
      for (const l of layers) {
        if (!this.blobs.has(l.digest) || !this.layers.get(l.diffId)) {
          throw new StackError(`layer ${l.diffId} was removed from the image store while the image was being made`, {
            kind: 'conflict',
            hint: 'an image prune ran at the same time; run the command again',
          });
        }
      }
      const entries = this.layout.read();
      // one manifest per image: the same config stored again (say, loaded with other
      // compression) names the image already there
      let entry = entries.find((e) => this.configDigestOf(e) === config.digest);
      if (!entry) {
        const mediaType = (JSON.parse(manifestData.toString('utf8')) as Manifest).mediaType ?? MEDIA.ociManifest;
        entry = { digest: manifest.digest, size: manifest.size, mediaType, names: [] };
        entries.push(entry);
      }
      for (const name of wanted) moveName(entries, name, entry);
      if (repoDigest !== undefined) {
        // one digest per repository, as docker keeps them: the newest pull wins
        const repo = parseReference(repoDigest).repository;
        for (const e of entries) e.repoDigests = e.repoDigests?.filter((d) => parseReference(d).repository !== repo);
        entry.repoDigests = [...(entry.repoDigests ?? []), repoDigest];
      }
      this.layout.write(entries);
      if (entry.digest !== manifest.digest) this.blobs.remove(manifest.digest);
      return this.imageOf(entry);
    });
  }

  resolve(ref: string): StoredImage {
    const img = this.find(ref);
    if (!img) throw notFound(ref);
    return img;
  }

  find(ref: string): StoredImage | undefined {
    const hit = this.locate(ref, this.layout.read());
    return hit && this.imageOf(hit.entry);
  }

  list(): StoredImage[] {
    return this.layout.read().map((e) => this.imageOf(e));
  }

  runtimeImage(img: StoredImage): { layers: string[]; config: ImageConfig } {
    return { layers: img.layers.map((l) => l.dir).reverse(), config: img.config.config ?? {} };
  }

  async tag(source: string, target: string): Promise<void> {
    const name = normalizeName(target);
    await this.lock.withLock(() => {
      const entries = this.layout.read();
      const hit = this.locate(source, entries);
      if (!hit) throw notFound(source);
      moveName(entries, name, hit.entry);
      this.layout.write(entries);
    });
  }

  /**
   * docker rmi: by name, untags it, and deletes the image with its last name; by id, deletes
   * it (several names need `force`). An image a container uses is a conflict; with `force`
   * it loses its names but keeps its content, which the container's overlay still reads.
   * `deleted` lists the image id, then the diffIDs of layers no other image needed.
   */
  async remove(ref: string, opts: RemoveOptions = {}): Promise<{ untagged: string[]; deleted: string[] }> {
    return this.lock.withLock(() => {
      const entries = this.layout.read();
      const hit = this.locate(ref, entries);
      if (!hit) throw notFound(ref);
      const { entry, id, byName } = hit;
      const short = shortId(id);
      if (byName !== undefined && entry.names.length > 1) {
        entry.names = entry.names.filter((n) => n !== byName);
        this.layout.write(entries);
        return { untagged: [byName], deleted: [] };
      }
      if (byName === undefined && entry.names.length > 1 && !opts.force) {
        throw new StackError(`unable to delete image ${short}: it has several names (${entry.names.map(familiarName).join(', ')})`, {
          kind: 'conflict',
          hint: 'remove it by name one name at a time, or use --force to remove all its names and the image',
        });
      }
      const untagged = entry.names;
      const user = opts.inUse?.(id);
      if (user !== undefined) {
        if (!opts.force) {
          throw new StackError(`unable to remove image ${byName !== undefined ? familiarName(byName) : short}: it is being used by container ${user}`, {
            kind: 'conflict',
            hint: `stop and remove the container first (stack rm -f ${user}), or use --force to drop the image's names and keep its content for the container`,
          });
        }
        // a container's overlay still reads these layers: drop the names, keep the content
        entry.names = [];
        this.layout.write(entries);
        return { untagged, deleted: [] };
      }
      const remaining = entries.filter((e) => e !== entry);
      this.layout.write(remaining);
      const gone = this.collect(remaining, new Set(opts.keep ?? []), this.contentOf(entry, id));
      return { untagged, deleted: [id, ...gone.layers] };
    });
  }

  /**
   * Removes nameless images (every image with `all`) whose id `keep` does not list, then
   * every blob and layer no remaining image or `keep` refers to, and what dead processes
   * left in tmp/. `deleted`: image ids, then layer diffIDs.
   */
  async prune(opts: PruneOptions = {}): Promise<{ deleted: string[]; reclaimedBytes: number }> {
    const keep = new Set(opts.keep ?? []);
    return this.lock.withLock(() => {
      const entries = this.layout.read();
      const victims: string[] = [];
      const remaining = entries.filter((e) => {
        const id = this.configDigestOf(e);
        const drop = (opts.all === true || e.names.length === 0) && !keep.has(id);
        if (drop) victims.push(id);
        return !drop;
      });
      if (victims.length > 0) this.layout.write(remaining);
      const gone = this.collect(remaining, keep);
      this.cleanTmp();
      return { deleted: [...victims, ...gone.layers], reclaimedBytes: gone.bytes };
    });
  }

  async importRootfs(tar: string | NodeJS.ReadableStream, name?: string, opts: ImportOptions = {}): Promise<StoredImage> {
    const names = name === undefined ? [] : [normalizeName(name)];
    const layer = await this.addLayerBlob(tar);
    const created = new Date().toISOString();
    const comment = opts.message ?? `Imported from ${typeof tar === 'string' ? tar : '-'}`;
    const config: ImageConfigFile = {
      created,
      architecture: hostArch(),
      os: 'linux',
      config: { ...opts.changes },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, comment }],
    };
    return this.commit(config, [layer], names);
  }

  // ---- archives

  async save(refs: string[], out: string, format: 'oci-archive' | 'docker-archive'): Promise<void> {
    const images = this.selectForSave(refs);
    const work = this.tmpDir();
    try {
      const source = { blobs: this.blobs, tmpDir: work };
      const archive = await import('./archive.js');
      if (format === 'oci-archive') await archive.writeOciArchive(out, images, source);
      else await archive.writeDockerArchive(out, images, source);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  async load(input: string): Promise<StoredImage[]> {
    this.prepare();
    const work = this.tmpDir();
    try {
      const { readArchive, unpackArchive } = await import('./archive.js');
      const tree = await unpackArchive(input, path.join(work, 'archive'));
      const loaded: StoredImage[] = [];
      for (const plan of readArchive(tree, input)) {
        const config = JSON.parse(plan.config.toString('utf8')) as ImageConfigFile;
        const diffIds = config.rootfs?.diff_ids ?? [];
        if (diffIds.length !== plan.layers.length) {
          throw new StackError(`${input}: image ${sha256(plan.config)} lists ${diffIds.length} layers in its config but ${plan.layers.length} in its manifest`);
        }
        const records: LayerRecord[] = [];
        for (const [i, l] of plan.layers.entries()) {
          let rec: LayerRecord;
          try {
            rec = await this.addLayerBlob(l.file, l.digest);
          } catch (e) {
            if (e instanceof StackError) throw new StackError(`${input}: layer ${l.name}: ${e.message}`, { kind: e.kind, hint: e.hint, cause: e });
            throw e;
          }
          if (rec.diffId !== diffIds[i]) {
            throw new StackError(`${input}: layer ${l.name} does not match the image config: its diff_id is ${rec.diffId}, the config says ${diffIds[i]}`, {
              hint: 'the archive is damaged or was assembled from different images',
            });
          }
          records.push(rec);
        }
        loaded.push(await this.commitRaw(plan.config, records, plan.names, plan.manifest));
      }
      return loaded;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  // ---- internals

  private prepare(): void {
    this.layout.ensure();
    mkdirSync(this.layers.dir, { recursive: true });
    mkdirSync(this.tmpRoot, { recursive: true });
  }

  /** A fresh dir under tmp/, named for this process so a prune can tell a dead one's leftovers. */
  private tmpDir(): string {
    mkdirSync(this.tmpRoot, { recursive: true });
    return mkdtempSync(path.join(this.tmpRoot, `${process.pid}-`));
  }

  /** Extracts a stored layer blob into a staging dir under `work` and installs the tree. */
  private async extractInto(work: string, blob: Omit<LayerMeta, 'diffId'>, expectedDiffId?: string): Promise<LayerRecord> {
    const stage = path.join(work, 'stage');
    mkdirSync(path.join(stage, 'diff'), { recursive: true });
    const { diffId } = await (await layers()).extractLayer(this.blobs.path(blob.digest), path.join(stage, 'diff'));
    if (expectedDiffId !== undefined && diffId !== expectedDiffId) {
      throw new StackError(`layer ${blob.digest} unpacks to ${diffId}, not the ${expectedDiffId} it was packed as`, { kind: 'system' });
    }
    return this.layers.install(stage, { ...blob, diffId });
  }

  private manifestOf(entry: IndexEntry): Manifest {
    const manifest = this.blobs.readJson<Manifest>(entry.digest);
    const type = manifest.mediaType ?? entry.mediaType;
    if (!MANIFEST_TYPES.includes(type) || !manifest.config || !Array.isArray(manifest.layers)) {
      throw new StackError(`blob ${entry.digest} listed in ${this.layout.indexFile} is not an image manifest (${type})`, { kind: 'system' });
    }
    return manifest;
  }

  private configDigestOf(entry: IndexEntry): string {
    return checkDigest(this.manifestOf(entry).config.digest, `manifest ${entry.digest}`);
  }

  private imageOf(entry: IndexEntry): StoredImage {
    const manifest = this.manifestOf(entry);
    const id = checkDigest(manifest.config.digest, `manifest ${entry.digest}`);
    const config = this.blobs.readJson<ImageConfigFile>(id);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new StackError(`image ${id} is damaged: its config lists ${diffIds.length} layers, its manifest ${manifest.layers.length}`, { kind: 'system' });
    }
    const layers = manifest.layers.map((d, i): LayerRecord => {
      const diffId = diffIds[i]!;
      const stored = this.layers.get(diffId);
      if (!stored) {
        throw new StackError(`layer ${diffId} of image ${shortId(id)} is missing from the image store`, {
          kind: 'system',
          hint: 'remove the image (stack rmi --force) and load or import it again',
        });
      }
      return { diffId, digest: d.digest, size: d.size, mediaType: d.mediaType, dir: stored.dir };
    });
    return {
      id,
      manifestDigest: entry.digest,
      config,
      layers,
      names: [...entry.names],
      size: layers.reduce((n, l) => n + l.size, 0),
      repoDigests: [...(entry.repoDigests ?? [])],
    };
  }

  /**
   * docker's lookup order: a full id (`sha256:<hex>` or 64 hex digits); a name (`busybox`
   * is `docker.io/library/busybox:latest`), or `name@digest` for the manifest digest of an
   * image carrying that repository; then a unique id prefix of at least 3 hex digits.
   */
  private locate(ref: string, entries: readonly IndexEntry[]): Hit | undefined {
    const idRef = /^sha256:([0-9a-f]{3,64})$/.exec(ref)?.[1] ?? (/^[0-9a-f]{64}$/.test(ref) ? ref : undefined);
    if (idRef !== undefined) return this.byIdPrefix(idRef, entries, ref);
    const r = parseReference(ref);
    if (r.digest !== undefined) {
      const repoDigest = `${r.repository}@${r.digest}`;
      const entry = entries.find(
        (e) => e.repoDigests?.includes(repoDigest) || (e.digest === r.digest && e.names.some((n) => parseReference(n).repository === r.repository)),
      );
      return entry && { entry, id: this.configDigestOf(entry) };
    }
    const name = normalizeName(ref);
    const entry = entries.find((e) => e.names.includes(name));
    if (entry) return { entry, id: this.configDigestOf(entry), byName: name };
    if (/^[0-9a-f]{3,63}$/.test(ref)) return this.byIdPrefix(ref, entries, ref);
    return undefined;
  }

  private byIdPrefix(hex: string, entries: readonly IndexEntry[], ref: string): Hit | undefined {
    const hits = entries.map((entry) => ({ entry, id: this.configDigestOf(entry) })).filter((h) => h.id.startsWith(`sha256:${hex}`));
    if (hits.length > 1) {
      throw new StackError(`image id prefix ${JSON.stringify(ref)} is ambiguous: it matches ${hits.map((h) => shortId(h.id)).join(', ')}`, {
        hint: 'give more digits of the id',
      });
    }
    return hits[0];
  }

  private selectForSave(refs: readonly string[]): SavedImage[] {
    const entries = this.layout.read();
    const chosen = new Map<string, SavedImage>();
    const add = (entry: IndexEntry, names: readonly string[]) => {
      let saved = chosen.get(entry.digest);
      if (!saved) {
        saved = { image: this.imageOf(entry), names: [] };
        chosen.set(entry.digest, saved);
      }
      for (const n of names) if (!saved.names.includes(n)) saved.names.push(n);
    };
    for (const ref of refs) {
      // like docker save: a repository without a tag saves every tag of it
      const repoOnly = /^[0-9a-f]{64}$|^sha256:/.test(ref) ? undefined : parseReference(ref);
      if (repoOnly && repoOnly.tag === undefined && repoOnly.digest === undefined) {
        const tagged = entries.filter((e) => e.names.some((n) => parseReference(n).repository === repoOnly.repository));
        if (tagged.length > 0) {
          for (const e of tagged) add(e, e.names.filter((n) => parseReference(n).repository === repoOnly.repository));
          continue;
        }
      }
      const hit = this.locate(ref, entries);
      if (!hit) throw notFound(ref);
      add(hit.entry, hit.byName !== undefined ? [hit.byName] : []);
    }
    return [...chosen.values()];
  }

  /** Blobs and layers an image refers to, for collecting after it is gone. */
  private contentOf(entry: IndexEntry, id: string): { blobs: Set<string>; diffIds: Set<string> } {
    const blobs = new Set([entry.digest, id]);
    const diffIds = new Set<string>();
    const manifest = this.manifestOf(entry);
    for (const l of manifest.layers) {
      blobs.add(l.digest);
      const stored = this.layers.byBlob(l.digest);
      if (stored) diffIds.add(stored.diffId);
    }
    try {
      for (const d of this.blobs.readJson<ImageConfigFile>(id).rootfs?.diff_ids ?? []) diffIds.add(d);
    } catch {
      // a damaged config: its layers are still found through their blobs above
    }
    return { blobs, diffIds };
  }

  /**
   * Deletes blobs and layers no remaining manifest refers to and `keep` does not name;
   * only among `candidates` when given (removing one image leaves others' leftovers
   * alone), everything otherwise (prune). A stored layer keeps the blob it came from.
   */
  private collect(
    remaining: readonly IndexEntry[],
    keep: ReadonlySet<string>,
    candidates?: { blobs: Set<string>; diffIds: Set<string> },
  ): { layers: string[]; bytes: number } {
    const liveBlobs = new Set<string>(keep);
    const liveLayers = new Set<string>(keep);
    for (const e of remaining) {
      const manifest = this.manifestOf(e);
      liveBlobs.add(e.digest);
      liveBlobs.add(manifest.config.digest);
      for (const l of manifest.layers) liveBlobs.add(l.digest);
      for (const d of this.blobs.readJson<ImageConfigFile>(manifest.config.digest).rootfs?.diff_ids ?? []) liveLayers.add(d);
    }
    let bytes = 0;
    const removedLayers: string[] = [];
    for (const layer of this.layers.list()) {
      const live = liveLayers.has(layer.diffId) || liveBlobs.has(layer.digest);
      if (!live && (candidates === undefined || candidates.diffIds.has(layer.diffId))) {
        bytes += this.layers.remove(layer.diffId);
        removedLayers.push(layer.diffId);
      } else {
        liveBlobs.add(layer.digest);
      }
    }
    for (const digest of candidates?.blobs ?? this.blobs.list()) {
      if (!liveBlobs.has(digest)) bytes += this.blobs.remove(digest);
    }
    return { layers: removedLayers, bytes };
  }

  /** Leftovers of processes that died mid-write. */
  private cleanTmp(): void {
    let names: string[];
    try {
      names = readdirSync(this.tmpRoot);
    } catch {
      return;
    }
    for (const name of names) {
      const pid = Number.parseInt(name, 10);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) rmSync(path.join(this.tmpRoot, name), { recursive: true, force: true });
    }
  }
}

/** Moves `name` onto `to`; an image losing its last name stays, nameless (dangling). */
function moveName(entries: IndexEntry[], name: string, to: IndexEntry): void {
  for (const e of entries) e.names = e.names.filter((n) => n !== name);
  to.names.push(name);
}

function shortId(id: string): string {
  return id.slice('sha256:'.length, 'sha256:'.length + 12);
}

function notFound(ref: string): StackError {
  return new StackError(`image ${JSON.stringify(ref)} not found`, { kind: 'not-found', hint: NOT_FOUND_HINT });
}

/** What the layer blob is, from its first bytes: the store keeps blobs as they came. */
function layerMediaType(file: string): string {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return MEDIA.ociLayerGzip;
  if (head.readUInt32LE(0) === 0xfd2fb528) {
    throw new StackError('zstd-compressed layers are not supported', { kind: 'unsupported', hint: 'recompress the image with gzip (e.g. skopeo copy --dest-compress-format gzip)' });
  }
  return MEDIA.ociLayer;
}

/**
 * The layer codec (and koffi under it) and the archive code load on first use: listing,
 * resolving and a fully cached build never touch a tar, and a CLI pays for every module it
 * imports on each run.
 */
function layers(): Promise<typeof import('../layers/index.js')> {
  return import('../layers/index.js');
}
