/** @module runtime/fleet — connects the runner and the dispatcher to a PostgreSQL store's queue: the adapters between runtime/runner, runtime/dispatcher and store/postgres. */
import { Batcher } from '../core/batcher.js';
import { QUEUED_CHANNEL } from '../store/postgres/channels.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import type { DispatchBackend } from './dispatcher.js';
import type { RunnerBackend, RunnerClaim } from './runner.js';

/** What a runner needs, from a PostgreSQL store. */
export function runnerBackendOf(store: PostgresStore): RunnerBackend {
  const { queue } = store;
  return {
    leaseMs: queue.leaseMs,
    claim: (owner, limit) => queue.claim(owner, limit),
    renew: (owner, fences) => queue.renew(owner, fences),
    completeMany: (completions) =>
      queue.completeMany(completions, async (completed) => {
        const records = completed.flatMap((index) => completions[index]?.record ?? []);
        await store.runs.writeInTransaction(records);
      }),
    release: (claim: RunnerClaim, delayMs) => queue.release(claim, delayMs),
    reap: () => queue.reap(),
    onQueued: (wake) => {
      const unsubscribe = store.notifications.subscribe(QUEUED_CHANNEL, wake);
      // Notifications sent while the connection was down are lost: look at once when it is back.
      const offReconnect = store.notifications.onReconnect(wake);
      return unsubscribe.then((off) => () => {
        off();
        offReconnect();
      });
    },
    openRunKv: () => {
      const kv = store.openRunKv();
      return {
        kv,
        apply: () => kv.apply(),
        get isEmpty() {
          return kv.isEmpty;
        },
      };
    },
  };
}

/** Runs queued in one statement at most. */
const MAX_ENQUEUE_BATCH = 100;

/**
 * What a dispatcher needs, from a PostgreSQL store. Runs dispatched while an enqueue is on its way are queued together
 * by the next one (under load, one statement and one commit for many runs; idle, no wait).
 */
export function dispatchBackendOf(store: PostgresStore): DispatchBackend {
  const enqueues = new Batcher((runs: Parameters<DispatchBackend['enqueue']>[0][]) => store.queue.enqueueMany(runs), { maxBatch: MAX_ENQUEUE_BATCH });
  return {
    enqueue: async (run) => {
      await enqueues.submit(run);
    },
    start: () => store.results.start(),
    wait: (id, timeoutMs) => store.results.wait(id, timeoutMs),
  };
}
