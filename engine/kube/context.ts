/**
 * What the parts of `kube generate` share while they turn one project into objects: the
 * options, the names taken (so a collision is reported with both origins), the objects made
 * so far (a PVC or ConfigMap several services use is made once), the warnings.
 */
import type { DependencyGraph } from '../graph/graph.js';
import type { Project, StringMap } from '../model/types.js';
import { projectLabels } from './labels.js';
import { kubeName, NameRegistry } from './names.js';
import { objectRef, type KubeObject, type ObjectMeta } from './objects.js';
import { WarningList } from './warnings.js';

export type PublishedServiceType = 'NodePort' | 'LoadBalancer';

export interface GenerateOptions {
  /** services named on the command line: they and what they depend on; all when empty */
  services?: readonly string[];
  /** how published ports leave the cluster (default LoadBalancer) */
  serviceType?: PublishedServiceType;
  /** every service that alone uses a named volume becomes a StatefulSet */
  statefulSets?: boolean;
  /** service -> image reference replacing its image (what `--push` will pass: registry/name@sha256:...) */
  images?: Readonly<Record<string, string>>;
  /** every object's metadata.namespace; without it the namespace is the applier's choice */
  namespace?: string;
  /** what each PersistentVolumeClaim requests (default 1Gi) */
  volumeSize?: string;
  storageClass?: string;
  /** the image of the init containers that wait for dependencies (default busybox:1.36) */
  waitImage?: string;
}

export const DEFAULT_WAIT_IMAGE = 'busybox:1.36';
export const DEFAULT_VOLUME_SIZE = '1Gi';

export class KubeContext {
  readonly warnings: WarningList;
  private readonly made = new Map<string, KubeObject>();
  private readonly names = new NameRegistry();
  private readonly serviceNames = new Map<string, string>();

  constructor(
    readonly project: Project,
    readonly graph: DependencyGraph,
    /** the services to generate, in start order */
    readonly selected: readonly string[],
    readonly options: GenerateOptions,
  ) {
    this.warnings = new WarningList(project);
    for (const name of selected) {
      const k = kubeName(name);
      this.names.claim('name', k, `service "${name}"`);
      this.serviceNames.set(name, k);
    }
  }

  /** A service's DNS label: its Service, workload and container are named by it. */
  serviceName(service: string): string {
    const k = this.serviceNames.get(service);
    if (k === undefined) throw new Error(`service ${service} is not being generated`);
    return k;
  }

  /** Claims the object's name for `origin`; the same origin adding it again (a shared volume) keeps the first. */
  add(object: KubeObject, origin: string): void {
    this.names.claim(object.kind, object.metadata.name, origin);
    const ref = objectRef(object);
    if (!this.made.has(ref)) this.made.set(ref, object);
  }

  has(kind: string, name: string): boolean {
    return this.made.has(`${kind}/${name}`);
  }

  get objects(): KubeObject[] {
    return [...this.made.values()];
  }

  /** Metadata with the project's labels (over the given ones) and the namespace, if one was asked for. */
  metadata(name: string, labels: StringMap = {}, annotations: StringMap = {}): ObjectMeta & { name: string } {
    return {
      name,
      ...(this.options.namespace !== undefined && { namespace: this.options.namespace }),
      labels: { ...labels, ...projectLabels(this.project.name) },
      ...(Object.keys(annotations).length > 0 && { annotations }),
    };
  }
}
