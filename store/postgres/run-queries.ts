/** @module store/postgres/run-queries — reading the run record back from PostgreSQL: lists, keyset pages, statistics, following by seq. */
import type { RunRecord } from '../../core/run-record.js';
import type { RunQueryStore } from '../contract.js';
import {
  type CaptureRow,
  DEFAULT_AFTER_LIMIT,
  DEFAULT_LIST_LIMIT,
  idPart,
  oneMatch,
  type RunFilter,
  type RunRow,
  rowToCapture,
  rowToRecord,
  type SequencedRun,
  type StoredCapture,
  type TemplateStats,
} from '../run-queries.js';
import type { PgDatabase, Statement } from './connection.js';

/** Rows `iterate` reads per round trip. */
const PAGE = 500;

/** The optional filters, in the order their parameters are numbered. */
const OPTIONAL = ['template', 'tenant', 'outcome'] as const;

/**
 * The WHERE condition of a filter and its values, numbered from `$first`. An absent (or empty) template, tenant or
 * outcome is left out of the SQL, as SQLite's statements do, so each combination has its own plan; the combination
 * (a bitmask) names the prepared statement. The time range is always there (0 and MAX_SAFE_INTEGER when not given).
 */
function where(filter: RunFilter, first: number): { sql: string; values: unknown[]; key: number } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  let key = 0;
  OPTIONAL.forEach((name, i) => {
    const value = filter[name];
    if (!value) return;
    key |= 1 << i;
    values.push(value);
    conditions.push(`${name} = $${first + values.length - 1}`);
  });
  values.push(filter.since ?? 0, filter.until ?? Number.MAX_SAFE_INTEGER);
  conditions.push(`started_at >= $${first + values.length - 2} AND started_at <= $${first + values.length - 1}`);
  return { sql: conditions.join(' AND '), values, key };
}

/** A statement over the runs a filter selects: `build` gets the condition and the number of the next parameter. */
function filtered(name: string, filter: RunFilter, leading: unknown[], build: (where: string, next: number) => string): { statement: Statement; values: unknown[] } {
  const condition = where(filter, leading.length + 1);
  const next = leading.length + condition.values.length + 1;
  return { statement: { name: `af_runs_${name}_${condition.key}`, text: build(condition.sql, next) }, values: [...leading, ...condition.values] };
}

type StatsRow = {
  template: string;
  runs: number;
  errors: number;
  run_ms: number[];
  create_ms: number[];
  cpu_p95: number;
  heap_p95: number;
  heap_max: number;
  errors_by_code: Record<string, number> | null;
};

/**
 * Implements {@link RunQueryStore} over PostgreSQL, with the results of the SQLite one (store/run-queries): the same
 * order (newest first by start time; ties by the order written, as SQLite's index on started_at returns them), the same
 * default limits, the same percentiles and the same errors.
 *
 * `seq` is the identity column, PostgreSQL's counterpart of SQLite's rowid. Identity values are taken at insert, not at
 * commit, so without care a follower could read seq N+1 before a slower transaction commits N, move its cursor past N,
 * and never see it. Every insert of runs takes one advisory lock before its first seq and holds it until it commits
 * (store/postgres/run-writer `RUNS_INSERT_LOCK`), so seq order is commit order and `after`/`maxSeq` never skip a run.
 */
export class PgRunQueries implements RunQueryStore {
  readonly #db: PgDatabase;

  constructor(db: PgDatabase) {
    this.#db = db;
  }

  async get(id: string): Promise<RunRecord | undefined> {
    const row = await this.#db.row<RunRow>({ name: 'af_runs_get', text: 'SELECT * FROM runs WHERE id = $1' }, [id]);
    return row ? rowToRecord(row) : undefined;
  }

  /** Newest first. */
  async list(filter: RunFilter = {}): Promise<RunRecord[]> {
    const { statement, values } = filtered('list', filter, [filter.limit ?? DEFAULT_LIST_LIMIT], (condition) => `SELECT * FROM runs WHERE ${condition} ORDER BY started_at DESC, seq DESC LIMIT $1`);
    return (await this.#db.rows<RunRow>(statement, values)).map(rowToRecord);
  }

  /**
   * Every matching run, oldest first, a page at a time: each page starts after the (started_at, seq) of the last run
   * of the one before, so a run is read once even while others are written, and memory holds one page.
   */
  async *iterate(filter: RunFilter = {}): AsyncGenerator<RunRecord> {
    // Below every real start time: the first page starts at the filter's own bound.
    let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
    for (;;) {
      const { statement, values } = filtered('page', filter, [PAGE, after[0], after[1]], (condition) => `SELECT * FROM runs WHERE (started_at, seq) > ($2, $3) AND ${condition} ORDER BY started_at, seq LIMIT $1`);
      const rows = await this.#db.rows<RunRow & { seq: number }>(statement, values);
      for (const row of rows) yield rowToRecord(row);
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1] as RunRow & { seq: number };
      after = [last.started_at, last.seq];
    }
  }

  async count(): Promise<number> {
    return (await this.#db.row<{ n: number }>({ name: 'af_runs_count', text: 'SELECT count(*) AS n FROM runs' }))?.n ?? 0;
  }

  /**
   * Per template: runs, error rate and code counts, and run/create time and heap percentiles, computed where the
   * runs are rather than sent over the network. `percentile_disc(p)` is the nearest-rank percentile SQLite's
   * `percentile` computes (the value at rank ceil(p·n), with the same floating-point p), so both give the same numbers.
   */
  async stats(filter: RunFilter = {}): Promise<TemplateStats[]> {
    const { statement, values } = filtered('stats', filter, [], (condition) => `
      WITH selected AS (
        SELECT template, run_ms, create_ms, cpu_ms, heap_used_at_end_bytes, outcome, error_code FROM runs WHERE ${condition}
      ), codes AS (
        SELECT template, json_object_agg(code, n) AS errors_by_code
        FROM (SELECT template, coalesce(error_code, 'E_INTERNAL') AS code, count(*) AS n FROM selected WHERE outcome = 'error' GROUP BY 1, 2) AS counted
        GROUP BY template
      )
      SELECT s.template, count(*) AS runs, count(*) FILTER (WHERE s.outcome = 'error') AS errors,
        percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY s.run_ms) AS run_ms,
        percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY s.create_ms) AS create_ms,
        percentile_disc(0.95) WITHIN GROUP (ORDER BY s.cpu_ms) AS cpu_p95,
        percentile_disc(0.95) WITHIN GROUP (ORDER BY s.heap_used_at_end_bytes) AS heap_p95,
        max(s.heap_used_at_end_bytes) AS heap_max,
        (SELECT errors_by_code FROM codes WHERE codes.template = s.template) AS errors_by_code
      FROM selected AS s GROUP BY s.template`);
    const rows = await this.#db.rows<StatsRow>(statement, values);
    // Sorted here, as SQLite's are: JavaScript's string order, not a collation's.
    return rows
      .sort((a, b) => (a.template < b.template ? -1 : 1))
      .map((row) => {
        const [run50, run95, run99] = row.run_ms as [number, number, number];
        const [create50, create95, create99] = row.create_ms as [number, number, number];
        return {
          template: row.template,
          runs: row.runs,
          errors: row.errors,
          errorRate: row.errors / row.runs,
          errorsByCode: row.errors_by_code ?? {},
          runMs: { p50: run50, p95: run95, p99: run99 },
          createMs: { p50: create50, p95: create95, p99: create99 },
          cpuMs: { p95: row.cpu_p95 },
          heapUsedAtEndBytes: { p95: row.heap_p95, max: row.heap_max },
        };
      });
  }

  /** The captured data of a failed run (templates that opt in with `debug.captureFailures`), if any. */
  async capture(id: string): Promise<StoredCapture | undefined> {
    const row = await this.#db.row<CaptureRow>({ name: 'af_runs_capture', text: 'SELECT * FROM run_captures WHERE run_id = $1' }, [id]);
    return row ? rowToCapture(row) : undefined;
  }

  /** Runs that `id` spawned, oldest first. */
  async children(id: string): Promise<RunRecord[]> {
    const rows = await this.#db.rows<RunRow>({ name: 'af_runs_children', text: 'SELECT * FROM runs WHERE parent_id = $1 ORDER BY started_at, seq LIMIT 1000' }, [id]);
    return rows.map(rowToRecord);
  }

  /**
   * The full id of the one run whose id is `text`, starts with it or ends with it (case and spaces ignored).
   * @throws FactoryError `E_USAGE` for text that is not part of an id or matches several runs (naming them),
   *   `E_NOT_FOUND` when no run matches.
   */
  async resolveId(text: string): Promise<string> {
    const part = idPart(text);
    // One round trip: the exact id; else (a one-time check, so a whole id reads nothing more) up to 6 by prefix (a
    // range on the primary key: ids compare as bytes, COLLATE "C", and '~' sorts after every hex digit and '-') and
    // up to 6 by suffix (a scan, only when someone types an id: ids end in their random part, which no index orders).
    const rows = await this.#db.rows<{ id: string; exact: boolean }>(
      {
        name: 'af_runs_resolve',
        text: `SELECT id, true AS exact FROM runs WHERE id = $1
          UNION ALL (SELECT id, false FROM runs WHERE id >= $1 AND id < $2 AND NOT EXISTS (SELECT FROM runs WHERE id = $1) ORDER BY id LIMIT 6)
          UNION ALL (SELECT id, false FROM runs WHERE id LIKE '%' || $1 AND NOT EXISTS (SELECT FROM runs WHERE id = $1) LIMIT 6)`,
      },
      [part, `${part}~`],
    );
    if (rows.some((row) => row.exact)) return part;
    return oneMatch(part, new Set(rows.map((row) => row.id)));
  }

  /** Runs written after `seq` (a value of {@link SequencedRun.seq} or {@link maxSeq}), oldest first. */
  async after(seq: number, filter: RunFilter = {}): Promise<SequencedRun[]> {
    const { statement, values } = filtered('after', filter, [seq, filter.limit ?? DEFAULT_AFTER_LIMIT], (condition) => `SELECT * FROM runs WHERE seq > $1 AND ${condition} ORDER BY seq LIMIT $2`);
    return (await this.#db.rows<RunRow & { seq: number }>(statement, values)).map((row) => ({ seq: row.seq, run: rowToRecord(row) }));
  }

  /** The last `filter.limit` runs written up to `seq`, oldest first. */
  async upTo(seq: number, filter: RunFilter = {}): Promise<SequencedRun[]> {
    const { statement, values } = filtered('up_to', filter, [seq, filter.limit ?? DEFAULT_LIST_LIMIT], (condition) => `SELECT * FROM runs WHERE seq <= $1 AND ${condition} ORDER BY seq DESC LIMIT $2`);
    return (await this.#db.rows<RunRow & { seq: number }>(statement, values)).map((row) => ({ seq: row.seq, run: rowToRecord(row) })).reverse();
  }

  /** The place of the last run written; 0 for an empty table. */
  async maxSeq(): Promise<number> {
    return (await this.#db.row<{ seq: number }>({ name: 'af_runs_max_seq', text: 'SELECT coalesce(max(seq), 0) AS seq FROM runs' }))?.seq ?? 0;
  }

  /**
   * Moves when any node commits runs: max(seq) + min(seq), two reads of the seq index's ends (no table read). An
   * insert raises the max (seq only grows); a prune removes the oldest runs and raises the min. SQLite's
   * `data_version` also moves on writes to other tables, which a poller of runs does not need; a delete of only
   * runs in the middle of the table would not move this, and nothing deletes so (prunes go by age).
   */
  async dataVersion(): Promise<number> {
    const row = await this.#db.row<{ version: number }>({ name: 'af_runs_data_version', text: 'SELECT coalesce(max(seq), 0) + coalesce(min(seq), 0) AS version FROM runs' });
    return row?.version ?? 0;
  }
}
