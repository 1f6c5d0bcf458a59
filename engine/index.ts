/** The engine's public entry points; the CLI imports only from here and errors.ts. */
export { loadProject, type LoadOptions, type LoadedProject } from './load/loader.js';
export { DependencyGraph, type Edge, type EdgeKind } from './graph/graph.js';
export { toComposeDocument } from './model/output.js';
export type * from './model/types.js';
export { StackError, StackErrors, type Location } from './errors.js';
