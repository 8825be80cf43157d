/** @module core — errors, the clock, configuration and the logger: what every other module may import. */
export * from './errors.js';
export * from './clock.js';
export * from './config.js';
export * from './logger.js';
export * from './terminal-text.js';
export * from './agent-spec.js';
export * from './run-record.js';
export * from './canonical-json.js';
export * from './suggestion.js';
export * from './trust-records.js';
export * from './net-address.js';
export * from './kv.js';
