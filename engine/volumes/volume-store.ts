/**
 * Named volumes: a directory per volume under the engine's state, kept across down/up
 * until `down -v` (or `volume rm`) removes it. A record beside the data says who made it,
 * so `down` finds a project's volumes even when other state was lost.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { StackError } from '../errors.js';
import { writeFileAtomic } from '../runtime/atomic-file.js';
import type { EnginePaths } from '../runtime/paths.js';

export interface VolumeRecord {
  name: string;
  project?: string;
  labels: Record<string, string>;
  anonymous: boolean;
  created: string;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class VolumeStore {
  private readonly root: string;

  constructor(paths: EnginePaths) {
    this.root = path.join(paths.stateDir, 'volumes');
  }

  /** Where the volume's content lives on the host. */
  dataDir(name: string): string {
    return path.join(this.dir(name), '_data');
  }

  /** The volume whose data directory is `source` (a mount's host path), if any. */
  nameOf(source: string): string | undefined {
    const dir = path.dirname(source);
    if (path.basename(source) !== '_data' || path.dirname(dir) !== this.root) return undefined;
    const name = path.basename(dir);
    return NAME.test(name) ? name : undefined;
  }

  get(name: string): VolumeRecord | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir(name), 'volume.json'), 'utf8')) as VolumeRecord;
    } catch {
      return undefined;
    }
  }

  /** The volume, created if missing; `created` tells the caller to initialise its content. */
  ensure(name: string, init: { project?: string; labels?: Record<string, string>; anonymous?: boolean } = {}): { record: VolumeRecord; created: boolean } {
    const existing = this.get(name);
    if (existing) return { record: existing, created: false };
    const record: VolumeRecord = {
      name,
      ...(init.project !== undefined && { project: init.project }),
      labels: init.labels ?? {},
      anonymous: init.anonymous ?? false,
      created: new Date().toISOString(),
    };
    mkdirSync(this.dataDir(name), { recursive: true, mode: 0o755 });
    writeFileAtomic(path.join(this.dir(name), 'volume.json'), JSON.stringify(record, null, 2));
    return { record, created: true };
  }

  remove(name: string): void {
    rmSync(this.dir(name), { recursive: true, force: true });
  }

  list(): VolumeRecord[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .map((n) => this.get(n))
      .filter((v): v is VolumeRecord => v !== undefined);
  }

  private dir(name: string): string {
    if (!NAME.test(name)) {
      throw new StackError(`invalid volume name ${JSON.stringify(name)}`, { hint: 'volume names use letters, digits, ".", "_" and "-", and start with a letter or digit' });
    }
    return path.join(this.root, name);
  }
}
