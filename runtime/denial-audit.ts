/** @module runtime/denial-audit — writes permission denials to the audit log, bounded so a hostile agent cannot flood it. */
import { BackgroundWrites } from '../core/background-writes.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DenialEvent } from '../sandbox/index.js';
import type { Store } from '../store/index.js';

/** Denials audited per template per minute; past it they are counted and summarised once the minute ends. */
const PER_TEMPLATE_PER_MINUTE = 100;

export class DenialAudit {
  readonly #store: Store | undefined;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #windows = new Map<string, { startedAt: number; audited: number; suppressed: number }>();
  // A denial is reported from the sandbox's synchronous callback: the audit write goes on without it.
  readonly #writes: BackgroundWrites;

  constructor(store: Store | undefined, logger: Logger, clock: Clock) {
    this.#store = store;
    this.#logger = logger;
    this.#clock = clock;
    this.#writes = new BackgroundWrites(logger);
  }

  report(denial: DenialEvent): void {
    const now = this.#clock.now();
    let window = this.#windows.get(denial.template);
    if (!window || now - window.startedAt >= 60_000) {
      if (window && window.suppressed > 0) this.#summarise(denial.template, window.suppressed);
      window = { startedAt: now, audited: 0, suppressed: 0 };
      this.#windows.set(denial.template, window);
    }
    if (window.audited >= PER_TEMPLATE_PER_MINUTE) {
      window.suppressed++;
      return;
    }
    window.audited++;
    this.#logger.warn(`permission denied: ${denial.template} wanted ${denial.permission} ${denial.target} (grant it at ${denial.grantKey})`);
    const store = this.#store;
    if (store) this.#writes.start('audit of a permission denial', () => store.audit.append({ type: 'permission.denied', subject: denial.template, data: { permission: denial.permission, target: denial.target, grantKey: denial.grantKey } }));
  }

  /** Writes the summaries still pending and waits for every audit write under way (at close). */
  async flush(): Promise<void> {
    for (const [template, window] of this.#windows) if (window.suppressed > 0) this.#summarise(template, window.suppressed);
    this.#windows.clear();
    await this.#writes.settled();
  }

  #summarise(template: string, suppressed: number): void {
    const store = this.#store;
    if (store) this.#writes.start('audit of suppressed permission denials', () => store.audit.append({ type: 'permission.denied.suppressed', subject: template, data: { count: suppressed, perMinuteCap: PER_TEMPLATE_PER_MINUTE } }));
  }
}
