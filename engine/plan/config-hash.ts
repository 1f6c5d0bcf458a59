/**
 * The config hash compose puts on every container (`com.docker.compose.config-hash`): a
 * digest of what the container is made from, so `up` can tell an unchanged container from
 * one to recreate. As compose-go's ServiceHash, what does not change the container itself
 * is left out (how the image is built or pulled, how many replicas, dependencies, profiles);
 * the image's id is put in, so a rebuilt image recreates its containers.
 */
import { createHash } from 'node:crypto';
import type { Service } from '../model/types.js';

export function serviceConfigHash(service: Service, imageId: string): string {
  const { build: _build, pull_policy: _pull, scale: _scale, depends_on: _deps, profiles: _profiles, deploy, ...rest } = service;
  const kept: Record<string, unknown> = { ...rest, image_id: imageId };
  if (deploy) {
    const { replicas: _replicas, ...deployRest } = deploy;
    kept.deploy = deployRest;
  }
  return createHash('sha256').update(stableJson(kept)).digest('hex');
}

/** JSON with object keys sorted, so the hash does not depend on the order keys were written in. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
