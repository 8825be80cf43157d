/** @module runtime/rollout-router — routes a share of createAgent calls to a canary version and, after enough runs, promotes or rolls it back on its own. */
import { BackgroundWrites } from '../core/background-writes.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { RunRecord } from '../core/run-record.js';
import type { Rollout, Store } from '../store/index.js';
import { restoreStoredVersion } from '../templates/index.js';
import { analyseCanary, type CanaryAnalysisOptions, canaryArm, type CanaryDecision } from './canary-analysis.js';

/** How often the list of active rollouts is re-read from the store (in the background: a run never waits for it). */
const REFRESH_MS = 1_000;
/** Runs between two looks at a canary's numbers. */
const CHECK_EVERY = 25;

export interface RolloutRouterOptions extends CanaryAnalysisOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Template folder by name, to put the stable version back on a rollback. */
  dirOf(template: string): string | undefined;
  random?: () => number;
}

export class RolloutRouter {
  readonly #options: RolloutRouterOptions;
  readonly #random: () => number;
  #active = new Map<string, Rollout>();
  #readAt = Number.NEGATIVE_INFINITY;
  /** The refresh under way, if any: one at a time. */
  #refreshing: Promise<void> | undefined;
  /** Moves with every decision this router makes: a read that began before one may not put the decided rollout back. */
  #generation = 0;
  /** A failing refresh is logged once, until one succeeds again. */
  #refreshFailing = false;
  readonly #runsSinceCheck = new Map<string, number>();
  /** Canary checks started off the run path. */
  readonly #checks: BackgroundWrites;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RolloutRouterOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#checks = new BackgroundWrites(options.logger);
  }

  /**
   * Re-reads the active rollouts; the routing keeps the map it has until the read is done. Joins a refresh under way.
   * Never rejects: a failure is logged (once until a refresh succeeds again) and the last map stays in use.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    const { store, clock, logger } = this.#options;
    if (store.isClosed) return Promise.resolve();
    const generation = this.#generation;
    let done = false;
    const refreshing = (async () => {
      try {
        const active = await store.rollouts.active();
        this.#readAt = clock.monotonic();
        this.#refreshFailing = false;
        if (generation === this.#generation) this.#active = new Map(active.map((rollout) => [rollout.template, rollout]));
        // A decision came while reading: what was read may still list the decided rollout; read again on the next pick.
        else this.#readAt = Number.NEGATIVE_INFINITY;
      } catch (error) {
        // Retried on the next pick after REFRESH_MS, serving the last map meanwhile.
        this.#readAt = clock.monotonic();
        if (!this.#refreshFailing && !store.isClosed) logger.warn(`could not re-read the active rollouts (routing as before until it works): ${(error as Error).message}`);
        this.#refreshFailing = true;
      } finally {
        done = true;
        this.#refreshing = undefined;
      }
    })();
    // A store that threw at once has already finished: a settled promise must not stand in the way of the next refresh.
    if (!done) this.#refreshing = refreshing;
    return refreshing;
  }

  /**
   * Re-reads the active rollouts every REFRESH_MS from now on, so a rollout started, decided or ended by another
   * process is routed by within REFRESH_MS plus one read, whether or not agents are being created meanwhile. The
   * timer does not keep the process alive; {@link stop} ends it.
   */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves once the refresh and the canary checks under way are done (before the store closes). */
  async settled(): Promise<void> {
    await this.#refreshing;
    await this.#checks.settled();
  }

  /** The version a new agent of `template` should get, and whether it is the canary's candidate; undefined for the one on disk. */
  pick(template: string): { version: string; isCandidate: boolean } | undefined {
    const rollout = this.#rollouts().get(template);
    if (!rollout) return undefined;
    // A candidate retired while its canary runs gets nothing more, at once (an in-memory lookup, like revocation).
    if (this.#options.store.trust.retirement(template, rollout.candidateVersion)) return { version: rollout.stableVersion, isCandidate: false };
    return this.#random() < rollout.weight ? { version: rollout.candidateVersion, isCandidate: true } : { version: rollout.stableVersion, isCandidate: false };
  }

  /** Counts a finished run; every few runs of a template in canary, looks at its numbers. */
  observe(record: RunRecord): void {
    const rollout = this.#rollouts().get(record.template);
    if (!rollout || record.depth > 0) return;
    const seen = (this.#runsSinceCheck.get(record.template) ?? 0) + 1;
    this.#runsSinceCheck.set(record.template, seen);
    if (seen < CHECK_EVERY) return;
    this.#runsSinceCheck.set(record.template, 0);
    // After the run is recorded: decide off the hot path.
    setImmediate(() => this.#checks.start(`canary check of "${rollout.template}"`, () => this.check(rollout.template)));
  }

  /** Looks at a canary now and acts on the decision. */
  async check(template: string): Promise<CanaryDecision | undefined> {
    const { store, clock, logger } = this.#options;
    if (store.isClosed) return undefined;
    const rollout = await store.rollouts.get(template);
    if (!rollout || rollout.state !== 'canary') return undefined;
    await store.runs.flush();
    const runs = (await store.queries.list({ template, since: rollout.startedAt, limit: 100_000 })).filter((run) => run.depth === 0);
    const decision = analyseCanary(canaryArm(runs, rollout.stableVersion), canaryArm(runs, rollout.candidateVersion), this.#options);
    if (decision.action === 'wait') return decision;
    const state = decision.action === 'promote' ? 'promoted' : 'rolled_back';
    const now = clock.now();
    if (!(await store.rollouts.decide(template, state, now, { ...decision }))) return decision;
    // Routing follows the decision at once, without waiting for the next read of the active rollouts.
    this.#generation++;
    const active = new Map(this.#active);
    active.delete(template);
    this.#active = active;
    if (decision.action === 'rollback') {
      const dir = this.#options.dirOf(template);
      // A retired version is never put back in service, not even by the canary's own rollback.
      if (store.trust.retirement(template, rollout.stableVersion)) logger.warn(`canary of "${template}": not restoring ${rollout.stableVersion}, which is retired; roll forward`);
      else if (dir) {
        try {
          // Refused (E_TRUST_STATE) when the keys folder does not vouch for the stable row: nothing is written from it.
          const stable = await store.versions.get(template, rollout.stableVersion);
          if (stable) restoreStoredVersion(stable, dir, { currentSources: (await store.versions.get(template, rollout.candidateVersion, { unsealed: 'skip' }))?.sources ?? {} });
        } catch (error) {
          // Never a mix: the folder keeps the candidate, and the decision stands (the router already routes to the stable version).
          logger.warn(`canary of "${template}": could not put ${rollout.stableVersion} back on disk: ${(error as Error).message}`);
        }
      }
    }
    if (rollout.suggestionId) await store.suggestions.decide(rollout.suggestionId, state, { at: now, by: 'canary', reason: decision.reason });
    await store.audit.append({
      type: decision.action === 'promote' ? 'rollout.promoted' : 'rollout.rolled_back',
      actor: 'canary',
      subject: template,
      data: { stableVersion: rollout.stableVersion, candidateVersion: rollout.candidateVersion, ...decision },
    });
    logger.info(`canary of "${template}" ${rollout.candidateVersion}: ${decision.action} — ${decision.reason}`);
    this.#readAt = Number.NEGATIVE_INFINITY;
    return decision;
  }

  #rollouts(): Map<string, Rollout> {
    if (!this.#refreshing && this.#options.clock.monotonic() - this.#readAt >= REFRESH_MS && !this.#options.store.isClosed) void this.refresh();
    return this.#active;
  }
}
