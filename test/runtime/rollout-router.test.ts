// The rollout router re-reads the active rollouts off the run path: a pick never waits for the store, it is served
// from the last map read while a refresh runs in the background, and a failing refresh is logged once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock, type ManualClock } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { RolloutRouter } from '../../runtime/rollout-router.js';
import { openStore, type SqliteStore } from '../../store/index.js';

let store: SqliteStore;
let clock: ManualClock;
let warnings: string[];
let router: RolloutRouter;

beforeEach(() => {
  clock = createManualClock(1_700_000_000_000);
  store = openStore({ path: ':memory:', clock });
  warnings = [];
  const logger = createLogger({ level: 'warn', color: false, stream: { write: (line: string) => (warnings.push(line), true) } });
  // random() = 0: every pick of a template in canary goes to its candidate.
  router = new RolloutRouter({ store, clock, logger, dirOf: () => undefined, random: () => 0 });
});

afterEach(async () => {
  await router.settled();
  await store.close();
});

const startCanary = () => store.rollouts.start({ template: 'hello', stableVersion: '1.0.0', candidateVersion: '1.1.0', weight: 0.5, startedAt: clock.now() });

describe('the rollout router, refreshing in the background', () => {
  it('serves the last map while a refresh runs, and routes by the new one once it completes', async () => {
    await router.refresh();
    expect(router.pick('hello')).toBeUndefined();
    startCanary();
    // Within REFRESH_MS the map read last is used as is.
    expect(router.pick('hello')).toBeUndefined();
    clock.advance(1_000);
    // Stale: this pick starts a refresh and is answered at once from the map it has, without waiting for the store.
    expect(router.pick('hello')).toBeUndefined();
    await router.settled();
    expect(router.pick('hello')).toEqual({ version: '1.1.0', isCandidate: true });
  });

  it('keeps routing by the last map when a refresh fails, and says so once until one succeeds', async () => {
    startCanary();
    await router.refresh();
    expect(router.pick('hello')).toEqual({ version: '1.1.0', isCandidate: true });
    // A real failure of the database under the read: the table is gone.
    store.db.exec('ALTER TABLE rollouts RENAME TO rollouts_away');
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      expect(router.pick('hello')).toEqual({ version: '1.1.0', isCandidate: true });
      await router.settled();
    }
    expect(warnings.filter((line) => line.includes('could not re-read the active rollouts'))).toHaveLength(1);
    store.db.exec('ALTER TABLE rollouts_away RENAME TO rollouts');
    store.db.exec("UPDATE rollouts SET state = 'rolled_back'");
    clock.advance(1_000);
    router.pick('hello');
    await router.settled();
    expect(router.pick('hello')).toBeUndefined();
  });
});
