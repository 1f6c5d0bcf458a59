/** model -> OCI config.json: the runtime spec builder and the pieces callers may need alone. */

export { buildSpec, MASKED_PATHS, READONLY_PATHS, type BuiltSpec, type SpecInput } from './build-spec.js';
export type { ImageConfig } from './image-config.js';
export type { NetworkChoice, JoinableNamespace } from './namespaces.js';
export { resolveArgv } from './argv.js';
export { readFileInRoot, resolveInRoot } from '../../sys/read-in-root.js';
export { resolveUser, type ResolvedUser } from './user.js';
export { hostFacts, type HostFacts } from './host.js';
export { DEFAULT_SECCOMP_PROFILE } from './seccomp.js';
