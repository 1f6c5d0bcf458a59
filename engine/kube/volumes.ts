/**
 * A service's filesystem on Kubernetes: named volumes as PersistentVolumeClaims (or a
 * StatefulSet's claim templates), anonymous volumes as emptyDir, tmpfs and `shm_size` as
 * emptyDir in memory, single-file bind mounts, `secrets:` and `configs:` as files of
 * ConfigMap or Secret volumes mounted one at a time (subPath), so each lands where `up`
 * puts it. A bind mount of a directory has no equivalent (the cluster's nodes do not have
 * this machine's files): it is left out with a warning, and the image's content stays.
 */
import { existsSync, statSync } from 'node:fs';
import type { Service, StringMap } from '../model/types.js';
import { parseBytes } from '../model/units.js';
import { parseTmpfs } from '../runtime/spec/tmpfs.js';
import { bindFileSource, configSource, secretSource, type FileSource } from './config-objects.js';
import type { KubeContext } from './context.js';
import { DEFAULT_VOLUME_SIZE } from './context.js';
import { sortMetadata } from './labels.js';
import { kubeName } from './names.js';
import type { PersistentVolumeClaim, PodVolume, VolumeMount } from './objects.js';
import { byteQuantity } from './quantity.js';

/** The volumes of one pod: shared sources (a PVC, a Secret) once, however many containers mount them. */
export class PodVolumes {
  readonly list: PodVolume[] = [];
  private readonly bySource = new Map<string, string>();

  /** The pod volume with this source, made under `base` when new. */
  shared(base: string, source: Omit<PodVolume, 'name'>): string {
    const key = JSON.stringify(source);
    const known = this.bySource.get(key);
    if (known !== undefined) return known;
    const name = this.own(base, source);
    this.bySource.set(key, name);
    return name;
  }

  /** A volume of its own (an anonymous volume, a tmpfs), even if another has the same source. */
  own(base: string, source: Omit<PodVolume, 'name'>): string {
    let name = kubeName(base);
    for (let i = 2; this.list.some((v) => v.name === name); i++) name = kubeName(`${base}-${i}`);
    this.list.push({ name, ...source });
    return name;
  }
}

/**
 * The mounts of a service's container, its pod volumes added to `pod`. Named volumes in
 * `claimTemplates` are the StatefulSet's own: mounted by name, with no pod volume.
 */
export function serviceMounts(ctx: KubeContext, service: Service, pod: PodVolumes, claimTemplates: ReadonlySet<string> = new Set()): VolumeMount[] {
  const container = ctx.serviceName(service.name);
  const mounts: VolumeMount[] = [];
  const ro = (readOnly: boolean | undefined) => (readOnly ? { readOnly: true } : {});
  service.volumes.forEach((v, i) => {
    const at = `services.${service.name}.volumes.${i}`;
    switch (v.type) {
      case 'volume': {
        if (v.source === undefined) {
          mounts.push({ name: pod.own(`${container}-anonymous`, { emptyDir: {} }), mountPath: v.target, ...ro(v.read_only) });
          break;
        }
        const subPath = v.volume?.subpath !== undefined ? { subPath: v.volume.subpath } : {};
        if (claimTemplates.has(v.source)) {
          mounts.push({ name: kubeName(v.source), mountPath: v.target, ...ro(v.read_only), ...subPath });
          break;
        }
        const claimName = persistentVolumeClaim(ctx, v.source);
        const name = pod.shared(claimName, { persistentVolumeClaim: { claimName } });
        mounts.push({ name, mountPath: v.target, ...ro(v.read_only), ...subPath });
        break;
      }
      case 'bind': {
        const source = v.source!;
        const kind = !existsSync(source) ? 'missing' : statSync(source).isFile() ? 'file' : statSync(source).isDirectory() ? 'directory' : 'special';
        if (kind !== 'file') {
          const what = {
            missing: `the host path ${source} does not exist (\`up\` would make it a directory); a bind mount of a directory`,
            directory: `a bind mount of the directory ${source}`,
            special: `a bind mount of ${source}, which is not a regular file,`,
          }[kind];
          ctx.warnings.lossy(at, `${what} has no Kubernetes equivalent (the cluster's nodes do not have this machine's files): left out, the image's ${v.target} is used`);
          break;
        }
        const file = bindFileSource(ctx, source, at);
        if (file) mounts.push(fileMount(pod, file, v.target));
        break;
      }
      case 'tmpfs': {
        const sizeLimit = v.tmpfs?.size !== undefined ? { sizeLimit: byteQuantity(v.tmpfs.size) } : {};
        mounts.push({ name: pod.own(`${container}-tmpfs`, { emptyDir: { medium: 'Memory', ...sizeLimit } }), mountPath: v.target, ...ro(v.read_only) });
        break;
      }
      default:
        ctx.warnings.lossy(at, `volumes of type "${v.type}" have no Kubernetes equivalent here: left out`);
    }
  });
  (service.tmpfs ?? []).forEach((entry, i) => {
    const mount = parseTmpfs(entry, service.name, i);
    const size = mount.options?.find((o) => o.startsWith('size='))?.slice(5);
    const bytes = size !== undefined && !size.endsWith('%') ? parseBytes(size) : undefined;
    const sizeLimit = bytes !== undefined ? { sizeLimit: byteQuantity(bytes) } : {};
    mounts.push({ name: pod.own(`${container}-tmpfs`, { emptyDir: { medium: 'Memory', ...sizeLimit } }), mountPath: mount.destination });
  });
  if (service.shm_size !== undefined) {
    // a pod's /dev/shm is the runtime's 64 MiB; a memory emptyDir over it gives the size asked for
    mounts.push({ name: pod.own(`${container}-shm`, { emptyDir: { medium: 'Memory', sizeLimit: byteQuantity(service.shm_size) } }), mountPath: '/dev/shm' });
  }
  for (const [section, refs] of [['secrets', service.secrets ?? []], ['configs', service.configs ?? []]] as const) {
    refs.forEach((ref, i) => {
      const at = `services.${service.name}.${section}.${i}`;
      if (ref.uid !== undefined || ref.gid !== undefined) ctx.warnings.lossy(at, 'uid and gid have no per-file Kubernetes equivalent: the file is owned by root');
      const source = section === 'secrets' ? secretSource(ctx, ref.source) : configSource(ctx, ref.source);
      if (!source) return;
      const target = ref.target ?? ref.source;
      const mountPath = target.startsWith('/') ? target : section === 'secrets' ? `/run/secrets/${target}` : `/${target}`;
      // compose's files are 0444 unless `mode` says otherwise
      mounts.push(fileMount(pod, source, mountPath, ref.mode ?? 0o444));
    });
  }
  return mounts;
}

/** One key of a ConfigMap or Secret as a file at `mountPath`. */
function fileMount(pod: PodVolumes, file: FileSource, mountPath: string, mode?: number): VolumeMount {
  const items = [{ key: file.key, path: file.key, ...(mode !== undefined && { mode }) }];
  const name = file.kind === 'Secret'
    ? pod.shared(`secret-${file.name}`, { secret: { secretName: file.name, items } })
    : pod.shared(`config-${file.name}`, { configMap: { name: file.name, items } });
  return { name, mountPath, subPath: file.key, readOnly: true };
}

/** The claim a named volume becomes: made once, or found by name when the volume is external. */
function persistentVolumeClaim(ctx: KubeContext, key: string): string {
  const def = ctx.project.volumes[key];
  if (def?.external) {
    const name = kubeName(def.name);
    ctx.warnings.advise(`volumes.${key}`, `external: the PersistentVolumeClaim "${name}" must exist in the namespace`);
    return name;
  }
  const name = kubeName(key);
  if (!ctx.has('PersistentVolumeClaim', name)) {
    const { labels, spec } = claimSpec(ctx, key);
    ctx.add({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: ctx.metadata(name, labels), spec }, `volume "${key}"`);
  }
  return name;
}

/** A named volume's claim: its labels and spec, for a PVC or a StatefulSet's volumeClaimTemplates. */
export function claimSpec(ctx: KubeContext, key: string): { labels: StringMap; spec: NonNullable<PersistentVolumeClaim['spec']> } {
  const def = ctx.project.volumes[key];
  if (def?.driver !== undefined && def.driver !== 'local') {
    ctx.warnings.lossy(`volumes.${key}.driver`, `the volume driver "${def.driver}" has no Kubernetes equivalent: the claim uses ${ctx.options.storageClass ? `the storage class ${ctx.options.storageClass}` : "the cluster's default storage class"}`);
  }
  if (def?.driver_opts !== undefined) ctx.warnings.lossy(`volumes.${key}.driver_opts`, 'driver_opts have no Kubernetes equivalent: left out');
  return {
    labels: sortMetadata(def?.labels).labels,
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: ctx.options.volumeSize ?? DEFAULT_VOLUME_SIZE } },
      ...(ctx.options.storageClass !== undefined && { storageClassName: ctx.options.storageClass }),
    },
  };
}
