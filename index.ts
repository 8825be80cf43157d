/** @module agent-factory — the library's public surface. */
export * from './core/index.js';
export * from './templates/index.js';
export * from './runtime/index.js';
export { createMemoryKvStore, type KvStore, type KvNamespace, type Sandbox, type SandboxOptions } from './sandbox/index.js';
export * from './store/index.js';
export * from './learner/index.js';
export { FactoryClient, parseRetryAfter, type FactoryClientOptions } from './api/client.js';
export { httpStatusFor } from './api/errors.js';
export type * from './api/types.js';
