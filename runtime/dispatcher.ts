/** @module runtime/dispatcher — runs an agent through the run queue: enqueue, then wait for whichever runner completes it. */
import type { QueuedRunRequest, QueuedRunResult } from './queued-run.js';
import { newRunId } from './run-id.js';

/** What dispatching needs from the shared store (store/postgres: PgRunQueue.enqueue and RunResultWaiter.wait). */
export interface DispatchBackend {
  /** @throws FactoryError `E_RATE_LIMITED` when the tenant's queue is too deep. */
  enqueue(run: { id: string; tenant: string; template: string; request: QueuedRunRequest }): Promise<void>;
  /** Subscribes for results before anything is queued. */
  start(): Promise<void>;
  /** @throws FactoryError `E_TIMEOUT` when no runner completes the run in time. */
  wait(id: string, timeoutMs: number): Promise<unknown>;
}

export interface DispatchOptions {
  tenant: string;
  env?: string;
  version?: string;
  /** How long to wait for a runner to complete it. @default 60_000 */
  waitMs?: number;
}

/**
 * Puts runs on the queue for the fleet's runners and hands back their outcome. The run's id is chosen here, before it
 * is queued, so a caller that stops waiting can still find the run's record by it.
 */
export class Dispatcher {
  readonly #backend: DispatchBackend;
  #started: Promise<void> | undefined;

  constructor(backend: DispatchBackend) {
    this.#backend = backend;
  }

  async run(template: string, input: unknown, options: DispatchOptions): Promise<QueuedRunResult> {
    this.#started ??= this.#backend.start();
    await this.#started;
    const id = newRunId();
    const request: QueuedRunRequest = {
      template,
      input,
      tenant: options.tenant,
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.version !== undefined ? { version: options.version } : {}),
    };
    const waiting = this.#backend.wait(id, options.waitMs ?? 60_000);
    try {
      await this.#backend.enqueue({ id, tenant: options.tenant, template, request });
    } catch (error) {
      // Nothing was queued: stop waiting for it.
      waiting.catch(() => {});
      throw error;
    }
    return (await waiting) as QueuedRunResult;
  }
}
