/** @module runtime/denial-audit — writes permission denials to the audit log, each to its run's tenant's chain, bounded so a hostile agent cannot flood it. */
import { BackgroundWrites } from '../core/background-writes.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DenialEvent } from '../sandbox/index.js';
import type { Store } from '../store/index.js';

/** Denials audited per template and tenant per minute; past it they are counted and summarised once the minute ends. */
const PER_TEMPLATE_PER_MINUTE = 100;

/** One tenant's denials of one template in the current minute. */
interface DenialWindow {
  template: string;
  tenant: string;
  startedAt: number;
  audited: number;
  suppressed: number;
}

export class DenialAudit {
  readonly #store: Store | undefined;
  readonly #logger: Logger;
  readonly #clock: Clock;
  /** By tenant and template. */
  readonly #windows = new Map<string, DenialWindow>();
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
    // Counted per tenant too: one tenant's flood must not silence the audit of another's denials, and a summary
    // belongs to one tenant's chain.
    const windowKey = `${denial.tenant}\u0000${denial.template}`;
    let window = this.#windows.get(windowKey);
    if (!window || now - window.startedAt >= 60_000) {
      if (window && window.suppressed > 0) this.#summarise(window);
      window = { template: denial.template, tenant: denial.tenant, startedAt: now, audited: 0, suppressed: 0 };
      this.#windows.set(windowKey, window);
    }
    if (window.audited >= PER_TEMPLATE_PER_MINUTE) {
      window.suppressed++;
      return;
    }
    window.audited++;
    this.#logger.warn(`permission denied: ${denial.template} wanted ${denial.permission} ${denial.target} (grant it at ${denial.grantKey})`);
    const store = this.#store;
    if (store) this.#writes.start('audit of a permission denial', () => store.audit.append({ type: 'permission.denied', tenant: denial.tenant, subject: denial.template, data: { permission: denial.permission, target: denial.target, grantKey: denial.grantKey, tenant: denial.tenant } }));
  }

  /** Writes the summaries still pending and waits for every audit write under way (at close). */
  async flush(): Promise<void> {
    for (const window of this.#windows.values()) if (window.suppressed > 0) this.#summarise(window);
    this.#windows.clear();
    await this.#writes.settled();
  }

  #summarise(window: DenialWindow): void {
    const store = this.#store;
    const { template, tenant, suppressed } = window;
    if (store) this.#writes.start('audit of suppressed permission denials', () => store.audit.append({ type: 'permission.denied.suppressed', tenant, subject: template, data: { count: suppressed, perMinuteCap: PER_TEMPLATE_PER_MINUTE, tenant } }));
  }
}
