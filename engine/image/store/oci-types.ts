/**
 * The OCI image-spec documents the store reads and writes (and the Docker schema 2 ones it
 * still reads), with only the fields the engine looks at typed; the JSON may carry more.
 */
import { endianness } from 'node:os';
import { goArch } from '../../runtime/spec/host.js';
import type { ImageConfig } from '../../runtime/spec/image-config.js';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** Annotations on index.json entries: containerd's full name, and the OCI ref name (the tag). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfigFile {
  created?: string;
  author?: string;
  architecture: string;
  variant?: string;
  os: string;
  config: ImageConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}

export const MANIFEST_TYPES: readonly string[] = [MEDIA.ociManifest, MEDIA.dockerManifest];
export const INDEX_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.dockerManifestList];


/** This machine's architecture as image configs and platforms spell it (GOARCH). */
export function hostArch(): string {
  return goArch(process.arch, endianness());
}
