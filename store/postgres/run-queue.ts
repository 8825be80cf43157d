/** @module store/postgres/run-queue — the run queue in PostgreSQL: enqueue, claim with SKIP LOCKED, leases, fenced completion, the reaper, and waiting for a result. */
import { FactoryError } from '../../core/errors.js';
import { DONE_CHANNEL, QUEUED_CHANNEL } from './channels.js';
import type { PgDatabase } from './connection.js';
import type { PgNotifications } from './notifications.js';

/** The database's clock in epoch milliseconds: leases are judged by one clock, whatever the runners' clocks say. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';


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
   * Puts a run on the queue and wakes the runners, in one statement. The depth check and the insert are one statement
   * but not serialised across callers, so a tenant can pass its cap by the number of enqueues racing at that moment.
   * @throws FactoryError `E_RATE_LIMITED` when the tenant already has `maxQueuedPerTenant` runs waiting or running;
   *   `E_CONFLICT` when a run with this id is already queued.
   */
  async enqueue(run: QueuedRun): Promise<void> {
    const inserted = await this.#db.row<{ id: string }>(
      {
        name: 'af_queue_enqueue',
        text: `WITH inserted AS (
                 INSERT INTO run_queue (id, tenant, template, request, state, enqueued_at, available_at)
                 SELECT $1, $2, $3, $4, 'queued', ${NOW_MS}, ${NOW_MS}
                 WHERE (SELECT count(*) FROM run_queue WHERE tenant = $2) < $5
                 ON CONFLICT (id) DO NOTHING
                 RETURNING id)
               SELECT id, pg_notify('${QUEUED_CHANNEL}', '') FROM inserted`,
      },
      [run.id, run.tenant, run.template, JSON.stringify(run.request), this.#maxQueuedPerTenant],
    );
    if (inserted) return;
    const existing = await this.#db.row({ name: 'af_queue_exists', text: 'SELECT 1 FROM run_queue WHERE id = $1' }, [run.id]);
    if (existing) throw new FactoryError('E_CONFLICT', `run ${run.id} is already queued`);
    throw new FactoryError('E_RATE_LIMITED', `tenant ${run.tenant} has ${this.#maxQueuedPerTenant} runs queued or running, the most it may; retry when some have finished`, {
      details: { tenant: run.tenant, maxQueued: this.#maxQueuedPerTenant },
    });
  }

  /**
   * Claims up to `limit` runs for `owner`, oldest first, skipping rows other runners hold and tenants at their running
   * cap. One statement, one round trip.
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
               RETURNING id, tenant, template, request, fence, attempts, lease_expires_at`,
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

  /** Extends the leases of the runs `owner` holds, in one statement. @returns the fences still held (a missing one was lost). */
  async renew(owner: string, fences: readonly number[]): Promise<Set<number>> {
    if (fences.length === 0) return new Set();
    const rows = await this.#db.rows<{ fence: number }>(
      {
        name: 'af_queue_renew',
        text: `UPDATE run_queue SET lease_expires_at = ${NOW_MS} + $3
               WHERE fence = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
               RETURNING fence`,
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
      if (!(await this.#finishHeld(claim, result))) return 'fenced';
      // Last: the record's insert holds the lock that orders run inserts until this transaction commits.
      if (effects) await effects();
      return 'completed';
    });
  }

  /**
   * Completes several runs in one transaction (one commit, one flush: a runner's finished runs are grouped while the
   * previous group commits). Each run is fenced on its own; a run whose `effects` throw `E_CONFLICT` is undone alone
   * (a savepoint) and stays claimed; `last` runs once, after every run, with the completed ones (their records: the
   * insert that takes the run-insert lock, so it is held only until this commit). Any other error rolls back the whole
   * group and is rethrown.
   * @returns per run: 'completed', 'fenced' (its lease was lost: nothing applied) or 'conflict'.
   */
  async completeMany(completions: readonly QueueCompletion[], last?: (completed: number[]) => Promise<void>): Promise<CompletionOutcome[]> {
    if (completions.length === 0) return [];
    return this.#db.transaction(async () => {
      const outcomes: CompletionOutcome[] = [];
      for (const { claim, result, effects } of completions) {
        if (!effects) {
          outcomes.push((await this.#finishHeld(claim, result)) ? 'completed' : 'fenced');
          continue;
        }
        await this.#db.query('SAVEPOINT af_completion');
        try {
          if (!(await this.#finishHeld(claim, result))) outcomes.push('fenced');
          else {
            await effects();
            outcomes.push('completed');
          }
          await this.#db.query('RELEASE SAVEPOINT af_completion');
        } catch (error) {
          if (!(error instanceof FactoryError && error.code === 'E_CONFLICT')) throw error;
          await this.#db.query('ROLLBACK TO SAVEPOINT af_completion');
          await this.#db.query('RELEASE SAVEPOINT af_completion');
          outcomes.push('conflict');
        }
      }
      const completed = outcomes.flatMap((outcome, index) => (outcome === 'completed' ? [index] : []));
      if (last && completed.length > 0) await last(completed);
      return outcomes;
    });
  }

  /** Gives a claimed run back to the queue, to be claimed again after `delayMs`. @returns false when the lease was already lost. */
  async release(claim: Pick<ClaimedRun, 'id' | 'fence'>, delayMs = 0): Promise<boolean> {
    // Not a failed attempt (the runner is alive and gave it back, after a kv conflict): it does not count towards
    // maxAttempts, which is for runners that die.
    const row = await this.#db.row(
      {
        name: 'af_queue_release',
        text: `WITH released AS (
                 UPDATE run_queue SET state = 'queued', lease_owner = NULL, fence = NULL, lease_expires_at = NULL, available_at = ${NOW_MS} + $3,
                   attempts = attempts - 1
                 WHERE id = $1 AND fence = $2
                 RETURNING id)
               SELECT id, pg_notify('${QUEUED_CHANNEL}', '') FROM released`,
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
          text: `DELETE FROM run_queue WHERE state = 'running' AND lease_expires_at < ${NOW_MS} AND attempts >= $1 RETURNING id, attempts`,
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
                 WHERE state = 'running' AND lease_expires_at < ${NOW_MS}
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
   * Deletes the queue row if `fence` still holds it, stores the result and wakes the caller, in one statement.
   * @returns false when the lease was lost (nothing done).
   */
  async #finishHeld(claim: Pick<ClaimedRun, 'id' | 'fence'>, result: unknown): Promise<boolean> {
    const row = await this.#db.row(
      {
        name: 'af_queue_complete',
        text: `WITH held AS (DELETE FROM run_queue WHERE id = $1 AND fence = $2 RETURNING id),
                 stored AS (INSERT INTO run_results (id, result, finished_at) SELECT id, $3, ${NOW_MS} FROM held ON CONFLICT (id) DO NOTHING)
               SELECT id, pg_notify('${DONE_CHANNEL}', id) FROM held`,
      },
      [claim.id, claim.fence, JSON.stringify(result)],
    );
    return row !== undefined;
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
      this.#unsubscribe = await this.#notifications.subscribe(DONE_CHANNEL, (id) => {
        if (this.#pending.has(id)) void this.#take();
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
