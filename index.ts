/** @module agent-factory — the library's public surface. */
export * from './core/index.js';
export * from './templates/index.js';
