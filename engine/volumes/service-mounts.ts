/**
 * A service's `volumes` and `tmpfs` as OCI mounts: bind mounts (created on the host when
 * `create_host_path`), named volumes (created on first use and, as docker does, filled
 * from the image's content at the mount point when new), anonymous volumes, tmpfs. Paths
 * inside volumes and images are resolved without following symlinks out of their root.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { StackError } from '../errors.js';
import type { Project, Service, ServiceVolume } from '../model/types.js';
import type { OciMount } from '../runtime/oci-spec.js';
import { resolveInRoot } from '../sys/read-in-root.js';
import type { VolumeStore } from './volume-store.js';

export interface MountsInput {
  project: Pick<Project, 'name' | 'volumes'>;
  service: Pick<Service, 'name' | 'volumes'>;
  store: VolumeStore;
  /** the image's layer directories, topmost first, to initialise new volumes from */
  imageLayers: readonly string[];
}

export interface PreparedMounts {
  mounts: OciMount[];
  /** the volumes this container uses, by their real names */
  volumes: string[];
}

export function prepareMounts(input: MountsInput): PreparedMounts {
  const mounts: OciMount[] = [];
  const volumes: string[] = [];
  for (const v of input.service.volumes) {
    const where = `service "${input.service.name}", volume ${v.target}`;
    switch (v.type) {
      case 'bind':
        mounts.push(bindMount(v, where));
        break;
      case 'volume': {
        const { name, source } = volumeSource(v, input, where);
        volumes.push(name);
        mounts.push({ destination: v.target, type: 'bind', source, options: ['rbind', v.read_only ? 'ro' : 'rw', 'rprivate'] });
        break;
      }
      case 'tmpfs':
        mounts.push(tmpfsMount(v.target, v.tmpfs));
        break;
      default:
        throw new StackError(`${where}: volumes of type "${v.type}" are not supported`, { kind: 'unsupported', hint: 'use a bind mount, a named volume or tmpfs' });
    }
  }
  return { mounts, volumes };
}

function bindMount(v: ServiceVolume, where: string): OciMount {
  const source = v.source!;
  if (!existsSync(source)) {
    if (v.bind?.create_host_path === false) {
      throw new StackError(`${where}: the host path ${source} does not exist`, { kind: 'not-found', hint: 'create it, or drop `create_host_path: false`' });
    }
    mkdirSync(source, { recursive: true });
  }
  const propagation = v.bind?.propagation ?? 'rprivate';
  return { destination: v.target, type: 'bind', source, options: ['rbind', v.read_only ? 'ro' : 'rw', propagation] };
}

function volumeSource(v: ServiceVolume, input: MountsInput, where: string): { name: string; source: string } {
  const { project, store } = input;
  let name: string;
  let created: boolean;
  if (v.source === undefined) {
    name = randomBytes(32).toString('hex');
    created = store.ensure(name, { project: project.name, anonymous: true, labels: { 'com.docker.compose.project': project.name } }).created;
  } else {
    const def = project.volumes[v.source];
    name = def?.name ?? v.source;
    if (def?.external) {
      if (!store.get(name)) {
        throw new StackError(`${where}: the external volume "${name}" does not exist`, { kind: 'not-found', hint: `create it first: stack volume create ${name}` });
      }
      created = false;
    } else {
      created = store.ensure(name, { project: project.name, labels: { 'com.docker.compose.project': project.name, 'com.docker.compose.volume': v.source } }).created;
    }
  }
  const data = store.dataDir(name);
  if (created && v.volume?.nocopy !== true) copyFromImage(input.imageLayers, v.target, data);
  const subpath = v.volume?.subpath;
  if (subpath === undefined) return { name, source: data };
  const inside = resolveInRoot(data, subpath);
  if (!inside || !inside.stats.isDirectory()) {
    throw new StackError(`${where}: subpath ${subpath} does not exist in volume ${name}`, { kind: 'not-found', hint: 'create the directory in the volume first' });
  }
  return { name, source: inside.hostPath };
}

/** docker fills a new volume with what the image has at the mount point. */
function copyFromImage(layers: readonly string[], target: string, dest: string): void {
  for (const layer of layers) {
    const found = resolveInRoot(layer, target);
    if (!found) continue;
    if (!found.stats.isDirectory()) return;
    for (const entry of readdirSync(found.hostPath)) {
      if (entry.startsWith('.wh.')) continue;
      cpSync(`${found.hostPath}/${entry}`, `${dest}/${entry}`, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: false, force: false });
    }
    // the volume root takes the mode and owner of the image directory it covers
    const st = statSync(found.hostPath);
    chmodSync(dest, st.mode & 0o7777);
    chownSync(dest, st.uid, st.gid);
    return;
  }
}

function tmpfsMount(target: string, opts: ServiceVolume['tmpfs']): OciMount {
  const options = ['nosuid', 'nodev'];
  if (opts?.size !== undefined) options.push(`size=${opts.size}`);
  if (opts?.mode !== undefined) options.push(`mode=${opts.mode.toString(8)}`);
  return { destination: target, type: 'tmpfs', source: 'tmpfs', options };
}
