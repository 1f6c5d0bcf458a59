/**
 * What every generated manifest must satisfy, checked independently of the generator:
 * the Kubernetes OpenAPI schema (kubernetes-models' validators, Kubernetes 1.33), and what
 * the schema leaves to the API server: names that are DNS labels, valid label keys and
 * values, unique container and volume names in a pod, mounts and envFrom pointing at things
 * that exist, and Services whose selector picks some workload's pods.
 */
import assert from 'node:assert/strict';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import type { KubeObject } from '../../engine/kube/objects.js';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  ConfigMap, Secret, PersistentVolumeClaim, Service, NetworkPolicy, Deployment, StatefulSet, DaemonSet, Job,
};

const RFC1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const RFC1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string, where: string): void {
  const [prefix, name] = key.includes('/') ? [key.slice(0, key.lastIndexOf('/')), key.slice(key.lastIndexOf('/') + 1)] : [undefined, key];
  assert.ok(name.length <= 63 && LABEL_NAME.test(name), `${where}: key ${key}`);
  if (prefix !== undefined) assert.ok(prefix.length <= 253 && SUBDOMAIN.test(prefix), `${where}: key prefix ${key}`);
}

function checkLabels(labels: Record<string, string> | undefined, where: string): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    checkKey(k, where);
    assert.ok(v.length <= 63 && LABEL_VALUE.test(v), `${where}: label value ${k}=${v}`);
  }
}

function isLabel(name: string, pattern: RegExp): boolean {
  return name.length <= 63 && pattern.test(name);
}

type Pod = NonNullable<NonNullable<Extract<KubeObject, { kind: 'Deployment' }>['spec']>['template']>;

/** Validates every object; `external` names ConfigMaps, Secrets and claims expected to exist already. */
export function checkManifests(objects: readonly KubeObject[], external: readonly string[] = []): void {
  const refs = new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`));
  assert.equal(refs.size, objects.length, 'two objects of one kind share a name');
  const pods: { ref: string; labels: Record<string, string> }[] = [];
  for (const o of objects) {
    const ref = `${o.kind}/${o.metadata.name}`;
    const Model = MODELS[o.kind];
    assert.ok(Model, `no model for ${o.kind}`);
    assert.doesNotThrow(() => new Model(o as never).validate(), `${ref} fails the Kubernetes schema`);
    assert.ok(isLabel(o.metadata.name, o.kind === 'Service' ? RFC1035 : RFC1123), `${ref}: name is not a DNS label`);
    if (o.kind === 'StatefulSet') assert.ok(o.metadata.name.length <= 52, `${ref}: too long for a StatefulSet`);
    checkLabels(o.metadata.labels, ref);
    for (const k of Object.keys(o.metadata.annotations ?? {})) checkKey(k, `${ref} annotation`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'stack', `${ref}: no managed-by label`);
    assert.ok(o.metadata.labels?.['com.docker.compose.project'], `${ref}: no project label`);
    const template = 'spec' in o && o.spec && 'template' in o.spec ? (o.spec.template as Pod) : undefined;
    if (!template) continue;
    checkLabels(template.metadata?.labels, `${ref} pod`);
    pods.push({ ref, labels: template.metadata?.labels ?? {} });
    const spec = template.spec!;
    const containers = [...(spec.initContainers ?? []), ...spec.containers];
    const names = containers.map((c) => c.name);
    assert.equal(new Set(names).size, names.length, `${ref}: container names repeat: ${names.join(', ')}`);
    for (const n of names) assert.ok(isLabel(n, RFC1123), `${ref}: container name ${n}`);
    const claims = o.kind === 'StatefulSet' ? (o.spec?.volumeClaimTemplates ?? []).map((c) => c.metadata?.name) : [];
    const volumes = (spec.volumes ?? []).map((v) => v.name);
    assert.equal(new Set(volumes).size, volumes.length, `${ref}: volume names repeat`);
    for (const v of volumes) assert.ok(isLabel(v, RFC1123), `${ref}: volume name ${v}`);
    for (const c of containers) {
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.includes(m.name) || claims.includes(m.name), `${ref}: ${c.name} mounts unknown volume ${m.name}`);
      for (const e of c.envFrom ?? []) {
        const name = e.configMapRef?.name ?? e.secretRef?.name ?? '';
        assert.ok(refs.has(`ConfigMap/${name}`) || refs.has(`Secret/${name}`) || external.includes(name), `${ref}: envFrom ${name} does not exist`);
      }
    }
    for (const v of spec.volumes ?? []) {
      const target = v.configMap ? `ConfigMap/${v.configMap.name}` : v.secret ? `Secret/${v.secret.secretName}` : v.persistentVolumeClaim ? `PersistentVolumeClaim/${v.persistentVolumeClaim.claimName}` : undefined;
      if (target) assert.ok(refs.has(target) || external.includes(target.split('/')[1]!), `${ref}: volume ${v.name} refers to missing ${target}`);
    }
  }
  for (const o of objects) {
    if (o.kind !== 'Service') continue;
    const selector = o.spec?.selector ?? {};
    assert.ok(Object.keys(selector).length > 0, `Service/${o.metadata.name} selects nothing`);
    assert.ok(pods.some((p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v)), `Service/${o.metadata.name} selects no workload's pods`);
    if (o.spec?.clusterIP !== 'None') assert.ok((o.spec?.ports ?? []).length > 0, `Service/${o.metadata.name}: a ClusterIP Service needs ports`);
  }
}

/** The object of this kind and name, or a failed assertion listing what there is. */
export function find<K extends KubeObject['kind']>(objects: readonly KubeObject[], kind: K, name: string): Extract<KubeObject, { kind: K }> {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `no ${kind}/${name}; have ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o as Extract<KubeObject, { kind: K }>;
}

/** The pod spec of a workload. */
export function podOf(o: KubeObject): NonNullable<Pod['spec']> {
  assert.ok('spec' in o && o.spec && 'template' in o.spec, `${o.kind}/${o.metadata.name} has no pod template`);
  return (o.spec.template as Pod).spec!;
}
