// The run queue against a real PostgreSQL: claims are exclusive across runners, completion is fenced and
// transactional, the reaper gives back expired leases, and callers get their results.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FactoryError } from '../../../core/errors.js';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { PgNotifications } from '../../../store/postgres/notifications.js';
import { PgRunQueries } from '../../../store/postgres/run-queries.js';
import { type ClaimedRun, PgRunQueue, RunResultWaiter } from '../../../store/postgres/run-queue.js';
import { runRecord } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const REAPER_LOCK = 0x61667270;

let database: TestDatabase;
let nodeA: PgDatabase;
let nodeB: PgDatabase;

beforeEach(async () => {
  database = await createTestDatabase();
  nodeA = new PgDatabase(database.url);
  nodeB = new PgDatabase(database.url);
  await migratePostgres(nodeA);
});

afterEach(async () => {
  await nodeA.close();
  await nodeB.close();
  await database.drop();
});

const run = (i: number, tenant = 'acme') => ({ id: `run-${String(i).padStart(4, '0')}`, tenant, template: 'hello', request: { input: { i } } });

/** Waits until the database's clock has passed `at` (leases are judged by it). */
async function untilDatabaseTime(db: PgDatabase, at: number): Promise<void> {
  for (;;) {
    const row = await db.row<{ now: number }>('SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now');
    if ((row?.now ?? 0) > at) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PgRunQueue', () => {
  it('hands a queued run to one claim, with a fence, oldest first', async () => {
    const queue = new PgRunQueue(nodeA);
    await queue.enqueue(run(1));
    await queue.enqueue(run(2));
    const [first] = await queue.claim('runner-a', 1);
    expect(first).toMatchObject({ id: 'run-0001', tenant: 'acme', template: 'hello', request: { input: { i: 1 } }, attempts: 1 });
    expect(first?.fence).toBeGreaterThan(0);
    const rest = await queue.claim('runner-b', 10);
    expect(rest.map((claim) => claim.id)).toEqual(['run-0002']);
    expect(await queue.claim('runner-b', 10)).toEqual([]);
    expect(await queue.depth()).toEqual({ queued: 0, running: 2 });
  });

  it('never hands one run to two runners claiming at the same time', async () => {
    const queueA = new PgRunQueue(nodeA);
    const queueB = new PgRunQueue(nodeB);
    for (let i = 0; i < 200; i++) await queueA.enqueue(run(i));
    const claimed: ClaimedRun[] = [];
    const claimAll = async (queue: PgRunQueue, owner: string) => {
      for (;;) {
        const batch = await queue.claim(owner, 7);
        if (batch.length === 0) return;
        claimed.push(...batch);
      }
    };
    await Promise.all([claimAll(queueA, 'a1'), claimAll(queueB, 'b1'), claimAll(queueA, 'a2'), claimAll(queueB, 'b2')]);
    const ids = claimed.map((claim) => claim.id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    expect(new Set(claimed.map((claim) => claim.fence)).size).toBe(200);
  });

  it('completes a run once: its effects and result commit with the queue row’s deletion', async () => {
    const queue = new PgRunQueue(nodeA);
    await nodeA.query('CREATE TABLE effects (id TEXT PRIMARY KEY)');
    await queue.enqueue(run(1));
    const [claim] = (await queue.claim('a', 1)) as [ClaimedRun];
    const outcome = await queue.complete(claim, { ok: true, output: 42 }, async () => {
      await nodeA.query('INSERT INTO effects (id) VALUES ($1)', [claim.id]);
    });
    expect(outcome).toBe('completed');
    expect(await queue.depth()).toEqual({ queued: 0, running: 0 });
    expect(await nodeA.rows('SELECT id FROM effects')).toEqual([{ id: 'run-0001' }]);
    expect(await new PgRunQueue(nodeB).takeResults([claim.id])).toEqual(new Map([[claim.id, { ok: true, output: 42 }]]));
    // A result is read once.
    expect(await queue.takeResults([claim.id])).toEqual(new Map());
    // Completing again (a retry of the same attempt) applies nothing.
    expect(await queue.complete(claim, { ok: true, output: 43 }, async () => {
      await nodeA.query('INSERT INTO effects (id) VALUES ($1)', ['again']);
    })).toBe('fenced');
    expect(await nodeA.rows('SELECT id FROM effects')).toEqual([{ id: 'run-0001' }]);
  });

  it('completes a group: each run fenced on its own, a conflict undone alone, the rest applied', async () => {
    const queue = new PgRunQueue(nodeA);
    await nodeA.query('CREATE TABLE effects (id TEXT PRIMARY KEY)');
    for (let i = 1; i <= 4; i++) await queue.enqueue(run(i));
    const claims = await queue.claim('a', 4);
    const [ok, conflicted, fenced, plain] = claims as [ClaimedRun, ClaimedRun, ClaimedRun, ClaimedRun];
    // The third run's lease is lost before the group commits: it was given back and taken by another runner.
    await queue.release(fenced);
    const [retaken] = (await new PgRunQueue(nodeB).claim('b', 1)) as [ClaimedRun];
    expect(retaken.id).toBe(fenced.id);
    const effect = (claim: ClaimedRun) => async () => {
      await nodeA.query('INSERT INTO effects (id) VALUES ($1)', [claim.id]);
    };
    let lastSaw: number[] = [];
    const outcomes = await queue.completeMany(
      [
        { claim: ok, result: { ok: true }, effects: effect(ok) },
        {
          claim: conflicted,
          result: { ok: true },
          effects: async () => {
            await effect(conflicted)();
            throw new FactoryError('E_CONFLICT', 'a key changed');
          },
        },
        { claim: fenced, result: { ok: true }, effects: effect(fenced) },
        { claim: plain, result: { ok: true, plain: true } },
      ],
      async (completed) => {
        lastSaw = completed;
        await nodeA.query("INSERT INTO effects (id) VALUES ('last')");
      },
    );
    expect(outcomes).toEqual(['completed', 'conflict', 'fenced', 'completed']);
    // `last` writes the records of the runs with effects; a plain run's record goes in with its own statement.
    expect(lastSaw).toEqual([0]);
    expect((await nodeA.rows<{ id: string }>('SELECT id FROM effects ORDER BY id')).map((row) => row.id)).toEqual(['last', ok.id].sort());
    expect([...(await queue.takeResults([ok.id, conflicted.id, fenced.id, plain.id])).keys()].sort()).toEqual([ok.id, plain.id].sort());
    // The conflicted run is still this runner's, to give back; the fenced one is the other runner's.
    expect(await queue.release(conflicted)).toBe(true);
    expect(await queue.depth()).toEqual({ queued: 1, running: 1 });
  });

  it('rolls back every run with effects when something other than a conflict fails; the plain runs, finished by their own statement, stand', async () => {
    const queue = new PgRunQueue(nodeA);
    await nodeA.query('CREATE TABLE effects (id TEXT PRIMARY KEY)');
    for (let i = 1; i <= 3; i++) await queue.enqueue(run(i));
    const [first, second, third] = (await queue.claim('a', 3)) as [ClaimedRun, ClaimedRun, ClaimedRun];
    const outcomes = await queue.completeMany([
      { claim: first, result: { ok: true } },
      { claim: second, result: { ok: true }, effects: async () => { await nodeA.query('INSERT INTO effects (id) VALUES ($1)', [second.id]); } },
      { claim: third, result: { ok: true }, effects: async () => { throw new Error('disk full'); } },
    ]);
    expect(outcomes[0]).toBe('completed');
    expect(outcomes[1]).toBeInstanceOf(Error);
    expect((outcomes[2] as Error).message).toContain('disk full');
    expect(await nodeA.rows('SELECT id FROM effects')).toEqual([]);
    expect(await queue.depth()).toEqual({ queued: 0, running: 2 });
    expect([...(await queue.takeResults([first.id, second.id, third.id])).keys()]).toEqual([first.id]);
  });

  it('writes the records of plain runs with their completion, only for runs whose claim still holds', async () => {
    const queue = new PgRunQueue(nodeA);
    for (let i = 1; i <= 3; i++) await queue.enqueue(run(i));
    const [kept, lost, bare] = (await queue.claim('a', 3)) as [ClaimedRun, ClaimedRun, ClaimedRun];
    await queue.release(lost);
    const outcomes = await queue.completeMany([
      { claim: kept, result: { ok: true }, record: runRecord(1, { id: kept.id }) },
      { claim: lost, result: { ok: true }, record: runRecord(2, { id: lost.id }) },
      { claim: bare, result: { ok: false, notRun: true } },
    ]);
    expect(outcomes).toEqual(['completed', 'fenced', 'completed']);
    const stored = await new PgRunQueries(nodeB).list({});
    expect(stored.map((record) => record.id)).toEqual([kept.id]);
    // The one notification names both finished runs.
    expect([...(await queue.takeResults([kept.id, lost.id, bare.id])).keys()].sort()).toEqual([kept.id, bare.id].sort());
  });

  it('fails only the run whose record PostgreSQL refuses: the rest of its group completes with their records', async () => {
    const queue = new PgRunQueue(nodeA);
    for (let i = 1; i <= 3; i++) await queue.enqueue(run(i));
    const [first, poisoned, last] = (await queue.claim('a', 3)) as [ClaimedRun, ClaimedRun, ClaimedRun];
    const outcomes = await queue.completeMany([
      { claim: first, result: { ok: true }, record: runRecord(1, { id: first.id }) },
      // An outcome the table's CHECK refuses (23514), as it would any value it cannot hold.
      { claim: poisoned, result: { ok: true }, record: runRecord(2, { id: poisoned.id, outcome: 'maybe' as 'ok' }) },
      { claim: last, result: { ok: true }, record: runRecord(3, { id: last.id }) },
    ]);
    expect(outcomes[0]).toBe('completed');
    expect(outcomes[1]).toMatchObject({ code: 'E_STORE' });
    expect(outcomes[2]).toBe('completed');
    expect((await new PgRunQueries(nodeB).list({})).map((record) => record.id).sort()).toEqual([first.id, last.id].sort());
    expect(await queue.depth()).toEqual({ queued: 0, running: 1 });
  });

  it('queues a batch in one statement, refusing per run: an id already queued, a tenant over its cap', async () => {
    const queue = new PgRunQueue(nodeA, { maxQueuedPerTenant: 2 });
    await queue.enqueue(run(1));
    await queue.enqueue(run(2));
    const outcomes = await queue.enqueueMany([run(3), run(4, 'globex'), run(4, 'globex'), run(5, 'initech')]);
    expect(outcomes[0]).toMatchObject({ code: 'E_RATE_LIMITED' });
    expect(outcomes[1]).toBeUndefined();
    expect(outcomes[2]).toMatchObject({ code: 'E_CONFLICT' });
    expect(outcomes[3]).toBeUndefined();
    expect(await queue.depth()).toEqual({ queued: 4, running: 0 });
  });

  it('applies nothing when the effects fail, and keeps the run claimed until it is released', async () => {
    const queue = new PgRunQueue(nodeA);
    await nodeA.query('CREATE TABLE effects (id TEXT PRIMARY KEY)');
    await queue.enqueue(run(1));
    const [claim] = (await queue.claim('a', 1)) as [ClaimedRun];
    await expect(queue.complete(claim, { ok: true }, async () => {
      await nodeA.query('INSERT INTO effects (id) VALUES ($1)', [claim.id]);
      throw new Error('kv conflict');
    })).rejects.toThrow('kv conflict');
    expect(await nodeA.rows('SELECT id FROM effects')).toEqual([]);
    expect(await queue.takeResults([claim.id])).toEqual(new Map());
    expect(await queue.depth()).toEqual({ queued: 0, running: 1 });
    expect(await queue.release(claim)).toBe(true);
    const [again] = (await queue.claim('b', 1)) as [ClaimedRun];
    // Given back, not failed: the attempt does not count.
    expect(again).toMatchObject({ id: claim.id, attempts: 1 });
    expect(again.fence).not.toBe(claim.fence);
    // The first attempt's fence no longer holds.
    expect(await queue.release(claim)).toBe(false);
  });

  it('puts a run whose runner died back at its place in the queue, ahead of runs queued after it', async () => {
    // Otherwise a dead runner's runs wait behind the whole backlog queued since (the chaos test's orphans).
    const queue = new PgRunQueue(nodeA, { leaseMs: 100 });
    await queue.enqueue(run(1));
    const [orphan] = (await queue.claim('killed-runner', 1)) as [ClaimedRun];
    await queue.enqueue(run(2));
    await queue.enqueue(run(3));
    await untilDatabaseTime(nodeA, orphan.leaseExpiresAt + 50);
    expect(await queue.reap()).toMatchObject({ requeued: 1 });
    expect((await queue.claim('healthy-runner', 1)).map((claim) => claim.id)).toEqual(['run-0001']);
  });

  it('fences a runner whose lease expired: the reaper requeues its run, another completes it, the first applies nothing', async () => {
    const queue = new PgRunQueue(nodeA, { leaseMs: 100 });
    const other = new PgRunQueue(nodeB, { leaseMs: 5_000 });
    await nodeA.query('CREATE TABLE effects (id TEXT, attempt BIGINT)');
    await queue.enqueue(run(1));
    const [stale] = (await queue.claim('paused-runner', 1)) as [ClaimedRun];
    expect(await queue.renew('paused-runner', [stale.fence])).toEqual(new Set([stale.fence]));
    await untilDatabaseTime(nodeA, stale.leaseExpiresAt + 100);
    expect(await other.reap()).toEqual({ requeued: 1, abandoned: 0, ran: true });
    expect(await queue.renew('paused-runner', [stale.fence])).toEqual(new Set());
    const [fresh] = (await other.claim('healthy-runner', 1)) as [ClaimedRun];
    expect(fresh).toMatchObject({ id: stale.id, attempts: 2 });
    const effect = (claim: ClaimedRun) => async () => {
      await nodeA.query('INSERT INTO effects (id, attempt) VALUES ($1, $2)', [claim.id, claim.fence]);
    };
    // The paused runner wakes while the healthy one still runs the agent: its late completion applies nothing.
    expect(await queue.complete(stale, { ok: true, by: 'paused' }, effect(stale))).toBe('fenced');
    expect(await other.complete(fresh, { ok: true, by: 'healthy' }, effect(fresh))).toBe('completed');
    expect(await nodeA.rows('SELECT id, attempt FROM effects')).toEqual([{ id: stale.id, attempt: fresh.fence }]);
    expect(await other.takeResults([stale.id])).toEqual(new Map([[stale.id, { ok: true, by: 'healthy' }]]));
  });

  it('ends a run that used up its attempts with E_SANDBOX_CRASHED instead of handing it out again', async () => {
    const queue = new PgRunQueue(nodeA, { leaseMs: 50, maxAttempts: 2 });
    await queue.enqueue(run(1));
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [claim] = (await queue.claim(`runner-${attempt}`, 1)) as [ClaimedRun];
      expect(claim.attempts).toBe(attempt);
      await untilDatabaseTime(nodeA, claim.leaseExpiresAt + 20);
      expect(await queue.reap()).toEqual(attempt < 2 ? { requeued: 1, abandoned: 0, ran: true } : { requeued: 0, abandoned: 1, ran: true });
    }
    expect(await queue.depth()).toEqual({ queued: 0, running: 0 });
    const result = (await queue.takeResults(['run-0001'])).get('run-0001');
    expect(result).toMatchObject({ ok: false, code: 'E_SANDBOX_CRASHED', message: expect.stringContaining('attempted 2 times') });
  });

  it('renews without waiting on a row its own completion has locked, and counts that run as still held', async () => {
    const queue = new PgRunQueue(nodeA);
    await queue.enqueue(run(1));
    await queue.enqueue(run(2));
    const [completing, running] = (await queue.claim('a', 2)) as [ClaimedRun, ClaimedRun];
    // The first run's completion is under way on another connection: it has deleted the row and not yet committed.
    const completion = await nodeB.connect();
    try {
      await completion.query('BEGIN');
      await completion.query('DELETE FROM run_queue WHERE id = $1', [completing.id]);
      // Were the renewal to wait for that lock, it would wait for ever here: the lock is released only after it returns.
      const kept = await queue.renew('a', [completing.fence, running.fence]);
      expect([...kept].sort()).toEqual([completing.fence, running.fence].sort());
      await completion.query('COMMIT');
    } finally {
      completion.release();
    }
    // Committed, the run is gone: the next renewal says so.
    expect([...(await queue.renew('a', [completing.fence, running.fence]))]).toEqual([running.fence]);
  });

  it('lets one process reap at a time', async () => {
    const queue = new PgRunQueue(nodeA);
    const holder = await nodeB.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [REAPER_LOCK]);
      expect(await queue.reap()).toEqual({ requeued: 0, abandoned: 0, ran: false });
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    expect((await queue.reap()).ran).toBe(true);
  });

  it('refuses a tenant past its queued cap with E_RATE_LIMITED, others still queue, and a duplicate id with E_CONFLICT', async () => {
    const queue = new PgRunQueue(nodeA, { maxQueuedPerTenant: 2 });
    await queue.enqueue(run(1));
    await queue.enqueue(run(2));
    await expect(queue.enqueue(run(3))).rejects.toMatchObject({ code: 'E_RATE_LIMITED', message: expect.stringContaining('tenant acme has 2 runs queued or running') });
    await queue.enqueue(run(4, 'globex'));
    await expect(queue.enqueue(run(4, 'globex'))).rejects.toMatchObject({ code: 'E_CONFLICT' });
  });

  it('skips a tenant at its running cap so another tenant’s runs are claimed', async () => {
    const queue = new PgRunQueue(nodeA, { maxRunningPerTenant: 1 });
    await queue.enqueue(run(1, 'busy'));
    await queue.enqueue(run(2, 'busy'));
    await queue.enqueue(run(3, 'quiet'));
    expect((await queue.claim('a', 1)).map((claim) => claim.tenant)).toEqual(['busy']);
    expect((await queue.claim('a', 5)).map((claim) => claim.id)).toEqual(['run-0003']);
    expect(await queue.depth()).toEqual({ queued: 1, running: 2 });
  });
});

describe('RunResultWaiter', () => {
  it('wakes the caller when a runner on another node completes its run, and times out with E_TIMEOUT otherwise', async () => {
    const notifications = new PgNotifications(nodeA);
    const callerQueue = new PgRunQueue(nodeA);
    const waiter = new RunResultWaiter(callerQueue, notifications, { pollMs: 60_000 });
    const runnerQueue = new PgRunQueue(nodeB);
    try {
      await waiter.start();
      await callerQueue.enqueue(run(1));
      const result = waiter.wait('run-0001', 10_000);
      const [claim] = (await runnerQueue.claim('b', 1)) as [ClaimedRun];
      await runnerQueue.complete(claim, { ok: true, output: 'hi' });
      // The poll is a minute away: only the notification can deliver it now.
      await expect(result).resolves.toEqual({ ok: true, output: 'hi' });
      await expect(waiter.wait('run-9999', 50)).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    } finally {
      waiter.close();
      await notifications.close();
    }
  });

  it('finds by polling a result whose notification was missed', async () => {
    const notifications = new PgNotifications(nodeA);
    const queue = new PgRunQueue(nodeA);
    const waiter = new RunResultWaiter(queue, notifications, { pollMs: 50 });
    try {
      await queue.enqueue(run(1));
      const result = waiter.wait('run-0001', 10_000);
      await waiter.start();
      // Stop listening: the notification of this completion goes nowhere.
      await notifications.close();
      const [claim] = (await new PgRunQueue(nodeB).claim('b', 1)) as [ClaimedRun];
      await new PgRunQueue(nodeB).complete(claim, { ok: true, output: 'polled' });
      await expect(result).resolves.toEqual({ ok: true, output: 'polled' });
    } finally {
      waiter.close();
    }
  });
});
