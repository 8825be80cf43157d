/** @module store/run-writer — the batched run-record writer: `write` only queues; a timer commits batches in one transaction each. */
import type Database from 'better-sqlite3';
import type { RunCapture, RunRecord, RunSink } from '../core/run-record.js';

export interface RunWriterOptions {
  /** Longest a record waits in the queue before its batch is committed. @default 50 */
  flushIntervalMs?: number;
  /** Records per transaction; a full batch is committed at once. @default 1000 */
  batchSize?: number;
  /** Records held at most; past it new records are dropped and counted, so memory stays bounded. @default 100_000 */
  maxQueue?: number;
  /** Told about a batch that could not be written (it is retried at the next flush). */
  onError?(error: Error): void;
}

/**
 * Implements the runtime's {@link RunSink} over SQLite. `write` is a push onto an array — no I/O,
 * no serialisation — so `agent.run` never waits on disk; serialising and inserting happen in the
 * flush, one `BEGIN IMMEDIATE` transaction per batch, which also makes concurrent writers from
 * several processes queue on SQLite's lock (with the busy timeout) instead of failing.
 */
export class RunWriter implements RunSink {
  readonly #insert: Database.Statement;
  /** Commits a batch in one transaction; returns the rows written (a duplicate id is skipped, not written). */
  readonly #commit: (records: RunRecord[]) => number;
  readonly #commitOneByOne: (records: RunRecord[]) => number;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxQueue: number;
  readonly #onError: (error: Error) => void;
  #queue: RunRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #dropped = 0;
  #written = 0;
  #isClosed = false;

  constructor(db: Database.Database, options: RunWriterOptions = {}) {
    const resolved = resolveOptions(options);
    this.#flushIntervalMs = resolved.flushIntervalMs;
    this.#batchSize = resolved.batchSize;
    this.#maxQueue = resolved.maxQueue;
    this.#onError = resolved.onError;
    const columns =
      'id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_used_at_end_bytes, input_bytes, output_bytes, outcome, error_code, tools, denials, logs_dropped, depth, parent_id, input_shape, grants_used, heap_growth_bytes, censored_by, limits';
    const row = `(${new Array(COLUMNS).fill('?').join(', ')})`;
    // Many rows per statement: the per-statement cost of crossing into SQLite, not the insert, dominates small rows.
    const insertMany = db.prepare(`INSERT OR IGNORE INTO runs (${columns}) VALUES ${new Array(ROWS_PER_STATEMENT).fill(row).join(', ')}`);
    this.#insert = db.prepare(`INSERT OR IGNORE INTO runs (${columns}) VALUES ${row}`);
    const insertOne = this.#insert;
    const insertCapture = db.prepare(
      'INSERT OR IGNORE INTO run_captures (run_id, started_at, input, input_truncated, output, output_truncated, error_message, logs, logs_truncated, max_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const writeCapture = (r: RunRecord) => {
      const c = r.capture as RunCapture;
      insertCapture.run(r.id, r.startedAt, c.input ?? null, c.inputTruncated ? 1 : 0, c.output ?? null, c.outputTruncated ? 1 : 0, c.errorMessage ?? null, c.logs, c.logsTruncated ? 1 : 0, c.maxBytes);
    };
    const many = db.transaction((records: RunRecord[]) => {
      let changes = 0;
      let i = 0;
      for (; i + ROWS_PER_STATEMENT <= records.length; i += ROWS_PER_STATEMENT) {
        const values: unknown[] = [];
        for (let j = i; j < i + ROWS_PER_STATEMENT; j++) pushValues(values, records[j] as RunRecord);
        changes += insertMany.run(values).changes;
      }
      for (; i < records.length; i++) {
        const values: unknown[] = [];
        pushValues(values, records[i] as RunRecord);
        changes += insertOne.run(values).changes;
      }
      // Captures (failed runs of templates that opted in) ride in the same transaction as their runs.
      for (const record of records) if (record.capture !== undefined) writeCapture(record);
      return changes;
    });
    // After a batch failed on a record SQLite refuses: the others go in one by one and the bad ones are dropped,
    // so one malformed record can never hold up every record behind it.
    const oneByOne = db.transaction((records: RunRecord[]) => {
      let changes = 0;
      for (const record of records) {
        try {
          const values: unknown[] = [];
          pushValues(values, record);
          const written = insertOne.run(values).changes;
          if (written > 0 && record.capture !== undefined) writeCapture(record);
          if (written === 0) this.#onError(new Error(`run record ${String(record.id)} was skipped and dropped: ${SKIPPED}`));
          changes += written;
        } catch (error) {
          if (!isRecordError(error)) throw error;
          this.#onError(new Error(`run record ${String(record.id)} was refused and dropped: ${(error as Error).message}`, { cause: error }));
        }
      }
      return changes;
    });
    this.#commit = (records) => many.immediate(records);
    this.#commitOneByOne = (records) => oneByOne.immediate(records);
  }

  /** Records waiting to be committed. */
  get queueDepth(): number {
    return this.#queue.length;
  }

  /** Records not written: the queue was full, the writer closed, or SQLite refused the record (a duplicate id, a value of the wrong type). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records committed so far. */
  get written(): number {
    return this.#written;
  }

  write(record: RunRecord): void {
    if (this.#isClosed || this.#queue.length >= this.#maxQueue) {
      this.#dropped++;
      return;
    }
    this.#queue.push(record);
    if (this.#queue.length >= this.#batchSize) {
      this.#immediate ??= setImmediate(() => {
        this.#immediate = undefined;
        this.flushNow();
      });
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flushNow();
      }, this.#flushIntervalMs);
      this.#timer.unref();
    }
  }

  /** Commits everything queued now, in batches. A failed batch and those after it stay queued for the next flush. */
  flushNow(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    // The queue is taken whole and walked by offset: slicing the rest off after every batch copied a long queue
    // once per batch (quadratic in a burst). Nothing can be written meanwhile: commits are synchronous.
    const pending = this.#queue;
    this.#queue = [];
    for (let offset = 0; offset < pending.length; ) {
      const batch = offset === 0 && pending.length <= this.#batchSize ? pending : pending.slice(offset, offset + this.#batchSize);
      let changes: number;
      try {
        changes = this.#commitBatch(batch);
      } catch (error) {
        // SQLite busy past the timeout, disk full, I/O: the batch and the rest wait for the next flush.
        this.#queue = pending.slice(offset);
        this.#onError(error as Error);
        if (!this.#isClosed && this.#timer === undefined) {
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.flushNow();
          }, this.#flushIntervalMs);
          this.#timer.unref();
        }
        return;
      }
      this.#written += changes;
      this.#dropped += batch.length - changes;
      offset += batch.length;
    }
  }

  /** Commits one batch and returns the rows written; records SQLite refuses are reported and dropped. */
  #commitBatch(batch: RunRecord[]): number {
    let changes: number;
    try {
      changes = this.#commit(batch);
    } catch (error) {
      if (!isRecordError(error)) throw error;
      return this.#commitOneByOne(batch);
    }
    // INSERT OR IGNORE skips a duplicate id, and a row that breaks a CHECK or NOT NULL constraint, without an error.
    if (changes < batch.length) this.#onError(new Error(`${batch.length - changes} run record(s) were skipped and dropped: ${SKIPPED}`));
    return changes;
  }

  async flush(): Promise<void> {
    this.flushNow();
  }

  /** Flushes and stops; later writes are dropped and counted. */
  async close(): Promise<void> {
    if (this.#immediate) clearImmediate(this.#immediate);
    this.flushNow();
    this.#isClosed = true;
    if (this.#queue.length > 0) {
      this.#dropped += this.#queue.length;
      this.#queue = [];
    }
  }
}

/** Why INSERT OR IGNORE writes no row, without an error. */
const SKIPPED = 'a duplicate id, or a value a CHECK or NOT NULL constraint of the runs table refuses';

/**
 * An error about the record itself, which retrying cannot fix: a value SQLite cannot bind, a STRICT type or
 * other constraint violation, a value too big. Anything else (busy, I/O, disk full) may pass, and is retried.
 */
function isRecordError(error: unknown): boolean {
  if (error instanceof TypeError || error instanceof RangeError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG');
}

/** Values bound per row. */
export const COLUMNS = 25;

/** Rows bound into one INSERT statement (25 parameters each, well under SQLite's limit). */
const ROWS_PER_STATEMENT = 50;

/** Appends a record's column values, in the order of the runs table's columns (shared with store/postgres/run-writer). */
export function pushValues(values: unknown[], r: RunRecord): void {
  values.push(
    r.id, r.template, r.version, r.digest, r.env, r.tenant, r.startedAt, r.createMs, r.runMs, r.cpuMs,
    Math.round(r.heapUsedAtEndBytes), r.inputBytes, r.outputBytes, r.outcome, r.errorCode ?? null, JSON.stringify(r.tools),
    JSON.stringify(r.denials), r.logsDropped, r.depth, r.parentId ?? null, r.inputShape ? JSON.stringify(r.inputShape) : null,
    r.grantsUsed ? (r.grantsUsed.length === 0 ? '[]' : JSON.stringify(r.grantsUsed)) : null,
    // NULL, never 0, for a run that was not measured (docs/architecture.md, "Per-run memory").
    r.heapGrowthBytes === undefined ? null : Math.round(r.heapGrowthBytes), r.censoredBy ?? null, r.limits ? JSON.stringify(r.limits) : null,
  );
}

/** The options with their defaults. @throws TypeError for a value out of range */
export function resolveOptions(options: RunWriterOptions) {
  const flushIntervalMs = options.flushIntervalMs ?? 50;
  const batchSize = options.batchSize ?? 1000;
  const maxQueue = options.maxQueue ?? 100_000;
  if (!(flushIntervalMs > 0 && flushIntervalMs <= 100)) throw new TypeError('RunWriter: option "flushIntervalMs" must be in (0, 100]');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TypeError('RunWriter: option "batchSize" must be a positive integer');
  if (!Number.isInteger(maxQueue) || maxQueue < batchSize) throw new TypeError('RunWriter: option "maxQueue" must be an integer of at least batchSize');
  return { flushIntervalMs, batchSize, maxQueue, onError: options.onError ?? (() => {}) };
}
