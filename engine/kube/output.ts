/**
 * Manifests as text: one multi-document YAML stream, or a file per object named as kompose
 * names them (`web-deployment.yaml`). js-yaml quotes strings YAML 1.1 would read as
 * something else (`yes`, `on`, `0755`), since kubectl's parser is a YAML 1.1 one.
 */
import { dump } from 'js-yaml';
import type { KubeObject } from './objects.js';

export function objectYaml(object: KubeObject): string {
  return dump(object, { lineWidth: -1, noRefs: true, quotingType: '"' });
}

export function manifestsYaml(objects: readonly KubeObject[]): string {
  return objects.map(objectYaml).join('---\n');
}

export function manifestFileName(object: KubeObject): string {
  return `${object.metadata.name}-${object.kind.toLowerCase()}.yaml`;
}
