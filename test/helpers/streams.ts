/** @module test/helpers/streams — what an `af` command run in-process prints: in-memory stdout and stderr, a stdin, and a command context over them. */
import { PassThrough } from 'node:stream';
import { createCommandContext, type GlobalOptions } from '../../cli/context.js';
import type { CliStreams } from '../../cli/io.js';

/** Everything the command wrote so far; the strings grow as it writes. */
export interface Printed {
  stdout: string;
  stderr: string;
}

export interface CaptureOptions {
  cwd: string;
  /** Added to `{ NO_COLOR: '1' }`: tests read plain text. */
  env?: Record<string, string | undefined>;
  /** Text the command reads on stdin, then end of input. Without it stdin ends at once, as for `af … </dev/null`. */
  stdin?: string;
  /** Leave stdin open (a long-running command such as `af serve` that must not see end of input). */
  keepStdinOpen?: boolean;
}

/** Streams for `runCli` or `createCommandContext` that keep what is written in `printed`. */
export function captureStreams(options: CaptureOptions): { streams: CliStreams; printed: Printed } {
  const printed: Printed = { stdout: '', stderr: '' };
  const stdin = new PassThrough();
  if (!options.keepStdinOpen) stdin.end(options.stdin);
  const streams: CliStreams = {
    stdout: { write: (chunk: string) => (printed.stdout += chunk) },
    stderr: { write: (chunk: string) => (printed.stderr += chunk) },
    stdin,
    env: { NO_COLOR: '1', ...options.env },
    cwd: options.cwd,
  };
  return { streams, printed };
}

/** A command context over captured streams, for calling one command's function directly. */
export function captureContext(options: CaptureOptions & { globals?: GlobalOptions }) {
  const { streams, printed } = captureStreams(options);
  const globals = options.globals ?? {};
  return { context: createCommandContext(streams, () => globals), printed };
}
