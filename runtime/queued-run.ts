/** @module runtime/queued-run — what travels through the run queue: the request a caller queues and the result a runner leaves for it. */
import type { ErrorCode, Problem } from '../core/errors.js';
import type { RunReport } from './agent.js';

/** What a runner needs to run a queued run; the caller's identity (tenant) was checked before it was queued. */
export interface QueuedRunRequest {
  template: string;
  input: unknown;
  tenant: string;
  env?: string;
  version?: string;
}

/**
 * What the caller gets back: the run's report, as `runSettled` gives it, or why it could not start (an unknown
 * template, one the trust gate refused): what a local `createAgent` would have thrown.
 */
export type QueuedRunResult = RunReport | { ok: false; notRun: true; runId: string; error: { code: ErrorCode; message: string; problems?: Problem[] } };
