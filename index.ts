/** @module agent-factory — the library's public surface. */
export * from './core/index.js';
export * from './templates/index.js';
export * from './runtime/index.js';
export { createMemoryKvStore, type KvStore, type KvNamespace, type Sandbox, type SandboxOptions } from './sandbox/index.js';
export * from './store/index.js';
