/**
 * The process arguments, from the service's `entrypoint`/`command` and the image's
 * Entrypoint/Cmd, by the compose spec's rules (which follow docker's):
 * - absent or `null` means "use the image's value" (the compose spec says so for both keys);
 * - `[]` (or `''`, which the model already split to `[]`) means "explicitly empty";
 * - a non-empty service entrypoint also throws the image's Cmd away, because that Cmd was
 *   written as arguments for the image's entrypoint, not for the new one. An empty entrypoint
 *   keeps the image's Cmd, so `entrypoint: []` runs the image's Cmd as the program, like
 *   `docker run --entrypoint ''`.
 */

import { StackError } from '../../errors.js';
import type { Service } from '../../model/types.js';
import type { ImageConfig } from './image-config.js';

export function resolveArgv(service: Pick<Service, 'name' | 'entrypoint' | 'command'>, image: ImageConfig): string[] {
  const overridesEntrypoint = service.entrypoint !== undefined && service.entrypoint !== null;
  const entrypoint = overridesEntrypoint ? service.entrypoint! : (image.Entrypoint ?? []);
  let cmd: string[];
  if (service.command !== undefined && service.command !== null) cmd = service.command;
  else if (overridesEntrypoint && entrypoint.length > 0) cmd = [];
  else cmd = image.Cmd ?? [];
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) {
    throw new StackError(`service ${service.name} has no command to run`, {
      path: `services.${service.name}`,
      hint: 'set `command:` (or `entrypoint:`) for the service, or use an image that declares CMD or ENTRYPOINT',
    });
  }
  return argv;
}

/**
 * Runs `argv` under an init process (tini/catatonit) mounted at `initPath`: the `--` keeps
 * the init from reading the program's own flags as its options.
 */
export function withInit(argv: readonly string[], initPath: string): string[] {
  return [initPath, '--', ...argv];
}
