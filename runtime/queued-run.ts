/** @module runtime/queued-run — what travels through the run queue: the request a caller queues and the result a runner leaves for it. */
import type { ErrorCode, Problem } from '../core/errors.js';
import type { RunStats } from '../sandbox/index.js';

/** What a runner needs to run a queued run; the caller's identity (tenant) was checked before it was queued. */
export interface QueuedRunRequest {
  template: string;
  input: unknown;
  tenant: string;
  env?: string;
  version?: string;
}

/** What the caller gets back: the run's outcome as data, as `runSettled` reports it. */
export type QueuedRunResult =
  | { ok: true; runId: string; output: unknown; stats: RunStats; version: string; digest: string }
  | { ok: false; runId: string; error: { code: ErrorCode; message: string; problems?: Problem[] }; stats?: RunStats; version?: string; digest?: string };
