/** @module core/background-writes — store writes a synchronous caller starts and does not wait for: failures logged, never unhandled, awaited at close. */
import type { Logger } from './logger.js';

/**
 * The run path and the trust gate's callbacks are synchronous, but a store write may answer with a promise
 * (PostgreSQL). Such a write is started here: a failure, thrown at once (SQLite) or later (a rejected promise), is
 * logged as a warning, never an unhandled rejection; and `settled()` lets the owner wait for the writes still
 * under way before it closes the store.
 */
export class BackgroundWrites {
  readonly #logger: Logger;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Starts `write` now; `what` names it in the warning when it fails. */
  start(what: string, write: () => unknown): void {
    let result: unknown;
    try {
      result = write();
    } catch (error) {
      this.#warn(what, error);
      return;
    }
    // SQLite answered at once: nothing to track, and no microtask spent on the hot path.
    if (!(result instanceof Promise)) return;
    const tracked: Promise<unknown> = result.catch((error: unknown) => this.#warn(what, error)).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Resolves once every write started so far has finished (or failed, and was logged). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  #warn(what: string, error: unknown): void {
    this.#logger.warn(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
