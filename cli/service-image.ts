import type { Service } from '../engine/model/types.js';

/** The image a service runs: its `image:`, or what compose names a built one. */
export function imageName(project: string, service: Service): string {
  return service.image ?? `${project}-${service.name}`;
}
