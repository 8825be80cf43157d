/** @module cli — the `af` command line, usable in-process through `runCli`. */
export { runCli } from './program.js';
export { EXIT, exitStatusFor } from './exit-status.js';
export type { CliStreams } from './io.js';
