/** @module store/postgres/run-queue — the run queue in PostgreSQL: enqueue, claim with SKIP LOCKED, leases, fenced completion, the reaper, and waiting for a result. */
import { FactoryError } from '../../core/errors.js';
import type { RunRecord } from '../../core/run-record.js';
import { DONE_CHANNEL, QUEUED_CHANNEL } from './channels.js';
import type { PgDatabase } from './connection.js';
import type { PgNotifications } from './notifications.js';
import { columnsOf, insertRecordsCtes, isRecordError } from './run-writer.js';

/** The database's clock in epoch milliseconds: leases are judged by one clock, whatever the runners' clocks say. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';


/**
 * Read inside a statement, it commits that statement's transaction without waiting for its WAL flush (a setting local
 * to the transaction). For the queue's own bookkeeping (a claim, a lease renewal, a run given back, an enqueue whose
 * caller waits for the result) a commit lost in a server crash only means the run is claimed or run again; every
 * outcome a caller is told of (a completion) still waits for its flush, and flushing it flushes all WAL before it.
 */
const RELAXED_COMMIT = `(SELECT set_config('synchronous_commit', 'off', true))`;

/** Run ids per notification of finished runs (ids are 36 characters; a payload must stay under 8,000 bytes). */
const IDS_PER_NOTIFICATION = 150;

/** Held for the length of one reaper pass, so one process in the fleet reaps at a time. */
const REAPER_LOCK = 0x61667270; // 'afrp'

/** What a caller puts on the queue; `request` is what the runner needs to run it (opaque to the queue). */
export interface QueuedRun {
  id: string;
  tenant: string;
  template: string;
  request: unknown;
}

/** A run a runner holds: only the attempt with this `fence` may complete it. */
export interface ClaimedRun {
  id: string;
  tenant: string;
  template: string;
  request: unknown;
  fence: number;
  /** 1 on the first attempt; more after a runner died or gave the run back. */
  attempts: number;
  leaseExpiresAt: number;
}

export interface RunQueueOptions {
  /** How long a claim holds without renewal. @default 5000 */
  leaseMs?: number;
  /** A tenant's runs waiting and running, past which enqueue answers `E_RATE_LIMITED`. @default 10_000 */
  maxQueuedPerTenant?: number;
  /** A tenant's runs running at once across the fleet; claims skip a tenant at its cap. @default unlimited */
  maxRunningPerTenant?: number;
  /** Attempts after which the reaper ends a run whose runners keep dying (`E_SANDBOX_CRASHED`). @default 3 */
  maxAttempts?: number;
  /** How long a finished run's result waits to be read before the reaper drops it. @default 3_600_000 */
  resultTtlMs?: number;
}

/** One run to complete in {@link PgRunQueue.completeMany}. */
export interface QueueCompletion {
  claim: Pick<ClaimedRun, 'id' | 'fence'>;
  result: unknown;
  /** What the run changes besides its result (its kv writes), in the transaction; `E_CONFLICT` undoes this run only. */
  effects?: () => Promise<void>;
  /** Its run record, written only if the completion holds (for a run with `effects`, by `last` instead). */
  record?: RunRecord;
}

export type CompletionOutcome = 'completed' | 'fenced' | 'conflict';

export interface QueueDepth {
  queued: number;
  running: number;
}

export interface ReapReport {
  /** Runs whose lease expired, put back on the queue. */
  requeued: number;
  /** Runs that reached `maxAttempts`, ended with an error result. */
  abandoned: number;
  /** False when another process held the reaper lock: this pass did nothing. */
  ran: boolean;
}

interface ClaimRow {
  id: string;
  tenant: string;
  template: string;
  request: string;
  fence: number;
  attempts: number;
  lease_expires_at: number;
}

/**
 * The queue. Runners claim with one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`, so
 * concurrent runners never wait on each other's rows; each claim takes a new fence (a sequence), and completion deletes
 * the queue row only while the fence is still the one claimed, in the same transaction as the run's effects: a runner
 * that lost its lease (paused, partitioned) can run the agent code again, but its effects are never applied twice.
 */
export class PgRunQueue {
  readonly #db: PgDatabase;
  readonly #leaseMs: number;
  readonly #maxQueuedPerTenant: number;
  readonly #maxRunningPerTenant: number;
  readonly #maxAttempts: number;
  readonly #resultTtlMs: number;

  constructor(db: PgDatabase, options: RunQueueOptions = {}) {
    this.#db = db;
    this.#leaseMs = options.leaseMs ?? 5_000;
    this.#maxQueuedPerTenant = options.maxQueuedPerTenant ?? 10_000;
    this.#maxRunningPerTenant = options.maxRunningPerTenant ?? 2 ** 31 - 1;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#resultTtlMs = options.resultTtlMs ?? 3_600_000;
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  /**
   * Puts a run on the queue and wakes the runners ({@link enqueueMany} with one run).
   * @throws FactoryError `E_RATE_LIMITED` when the tenant already has `maxQueuedPerTenant` runs waiting or running;
   *   `E_CONFLICT` when a run with this id is already queued.
   */
  async enqueue(run: QueuedRun): Promise<void> {
    const [outcome] = await this.enqueueMany([run]);
    if (outcome instanceof Error) throw outcome;
  }

  /**
   * Puts runs on the queue and wakes the runners, in one statement (a dispatcher sends the runs that gathered while its
   * previous enqueue was on its way). Its commit does not wait for the WAL flush (see RELAXED_COMMIT): a caller learns
   * that its run happened from the run's result, whose commit is flushed and flushes this one with it. The depth check
   * is part of the statement but not serialised across callers, so a tenant can pass its cap by the number of runs
   * being queued at that moment; it counts at most `maxQueuedPerTenant` rows, so a deep backlog does not make every
   * enqueue slower.
   * @returns per run: undefined when queued, else the error it met (`E_RATE_LIMITED`, or `E_CONFLICT` for an id
   *   already queued)
   */
  async enqueueMany(runs: readonly QueuedRun[]): Promise<Array<FactoryError | undefined>> {
    if (runs.length === 0) return [];
    // An id twice in one batch: the second is refused here, as it would be a moment later.
    const seen = new Set<string>();
    const repeated = runs.map((run) => seen.size === seen.add(run.id).size);
    const batch = runs.filter((_, index) => !repeated[index]);
    const rows = await this.#db.rows<{ id: string }>(
      {
        name: 'af_queue_enqueue',
        text: `WITH fresh AS (
                 SELECT r.id, r.tenant, r.template, r.request
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(id, tenant, template, request)
                 WHERE (SELECT count(*) FROM (SELECT 1 FROM run_queue q WHERE q.tenant = r.tenant LIMIT $5) capped) < $5),
               inserted AS (
                 INSERT INTO run_queue (id, tenant, template, request, state, enqueued_at, available_at)
                 SELECT id, tenant, template, request, 'queued', ${NOW_MS}, ${NOW_MS} FROM fresh
                 ON CONFLICT (id) DO NOTHING
                 RETURNING id)
               SELECT id, pg_notify('${QUEUED_CHANNEL}', ''), ${RELAXED_COMMIT} FROM inserted`,
      },
      [batch.map((run) => run.id), batch.map((run) => run.tenant), batch.map((run) => run.template), batch.map((run) => JSON.stringify(run.request)), this.#maxQueuedPerTenant],
    );
    const queued = new Set(rows.map((row) => row.id));
    const missing = batch.filter((run) => !queued.has(run.id)).map((run) => run.id);
    const existing = missing.length === 0 ? new Set<string>() : new Set((await this.#db.rows<{ id: string }>({ name: 'af_queue_exists', text: 'SELECT id FROM run_queue WHERE id = ANY($1::text[])' }, [missing])).map((row) => row.id));
    return runs.map((run, index) => {
      if (!repeated[index] && queued.has(run.id)) return undefined;
      if (repeated[index] || existing.has(run.id)) return new FactoryError('E_CONFLICT', `run ${run.id} is already queued`);
      return new FactoryError('E_RATE_LIMITED', `tenant ${run.tenant} has ${this.#maxQueuedPerTenant} runs queued or running, the most it may; retry when some have finished`, {
        details: { tenant: run.tenant, maxQueued: this.#maxQueuedPerTenant },
      });
    });
  }

  /**
   * Claims up to `limit` runs for `owner`, oldest first, skipping rows other runners hold and tenants at their running
   * cap. One statement, one round trip, committed without waiting for its flush (a claim lost in a crash is claimed
   * again; the attempt that ran under it is fenced).
   */
  async claim(owner: string, limit: number): Promise<ClaimedRun[]> {
    if (limit <= 0) return [];
    const rows = await this.#db.rows<ClaimRow>(
      {
        name: 'af_queue_claim',
        text: `WITH busy AS (
                 SELECT tenant FROM run_queue WHERE state = 'running' GROUP BY tenant HAVING count(*) >= $4)
               UPDATE run_queue SET state = 'running', lease_owner = $1, fence = nextval('run_queue_fence'),
                 lease_expires_at = ${NOW_MS} + $2, attempts = attempts + 1
               WHERE id IN (
                 SELECT id FROM run_queue
                 WHERE state = 'queued' AND available_at <= ${NOW_MS} AND tenant NOT IN (SELECT tenant FROM busy)
                 ORDER BY available_at, enqueued_at
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
               RETURNING id, tenant, template, request, fence, attempts, lease_expires_at, ${RELAXED_COMMIT}`,
      },
      [owner, this.#leaseMs, limit, this.#maxRunningPerTenant],
    );
    return rows.map((row) => ({
      id: row.id,
      tenant: row.tenant,
      template: row.template,
      request: JSON.parse(row.request) as unknown,
      fence: row.fence,
      attempts: row.attempts,
      leaseExpiresAt: row.lease_expires_at,
    }));
  }

  /**
   * Extends the leases of the runs `owner` holds, in one statement that never waits on a row lock: a run whose row is
   * locked (its completion is deleting it, or the reaper is taking it back) is skipped, not waited for, and the
   * answer is read from a snapshot: a run whose row still names this owner is held (its completion decides the rest).
   * @returns the fences still held (a missing one was lost)
   */
  async renew(owner: string, fences: readonly number[]): Promise<Set<number>> {
    if (fences.length === 0) return new Set();
    const rows = await this.#db.rows<{ fence: number }>(
      {
        name: 'af_queue_renew',
        text: `WITH mine AS (
                 SELECT id, fence FROM run_queue WHERE fence = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'),
               renewed AS (
                 UPDATE run_queue SET lease_expires_at = ${NOW_MS} + $3
                 WHERE id IN (SELECT q.id FROM run_queue q JOIN mine m ON m.id = q.id AND m.fence = q.fence FOR UPDATE OF q SKIP LOCKED)
                 RETURNING id)
               SELECT fence, (SELECT count(*) FROM renewed) AS renewed, ${RELAXED_COMMIT} FROM mine`,
      },
      [fences, owner, this.#leaseMs],
    );
    return new Set(rows.map((row) => row.fence));
  }

  /**
   * Completes a run in one transaction: deletes its queue row only if `fence` still holds it, stores `result` for the
   * waiting caller and wakes it (the notification is sent at commit), then runs `effects` (its kv writes, then its
   * record: every store call inside joins the transaction). If `effects` throws, nothing is applied and the error is rethrown (the run stays
   * claimed: give it back with {@link release} or let its lease expire).
   * @returns 'completed', or 'fenced' when the lease was lost: nothing was applied.
   */
  async complete(claim: Pick<ClaimedRun, 'id' | 'fence'>, result: unknown, effects?: () => Promise<void>): Promise<'completed' | 'fenced'> {
    return this.#db.transaction(async () => {
      if ((await this.#finishHeld([{ claim, result }], false)).size === 0) return 'fenced';
      // Last: the record's insert holds the lock that orders run inserts until this transaction commits.
      if (effects) await effects();
      return 'completed';
    });
  }

  /**
   * Completes several runs, each fenced on its own claim. Runs with nothing but a result and a record (most runs) are
   * finished in one statement, its own transaction: queue rows deleted, results stored, records inserted, callers
   * woken, in one round trip (so the run-insert lock is held only inside the server). Runs with `effects` (kv writes)
   * follow in one transaction, each in a savepoint: one whose `effects` throw `E_CONFLICT` is undone alone and stays
   * claimed; `last` runs after them with those completed (it writes their records).
   * @returns per run: 'completed', 'fenced' (its lease was lost: nothing applied), 'conflict', or the error that
   *   stopped its transaction (nothing of that transaction applied)
   */
  async completeMany(completions: readonly QueueCompletion[], last?: (completed: number[]) => Promise<void>): Promise<Array<CompletionOutcome | Error>> {
    const outcomes: Array<CompletionOutcome | Error> = completions.map(() => 'fenced');
    const plain = completions.flatMap((completion, index) => (completion.effects ? [] : [index]));
    const finishPlain = async (chunk: number[]): Promise<void> => {
      try {
        const finished = await this.#finishHeld(chunk.map((index) => completions[index] as QueueCompletion), true);
        for (const index of chunk) if (finished.has((completions[index] as QueueCompletion).claim.id)) outcomes[index] = 'completed';
      } catch (error) {
        // A record PostgreSQL refuses fails only its own run: the others of its group are finished one by one.
        if (chunk.length > 1 && isRecordError(error)) for (const index of chunk) await finishPlain([index]);
        else for (const index of chunk) outcomes[index] = error as Error;
      }
    };
    for (let from = 0; from < plain.length; from += IDS_PER_NOTIFICATION) await finishPlain(plain.slice(from, from + IDS_PER_NOTIFICATION));
    const effectful = completions.flatMap((completion, index) => (completion.effects ? [index] : []));
    if (effectful.length === 0) return outcomes;
    try {
      await this.#db.transaction(async () => {
        for (const index of effectful) {
          const completion = completions[index] as QueueCompletion;
          await this.#db.query('SAVEPOINT af_completion');
          try {
            if ((await this.#finishHeld([completion], false)).size > 0) {
              await completion.effects?.();
              outcomes[index] = 'completed';
            }
            await this.#db.query('RELEASE SAVEPOINT af_completion');
          } catch (error) {
            if (!(error instanceof FactoryError && error.code === 'E_CONFLICT')) throw error;
            await this.#db.query('ROLLBACK TO SAVEPOINT af_completion');
            await this.#db.query('RELEASE SAVEPOINT af_completion');
            outcomes[index] = 'conflict';
          }
        }
        const completed = effectful.filter((index) => outcomes[index] === 'completed');
        if (last && completed.length > 0) await last(completed);
      });
    } catch (error) {
      for (const index of effectful) outcomes[index] = error as Error;
    }
    return outcomes;
  }

  /**
   * Gives a claimed run back to the queue, at its place (its `available_at` moved by `delayMs`, so a run retried after
   * a kv conflict does not go behind the backlog queued since). @returns false when the lease was already lost.
   */
  async release(claim: Pick<ClaimedRun, 'id' | 'fence'>, delayMs = 0): Promise<boolean> {
    // Not a failed attempt (the runner is alive and gave it back, after a kv conflict): it does not count towards
    // maxAttempts, which is for runners that die.
    const row = await this.#db.row(
      {
        name: 'af_queue_release',
        text: `WITH released AS (
                 UPDATE run_queue SET state = 'queued', lease_owner = NULL, fence = NULL, lease_expires_at = NULL, available_at = available_at + $3,
                   attempts = attempts - 1
                 WHERE id = $1 AND fence = $2
                 RETURNING id)
               SELECT id, pg_notify('${QUEUED_CHANNEL}', ''), ${RELAXED_COMMIT} FROM released`,
      },
      [claim.id, claim.fence, delayMs],
    );
    return row !== undefined;
  }

  /**
   * One reaper pass, by whichever process gets the lock: runs whose lease expired go back on the queue; those that
   * reached `maxAttempts` end with an `E_SANDBOX_CRASHED` result instead (a run that kills every runner it lands on
   * must not take the fleet down in turn); results nobody read for `resultTtlMs` are dropped.
   */
  async reap(): Promise<ReapReport> {
    return this.#db.transaction(async () => {
      const lock = await this.#db.row<{ held: boolean }>({ name: 'af_queue_reaper_lock', text: 'SELECT pg_try_advisory_xact_lock($1) AS held' }, [REAPER_LOCK]);
      if (!lock?.held) return { requeued: 0, abandoned: 0, ran: false };
      const abandoned = await this.#db.rows<{ id: string; attempts: number }>(
        {
          name: 'af_queue_abandon',
          // Rows locked by a completion under way are skipped, not waited for: that completion decides them.
          text: `DELETE FROM run_queue WHERE id IN (
                   SELECT id FROM run_queue WHERE state = 'running' AND lease_expires_at < ${NOW_MS} AND attempts >= $1 FOR UPDATE SKIP LOCKED)
                 RETURNING id, attempts`,
        },
        [this.#maxAttempts],
      );
      for (const run of abandoned) {
        await this.#finish(run.id, {
          ok: false,
          code: 'E_SANDBOX_CRASHED',
          message: `run ${run.id} was attempted ${run.attempts} times and its runner stopped each time before finishing it; it was not run again`,
        });
      }
      const requeued = await this.#db.rows(
        {
          name: 'af_queue_requeue',
          // available_at is kept (it is past): the run goes back to its place, ahead of the backlog queued since,
          // so a dead runner's runs finish within about a lease and a reaper pass of its death, not after the backlog.
          text: `UPDATE run_queue SET state = 'queued', lease_owner = NULL, fence = NULL, lease_expires_at = NULL
                 WHERE id IN (SELECT id FROM run_queue WHERE state = 'running' AND lease_expires_at < ${NOW_MS} FOR UPDATE SKIP LOCKED)
                 RETURNING id`,
        },
      );
      if (requeued.length > 0) await this.#db.query(`SELECT pg_notify('${QUEUED_CHANNEL}', '')`);
      await this.#db.query({ name: 'af_queue_drop_results', text: `DELETE FROM run_results WHERE finished_at < ${NOW_MS} - $1` }, [this.#resultTtlMs]);
      return { requeued: requeued.length, abandoned: abandoned.length, ran: true };
    });
  }

  /** Takes the results of those runs that have finished (each is read once). */
  async takeResults(ids: readonly string[]): Promise<Map<string, unknown>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#db.rows<{ id: string; result: string }>({ name: 'af_queue_take_results', text: 'DELETE FROM run_results WHERE id = ANY($1::text[]) RETURNING id, result' }, [ids]);
    return new Map(rows.map((row) => [row.id, JSON.parse(row.result) as unknown]));
  }

  async depth(): Promise<QueueDepth> {
    const rows = await this.#db.rows<{ state: 'queued' | 'running'; n: number }>({ name: 'af_queue_depth', text: 'SELECT state, count(*)::bigint AS n FROM run_queue GROUP BY state' });
    const depth = { queued: 0, running: 0 };
    for (const row of rows) depth[row.state] = row.n;
    return depth;
  }

  /**
   * Deletes the queue rows whose fences still hold them, stores their results and wakes their callers (one notification
   * for them all, the ids joined by commas), in one statement; `withRecords`: and inserts the records of those runs.
   * @returns the ids finished (a run missing had lost its lease: nothing done for it)
   */
  async #finishHeld(completions: readonly QueueCompletion[], withRecords: boolean): Promise<Set<string>> {
    const finish = `done AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) AS d(id, fence, result)),
                 held AS (DELETE FROM run_queue q USING done d WHERE q.id = d.id AND q.fence = d.fence RETURNING q.id),
                 stored AS (
                   INSERT INTO run_results (id, result, finished_at)
                   SELECT d.id, d.result, ${NOW_MS} FROM held h JOIN done d ON d.id = h.id
                   ON CONFLICT (id) DO NOTHING)`;
    const wake = `SELECT ids, pg_notify('${DONE_CHANNEL}', ids) FROM (SELECT string_agg(id, ',') AS ids FROM held) finished WHERE ids IS NOT NULL`;
    const values: unknown[] = [completions.map((c) => c.claim.id), completions.map((c) => c.claim.fence), completions.map((c) => JSON.stringify(c.result))];
    const statement = withRecords
      ? { name: 'af_queue_complete_recorded', text: `WITH ${finish}, ${insertRecordsCtes(4, 'SELECT id FROM held')} ${wake}` }
      : { name: 'af_queue_complete', text: `WITH ${finish} ${wake}` };
    if (withRecords) values.push(...columnsOf(completions.flatMap((c) => c.record ?? [])));
    const rows = await this.#db.rows<{ ids: string }>(statement, values);
    return new Set(rows[0]?.ids.split(',') ?? []);
  }

  async #finish(id: string, result: unknown): Promise<void> {
    await this.#db.query(
      {
        name: 'af_queue_finish',
        text: `INSERT INTO run_results (id, result, finished_at) VALUES ($1, $2, ${NOW_MS}) ON CONFLICT (id) DO NOTHING`,
      },
      [id, JSON.stringify(result)],
    );
    await this.#db.query({ name: 'af_queue_notify_done', text: `SELECT pg_notify('${DONE_CHANNEL}', $1)` }, [id]);
  }
}

/**
 * Waits for results of runs this process queued: woken by the done channel, with a slow poll as the safety net (a
 * notification sent while the LISTEN connection was down is lost).
 */
export class RunResultWaiter {
  readonly #queue: PgRunQueue;
  readonly #notifications: PgNotifications;
  readonly #pending = new Map<string, { resolve(result: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  readonly #pollMs: number;
  #unsubscribe: (() => void) | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #ready: Promise<void> | undefined;
  #isTaking = false;
  #again = false;

  constructor(queue: PgRunQueue, notifications: PgNotifications, options: { pollMs?: number } = {}) {
    this.#queue = queue;
    this.#notifications = notifications;
    this.#pollMs = options.pollMs ?? 1_000;
  }

  /** Subscribes before the first enqueue, so no notification can be missed between enqueue and wait. */
  start(): Promise<void> {
    this.#ready ??= (async () => {
      // The payload is the finished runs' ids, joined by commas.
      this.#unsubscribe = await this.#notifications.subscribe(DONE_CHANNEL, (ids) => {
        if (ids.split(',').some((id) => this.#pending.has(id))) void this.#take();
      });
      this.#notifications.onReconnect(() => void this.#take());
      this.#pollTimer = setInterval(() => {
        if (this.#pending.size > 0) void this.#take();
      }, this.#pollMs);
      this.#pollTimer.unref();
    })();
    return this.#ready;
  }

  /**
   * The result of run `id`, once a runner completes it.
   * @throws FactoryError `E_TIMEOUT` after `timeoutMs` (the run may still finish: its record will show it).
   */
  async wait(id: string, timeoutMs: number): Promise<unknown> {
    await this.start();
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new FactoryError('E_TIMEOUT', `no runner finished run ${id} within ${timeoutMs} ms; it may still run, and \`af runs show ${id}\` will show it`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    // It may have finished before this waiter was registered.
    void this.#take();
    return result;
  }

  close(): void {
    clearInterval(this.#pollTimer);
    this.#unsubscribe?.();
    for (const [id, waiter] of this.#pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new FactoryError('E_DISPOSED', `stopped waiting for run ${id}: the process is closing`));
    }
    this.#pending.clear();
  }

  /** Reads every pending result that has arrived, in one statement; one pass at a time, another queued behind it. */
  async #take(): Promise<void> {
    if (this.#isTaking) {
      this.#again = true;
      return;
    }
    this.#isTaking = true;
    try {
      do {
        this.#again = false;
        const ids = [...this.#pending.keys()];
        if (ids.length === 0) break;
        let results: Map<string, unknown>;
        try {
          results = await this.#queue.takeResults(ids);
        } catch {
          // The database is unreachable for now: the poll tries again.
          break;
        }
        for (const [id, result] of results) {
          const waiter = this.#pending.get(id);
          if (!waiter) continue;
          this.#pending.delete(id);
          clearTimeout(waiter.timer);
          waiter.resolve(result);
        }
      } while (this.#again);
    } finally {
      this.#isTaking = false;
    }
  }
}
