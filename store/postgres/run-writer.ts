/** @module store/postgres/run-writer — the batched run-record writer on PostgreSQL: `write` only queues; each batch is one statement, one round trip. */
import type pg from 'pg';
import type { RunCapture, RunRecord } from '../../core/run-record.js';
import type { RunRecordWriter } from '../contract.js';
import { COLUMNS, pushValues, resolveOptions, type RunWriterOptions } from '../run-writer.js';
import type { PgDatabase } from './connection.js';
import { sqlStateOf } from './connection.js';

/**
 * Taken (transaction-scoped) by every statement that inserts runs, before it takes `seq` values, and held until it
 * commits. Identity values are handed out at insert, not at commit: without the lock, a batch that took seq N could
 * commit after one that took N+1, and a follower reading `after(N)` in between would move past N and never see it.
 * Under the lock, seq order is commit order (PostgreSQL makes a commit visible before it releases its locks), so
 * `after`/`maxSeq` on any node never skip a run. Whatever else inserts runs (the run queue's completion) must take it
 * too, through {@link insertRecordsCtes}, and best in a statement that is its own transaction, so the lock is never
 * held while a client round trip is on its way (a client descheduled on a busy machine would hold every node's inserts
 * up). The cost: run inserts from all nodes are serial, each holding it for one statement and its commit
 * (benchmarks/pg-run-writer.mjs measures one node and two).
 */
export const RUNS_INSERT_LOCK = 0x61667275; // 'afru'

const RUN_COLUMNS =
  'id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_used_at_end_bytes, input_bytes, output_bytes, outcome, error_code, tools, denials, logs_dropped, depth, parent_id, input_shape, grants_used, heap_growth_bytes, censored_by, limits';
const RUN_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'float8', 'float8', 'float8', 'bigint', 'bigint', 'bigint', 'text', 'text', 'text', 'text', 'int', 'int', 'text', 'text', 'text', 'bigint', 'text', 'text'];
const CAPTURE_COLUMNS = 'run_id, started_at, input, input_truncated, output, output_truncated, error_message, logs, logs_truncated, max_bytes';
const CAPTURE_TYPES = ['text', 'bigint', 'text', 'boolean', 'text', 'boolean', 'text', 'text', 'boolean', 'int'];

const unnest = (types: string[], from: number) => types.map((type, i) => `$${from + i}::${type}[]`).join(', ');

/**
 * The CTEs that insert a batch of records, `inserted` (runs) then `captured` (their captures), from one array parameter
 * per column starting at `$from` (the statement's text is the same for any batch size, so it is prepared once per
 * connection). A duplicate id is skipped (ON CONFLICT DO NOTHING, as SQLite's INSERT OR IGNORE), and only the captures
 * of runs actually inserted are written. `onlyIds`, a query of ids, limits the insert to those runs. The lock is taken
 * in a one-time filter the rows pass through, so it is held before the first seq is taken (the condition is always
 * true: written without `OR TRUE`, which the planner would fold away with the call).
 */
export function insertRecordsCtes(from: number, onlyIds?: string): string {
  return `inserted AS (
    INSERT INTO runs (${RUN_COLUMNS})
    SELECT * FROM unnest(${unnest(RUN_TYPES, from)}) AS r(${RUN_COLUMNS})
    WHERE (SELECT pg_advisory_xact_lock(${RUNS_INSERT_LOCK}) IS NOT NULL)${onlyIds ? ` AND r.id IN (${onlyIds})` : ''}
    ON CONFLICT DO NOTHING
    RETURNING id
  ), captured AS (
    INSERT INTO run_captures (${CAPTURE_COLUMNS})
    SELECT * FROM unnest(${unnest(CAPTURE_TYPES, from + RUN_TYPES.length)}) AS c(${CAPTURE_COLUMNS})
    WHERE c.run_id IN (SELECT id FROM inserted)
    ON CONFLICT DO NOTHING
  )`;
}

/** Array parameters {@link insertRecordsCtes} takes. */
export const RECORD_PARAMETERS = RUN_TYPES.length + CAPTURE_TYPES.length;

/**
 * A whole batch in one statement. A single statement is its own transaction, so runs and their captures commit
 * together in one round trip, and the lock is held only inside the server, from the insert to the end of the commit.
 */
const INSERT_BATCH = {
  name: 'af_runs_insert_batch',
  text: `WITH ${insertRecordsCtes(1)}
  SELECT count(*)::int AS written FROM inserted`,
};

/** Why a run record was skipped without an error. */
const SKIPPED = 'a run with the same id is already stored';

/**
 * Implements {@link RunRecordWriter} over PostgreSQL, with the SQLite writer's behaviour (store/run-writer): `write` is a
 * push onto an array; a timer (or a full batch) starts the drain, which commits batches one after another; a batch that
 * fails for a passing reason (the server restarting, the network) stays queued, is told to `onError`, and is retried
 * after `flushIntervalMs`; a batch PostgreSQL refuses because of a record is written record by record, and the records
 * it refuses are dropped, counted and told, so one bad record never holds up the ones behind it.
 *
 * A connection lost after the server committed a batch but before the answer arrived leaves the batch queued; its
 * retry skips the ids already stored (nothing is written twice) and counts them as dropped duplicates.
 *
 * The writer never joins a caller's transaction: it writes on the pool itself (not through `db.query`), because its
 * timers inherit the async context of the `write` that armed them, and a batch must not run on the connection of a
 * transaction that has since ended, nor be undone by one that rolls back.
 */
export class PgRunWriter implements RunRecordWriter {
  readonly #db: PgDatabase;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxQueue: number;
  readonly #onError: (error: Error) => void;
  #queue: RunRecord[] = [];
  /** Records taken off the queue by the drain and not yet committed or dropped. */
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #drain: Promise<void> | undefined;
  /** Records accepted by `write`, and those of them settled (committed or dropped): what `flush` waits on. */
  #accepted = 0;
  #settled = 0;
  #waiters: Array<{ target: number; resolve: () => void }> = [];
  #dropped = 0;
  #written = 0;
  #isClosed = false;
  #closed: Promise<void> | undefined;

  constructor(db: PgDatabase, options: RunWriterOptions = {}) {
    this.#db = db;
    const resolved = resolveOptions(options);
    this.#flushIntervalMs = resolved.flushIntervalMs;
    this.#batchSize = resolved.batchSize;
    this.#maxQueue = resolved.maxQueue;
    this.#onError = resolved.onError;
  }

  /** Records written and not yet committed (queued, or in the batch being written). */
  get queueDepth(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** Records not written: the queue was full, the writer closed, the id was already stored, or PostgreSQL refused the record. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records committed so far. */
  get written(): number {
    return this.#written;
  }

  write(record: RunRecord): void {
    if (this.#isClosed || this.#queue.length + this.#inFlight >= this.#maxQueue) {
      this.#dropped++;
      return;
    }
    this.#queue.push(record);
    this.#accepted++;
    if (this.#drain !== undefined) return; // the running drain takes the queue when its current batches are in
    if (this.#queue.length >= this.#batchSize) {
      this.#immediate ??= setImmediate(() => {
        this.#immediate = undefined;
        void this.#startDrain();
      });
    } else if (this.#timer === undefined) {
      this.#armTimer();
    }
  }

  /**
   * Resolves when every record written before it is committed or dropped; or, when a batch fails for a passing
   * reason (told to `onError`), once that batch is back in the queue for the retry (as SQLite's writer does).
   */
  async flush(): Promise<void> {
    const target = this.#accepted;
    if (this.#settled >= target) return;
    const done = new Promise<void>((resolve) => this.#waiters.push({ target, resolve }));
    void this.#startDrain();
    await done;
  }

  /** Flushes and stops its timers; later writes, and records a failing database kept queued, are dropped and counted. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#isClosed = true;
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    await this.flush();
    this.#clearTimer();
    await this.#drain;
    if (this.#queue.length > 0) {
      this.#dropped += this.#queue.length;
      this.#settle(this.#queue.length);
      this.#queue = [];
    }
  }

  #armTimer(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#startDrain();
    }, this.#flushIntervalMs);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #startDrain(): Promise<void> {
    this.#clearTimer();
    this.#drain ??= this.#drainQueue().finally(() => {
      this.#drain = undefined;
      // A record written after the loop's last look at the queue, while `write` still saw the drain running.
      if (this.#queue.length > 0 && this.#timer === undefined && !this.#isClosed) this.#armTimer();
    });
    return this.#drain;
  }

  /** Commits the queue, batch after batch, until it is empty or a batch fails for a passing reason. */
  async #drainQueue(): Promise<void> {
    while (this.#queue.length > 0) {
      // The queue is taken whole and walked by offset (no copying of the rest after each batch); writes meanwhile
      // go to a new queue, taken at the next turn of this loop.
      const pending = this.#queue;
      this.#queue = [];
      this.#inFlight = pending.length;
      for (let offset = 0; offset < pending.length; ) {
        const batch = offset === 0 && pending.length <= this.#batchSize ? pending : pending.slice(offset, offset + this.#batchSize);
        let written: number;
        try {
          written = await this.#commitBatch(batch);
        } catch (error) {
          // The server restarting, the network, a failover: this batch and the rest wait, in order, for the retry.
          this.#queue = offset === 0 ? pending.concat(this.#queue) : pending.slice(offset).concat(this.#queue);
          this.#inFlight = 0;
          this.#onError(error as Error);
          if (!this.#isClosed) this.#armTimer();
          // A flush waiting on these records resolves now rather than hang while the database is away.
          for (const waiter of this.#waiters.splice(0)) waiter.resolve();
          return;
        }
        offset += batch.length;
        this.#inFlight -= batch.length;
        this.#written += written;
        this.#dropped += batch.length - written;
        this.#settle(batch.length);
      }
    }
  }

  #settle(count: number): void {
    this.#settled += count;
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.target > this.#settled) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Commits one batch and returns the rows written; records PostgreSQL refuses are told and dropped. */
  async #commitBatch(batch: RunRecord[]): Promise<number> {
    let written: number;
    try {
      written = await this.#insert(this.#db.pool, batch);
    } catch (error) {
      if (!isRecordError(error)) throw error;
      return this.#commitOneByOne(batch);
    }
    if (written < batch.length) this.#onError(new Error(`${batch.length - written} run record(s) were skipped and dropped: ${SKIPPED}`));
    return written;
  }

  /**
   * After a batch failed on a record: each record in its own savepoint, inside one transaction so that a retry after
   * a passing failure half-way writes nothing twice (nor counts a record of ours as a duplicate).
   */
  async #commitOneByOne(batch: RunRecord[]): Promise<number> {
    let client: pg.PoolClient;
    try {
      client = await this.#db.pool.connect();
    } catch (error) {
      throw this.#db.storeError(error);
    }
    let isBroken = false;
    try {
      await client.query('BEGIN');
      let written = 0;
      for (const record of batch) {
        await client.query('SAVEPOINT record');
        try {
          const one = await this.#insert(client, [record]);
          await client.query('RELEASE SAVEPOINT record');
          if (one === 0) this.#onError(new Error(`run record ${String(record.id)} was skipped and dropped: ${SKIPPED}`));
          written += one;
        } catch (error) {
          if (!isRecordError(error)) throw error;
          await client.query('ROLLBACK TO SAVEPOINT record');
          this.#onError(new Error(`run record ${String(record.id)} was refused and dropped: ${(error as Error).message}`, { cause: error }));
        }
      }
      await client.query('COMMIT');
      return written;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        isBroken = true;
      });
      throw this.#db.storeError(error);
    } finally {
      client.release(isBroken);
    }
  }

  /**
   * Writes records now, on the caller's transaction when there is one (unlike {@link write}): the run queue's
   * completion writes a run's record in the transaction that removes the run from the queue, so it is written once.
   * It takes {@link RUNS_INSERT_LOCK} until that transaction commits: call it last. @returns the runs inserted.
   */
  async writeInTransaction(records: RunRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    return (await this.#db.row<{ written: number }>(INSERT_BATCH, columnsOf(records)))?.written ?? 0;
  }

  /** Runs the batch statement on `on`; @returns the runs inserted. */
  async #insert(on: pg.Pool | pg.PoolClient, records: RunRecord[]): Promise<number> {
    const values = columnsOf(records);
    try {
      const result = await on.query<{ written: number }>({ ...INSERT_BATCH, values });
      return result.rows[0]?.written ?? 0;
    } catch (error) {
      throw this.#db.storeError(error);
    }
  }
}

/**
 * The batch as one array per column (runs', then captures'): the parameters of {@link insertRecordsCtes}.
 * @throws TypeError for a record that cannot be serialised (a BigInt, a cycle), which counts as the record's fault.
 */
export function columnsOf(records: RunRecord[]): unknown[][] {
  const runs: unknown[][] = RUN_TYPES.map(() => new Array(records.length));
  const captures: unknown[][] = CAPTURE_TYPES.map(() => []);
  const row: unknown[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as RunRecord;
    // The values SQLite's writer binds, in the same column order: one serialisation of a record for both dialects.
    row.length = 0;
    pushValues(row, r);
    for (let c = 0; c < COLUMNS; c++) (runs[c] as unknown[])[i] = row[c];
    if (r.capture !== undefined) {
      const c: RunCapture = r.capture;
      const capture = [r.id, r.startedAt, text(c.input), c.inputTruncated, text(c.output), c.outputTruncated, text(c.errorMessage), text(c.logs), c.logsTruncated, c.maxBytes];
      for (let k = 0; k < capture.length; k++) (captures[k] as unknown[]).push(capture[k]);
    }
  }
  return [...runs, ...captures];
}

/**
 * Captured text as PostgreSQL can store it. TEXT cannot hold U+0000, which SQLite keeps, and an error message thrown
 * by agent code may contain one: it becomes U+FFFD rather than costing the run its record.
 */
function text(value: string | undefined): string | null {
  if (value === undefined) return null;
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

/**
 * An error about a record itself, which retrying cannot fix: PostgreSQL's data exceptions (class 22: a value of the
 * wrong type or out of range), integrity violations (class 23: NOT NULL, CHECK) and program limits (class 54: a
 * value too big to index), and a record that cannot be serialised. Anything else (connection lost, server
 * restarting, too many connections) may pass, and is retried.
 */
export function isRecordError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError) return true;
  const state = sqlStateOf(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23') || state.startsWith('54'));
}
