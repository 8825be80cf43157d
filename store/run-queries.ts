/** @module store/run-queries — reading the run record back: listing runs and per-template statistics with percentiles. */
import type Database from 'better-sqlite3';
import { type ErrorCode, FactoryError } from '../core/errors.js';
import type { EffectiveLimits } from '../core/agent-spec.js';
import type { InputShape, RunCapture, RunRecord } from '../core/run-record.js';
import { FilteredStatement } from './filtered-statement.js';

export interface RunFilter {
  template?: string;
  tenant?: string;
  outcome?: 'ok' | 'error';
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  /** @default 100 */
  limit?: number;
}

/** A row of the runs table, as both dialects return it (column names and JS types match). */
export interface RunRow {
  id: string;
  template: string;
  version: string;
  digest: string;
  env: string;
  tenant: string;
  started_at: number;
  create_ms: number;
  run_ms: number;
  cpu_ms: number;
  heap_used_at_end_bytes: number;
  input_bytes: number;
  output_bytes: number;
  outcome: 'ok' | 'error';
  error_code: string | null;
  tools: string;
  denials: string;
  logs_dropped: number;
  depth: number;
  parent_id: string | null;
  input_shape: string | null;
  /** JSON array; null in rows written before schema version 3. */
  grants_used: string | null;
  /** Null for a run that was not measured (killed, crashed, refused) and in rows written before schema version 9. */
  heap_growth_bytes: number | null;
  censored_by: RunRecord['censoredBy'] | null;
  /** JSON of the run's EffectiveLimits; null in rows written before schema version 9. */
  limits: string | null;
}

export interface TemplateStats {
  template: string;
  runs: number;
  errors: number;
  errorRate: number;
  errorsByCode: Record<string, number>;
  runMs: { p50: number; p95: number; p99: number };
  createMs: { p50: number; p95: number; p99: number };
  cpuMs: { p95: number };
  heapUsedAtEndBytes: { p95: number; max: number };
}

export function rowToRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    template: row.template,
    version: row.version,
    digest: row.digest,
    env: row.env,
    tenant: row.tenant,
    startedAt: row.started_at,
    createMs: row.create_ms,
    runMs: row.run_ms,
    cpuMs: row.cpu_ms,
    heapUsedAtEndBytes: row.heap_used_at_end_bytes,
    ...(row.heap_growth_bytes !== null && row.heap_growth_bytes !== undefined ? { heapGrowthBytes: row.heap_growth_bytes } : {}),
    ...(row.limits !== null && row.limits !== undefined ? { limits: JSON.parse(row.limits) as EffectiveLimits } : {}),
    ...(row.censored_by !== null && row.censored_by !== undefined ? { censoredBy: row.censored_by } : {}),
    inputBytes: row.input_bytes,
    outputBytes: row.output_bytes,
    outcome: row.outcome,
    ...(row.error_code !== null ? { errorCode: row.error_code as ErrorCode } : {}),
    tools: JSON.parse(row.tools) as Record<string, number>,
    denials: JSON.parse(row.denials) as RunRecord['denials'],
    ...(row.grants_used !== null ? { grantsUsed: JSON.parse(row.grants_used) as string[] } : {}),
    logsDropped: row.logs_dropped,
    depth: row.depth,
    ...(row.parent_id !== null ? { parentId: row.parent_id } : {}),
    ...(row.input_shape !== null ? { inputShape: JSON.parse(row.input_shape) as InputShape } : {}),
  };
}

/** A filter's values as bound: an absent (or empty) template, tenant or outcome is left out of the statement. */
type FilterParams = {
  template?: string;
  tenant?: string;
  outcome?: string;
  since: number;
  until: number;
};

/** The conditions of the optional filters; each combination is its own statement (store/filtered-statement). */
const CLAUSES = { template: 'template = @template', tenant: 'tenant = @tenant', outcome: 'outcome = @outcome' } as const;
const TIME_RANGE = 'started_at >= @since AND started_at <= @until';
/**
 * The same conditions for the statements that walk rowid order from a place (`after`, `upTo`): unary `+` keeps the
 * filters from choosing an index, so SQLite ranges over rowid and stops at the limit instead of reading every matching
 * run and sorting them (what `af runs --follow` did on every poll).
 */
const ROWID_CLAUSES = { template: '+template = @template', tenant: '+tenant = @tenant', outcome: '+outcome = @outcome' } as const;
const ROWID_TIME_RANGE = '+started_at >= @since AND +started_at <= @until';

type StatsRow = Pick<RunRow, 'template' | 'run_ms' | 'create_ms' | 'cpu_ms' | 'heap_used_at_end_bytes' | 'outcome' | 'error_code'>;

/** A run's capture as stored: see {@link RunCapture}. */
export interface StoredCapture extends RunCapture {
  runId: string;
  startedAt: number;
}

/** A row of run_captures: the flags are INTEGER 0/1 in SQLite and BOOLEAN in PostgreSQL. */
export interface CaptureRow {
  run_id: string;
  started_at: number;
  input: string | null;
  input_truncated: number | boolean;
  output: string | null;
  output_truncated: number | boolean;
  error_message: string | null;
  logs: string;
  logs_truncated: number | boolean;
  max_bytes: number;
}

export function rowToCapture(row: CaptureRow): StoredCapture {
  return {
    runId: row.run_id,
    startedAt: row.started_at,
    ...(row.input !== null ? { input: row.input } : {}),
    inputTruncated: row.input_truncated === 1 || row.input_truncated === true,
    ...(row.output !== null ? { output: row.output } : {}),
    outputTruncated: row.output_truncated === 1 || row.output_truncated === true,
    ...(row.error_message !== null ? { errorMessage: row.error_message } : {}),
    logs: row.logs,
    logsTruncated: row.logs_truncated === 1 || row.logs_truncated === true,
    maxBytes: row.max_bytes,
  };
}

/** Runs `list` and `upTo` return when the filter gives no limit. */
export const DEFAULT_LIST_LIMIT = 100;
/** Runs `after` returns when the filter gives no limit. */
export const DEFAULT_AFTER_LIMIT = 1000;

/**
 * The part of a run id that `resolveId` looks for (trimmed, lower case).
 * @throws FactoryError `E_USAGE` for text that cannot be part of an id.
 */
export function idPart(text: string): string {
  const part = text.trim().toLowerCase();
  if (!/^[0-9a-f-]+$/.test(part) || part.replace(/-/g, '').length < MIN_ID_PART) {
    throw new FactoryError('E_USAGE', `${JSON.stringify(text)} is not a run id: give the id, or at least ${MIN_ID_PART} hex digits of its start or end (the ID column of af runs)`);
  }
  return part;
}

/**
 * The one id among the runs whose id starts or ends with `part`.
 * @throws FactoryError `E_NOT_FOUND` when none does, `E_USAGE` when several do (naming them).
 */
export function oneMatch(part: string, matches: ReadonlySet<string>): string {
  if (matches.size === 1) return [...matches][0] as string;
  if (matches.size === 0) throw new FactoryError('E_NOT_FOUND', `no run id starts or ends with "${part}"; list runs with af runs`);
  const shown = [...matches].slice(0, 5);
  throw new FactoryError('E_USAGE', `"${part}" matches ${matches.size > 5 ? 'more than 5' : matches.size} runs (${shown.join(', ')}); type more of the id`);
}

/** The shortest part of a run id accepted where one is expected: shorter would match most of the table. */
export const MIN_ID_PART = 4;

/** A run with its place in the table, for following new runs as they are written. */
export interface SequencedRun {
  seq: number;
  run: RunRecord;
}

export class RunQueries {
  readonly #list: FilteredStatement<FilterParams, RunRow>;
  readonly #one: Database.Statement<[string], RunRow>;
  readonly #forStats: FilteredStatement<FilterParams, StatsRow>;
  readonly #iterate: FilteredStatement<FilterParams, RunRow>;
  readonly #count: Database.Statement<[], { n: number }>;
  readonly #capture: Database.Statement<[string], CaptureRow>;
  readonly #children: Database.Statement<[string], RunRow>;
  readonly #byPrefix: Database.Statement<[string, string], { id: string }>;
  readonly #bySuffix: Database.Statement<[string], { id: string }>;
  readonly #after: FilteredStatement<FilterParams, RunRow & { seq: number }>;
  readonly #recent: FilteredStatement<FilterParams, RunRow & { seq: number }>;
  readonly #maxSeq: Database.Statement<[], { seq: number | null }>;
  readonly #dataVersion: Database.Statement<[], number>;

  constructor(db: Database.Database) {
    this.#list = new FilteredStatement<FilterParams, RunRow>(db, CLAUSES, (where) => `SELECT * FROM runs WHERE ${where} ORDER BY started_at DESC LIMIT @limit`, TIME_RANGE);
    this.#one = db.prepare('SELECT * FROM runs WHERE id = ?');
    this.#forStats = new FilteredStatement<FilterParams, StatsRow>(db, CLAUSES, (where) => `SELECT template, run_ms, create_ms, cpu_ms, heap_used_at_end_bytes, outcome, error_code FROM runs WHERE ${where}`, TIME_RANGE);
    this.#iterate = new FilteredStatement<FilterParams, RunRow>(db, CLAUSES, (where) => `SELECT * FROM runs WHERE ${where} ORDER BY started_at`, TIME_RANGE);
    this.#count = db.prepare('SELECT count(*) AS n FROM runs');
    this.#capture = db.prepare('SELECT * FROM run_captures WHERE run_id = ?');
    this.#children = db.prepare('SELECT * FROM runs WHERE parent_id = ? ORDER BY started_at LIMIT 1000');
    // A range on the primary key, which LIKE 'x%' would not use ('~' sorts after every hex digit and '-').
    this.#byPrefix = db.prepare('SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 6');
    // A scan, but only when someone types an id: ids end in their random part, which no index orders.
    this.#bySuffix = db.prepare("SELECT id FROM runs WHERE id LIKE '%' || ? LIMIT 6");
    // rowid is the order runs were written in: what `af runs --follow` walks, whatever their start times.
    this.#after = new FilteredStatement<FilterParams, RunRow & { seq: number }>(db, ROWID_CLAUSES, (where) => `SELECT rowid AS seq, * FROM runs WHERE rowid > @seq AND ${where} ORDER BY rowid LIMIT @limit`, ROWID_TIME_RANGE);
    this.#recent = new FilteredStatement<FilterParams, RunRow & { seq: number }>(db, ROWID_CLAUSES, (where) => `SELECT rowid AS seq, * FROM runs WHERE rowid <= @seq AND ${where} ORDER BY rowid DESC LIMIT @limit`, ROWID_TIME_RANGE);
    this.#maxSeq = db.prepare('SELECT max(rowid) AS seq FROM runs');
    this.#dataVersion = db.prepare('PRAGMA data_version').pluck() as Database.Statement<[], number>;
  }

  /** @internal The statements whose plan depends on the filters, with the SQL of each combination of filters: for EXPLAIN QUERY PLAN in tests. */
  static unsafeFilterStatements(queries: RunQueries): Record<'list' | 'stats' | 'iterate' | 'after' | 'upTo', Array<{ filters: string[]; sql: string }>> {
    return {
      list: queries.#list.combinations(),
      stats: queries.#forStats.combinations(),
      iterate: queries.#iterate.combinations(),
      after: queries.#after.combinations(),
      upTo: queries.#recent.combinations(),
    };
  }

  /** The captured data of a failed run (templates that opt in with `debug.captureFailures`), if any. */
  capture(id: string): StoredCapture | undefined {
    const row = this.#capture.get(id);
    return row ? rowToCapture(row) : undefined;
  }

  /** Runs that `id` spawned, oldest first. */
  children(id: string): RunRecord[] {
    return this.#children.all(id).map(rowToRecord);
  }

  /**
   * The full id of the one run whose id is `text`, starts with it or ends with it (case and spaces ignored), so the
   * short suffix `af runs` shows, or any longer part, can be typed where an id is expected.
   * @throws FactoryError `E_USAGE` for text that is not part of an id or matches several runs (naming them),
   *   `E_NOT_FOUND` when no run matches.
   */
  resolveId(text: string): string {
    const part = idPart(text);
    if (this.#one.get(part)) return part;
    const matches = new Set<string>();
    for (const row of this.#byPrefix.all(part, `${part}~`)) matches.add(row.id);
    for (const row of this.#bySuffix.all(part)) matches.add(row.id);
    return oneMatch(part, matches);
  }

  /** Runs written after `seq` (a value of {@link SequencedRun.seq} or {@link maxSeq}), oldest first. */
  after(seq: number, filter: RunFilter = {}): SequencedRun[] {
    const bound = params(filter);
    return this.#after.for(bound).all({ ...bound, seq, limit: filter.limit ?? DEFAULT_AFTER_LIMIT }).map((row) => ({ seq: row.seq, run: rowToRecord(row) }));
  }

  /** The last `filter.limit` runs written up to `seq`, oldest first. */
  upTo(seq: number, filter: RunFilter = {}): SequencedRun[] {
    const bound = params(filter);
    return this.#recent.for(bound).all({ ...bound, seq, limit: filter.limit ?? DEFAULT_LIST_LIMIT }).map((row) => ({ seq: row.seq, run: rowToRecord(row) })).reverse();
  }

  /** The place of the last run written; 0 for an empty table. */
  maxSeq(): number {
    return this.#maxSeq.get()?.seq ?? 0;
  }

  /**
   * Changes when another connection commits (SQLite's `data_version`): a poll that finds it unchanged reads no table.
   */
  dataVersion(): number {
    return this.#dataVersion.get() as number;
  }

  /** Newest first. */
  list(filter: RunFilter = {}): RunRecord[] {
    const bound = params(filter);
    return this.#list.for(bound).all({ ...bound, limit: filter.limit ?? DEFAULT_LIST_LIMIT }).map(rowToRecord);
  }

  get(id: string): RunRecord | undefined {
    const row = this.#one.get(id);
    return row ? rowToRecord(row) : undefined;
  }

  count(): number {
    return this.#count.get()?.n ?? 0;
  }

  /** Every matching run, oldest first, without loading them all at once. */
  *iterate(filter: RunFilter = {}): Generator<RunRecord> {
    const bound = params(filter);
    for (const row of this.#iterate.for(bound).iterate(bound)) yield rowToRecord(row);
  }

  /** Per template: runs, error rate and code counts, and run/create time and heap percentiles. */
  stats(filter: RunFilter = {}): TemplateStats[] {
    const groups = new Map<string, { run: number[]; create: number[]; cpu: number[]; heap: number[]; errors: Record<string, number>; errorCount: number }>();
    const bound = params(filter);
    for (const row of this.#forStats.for(bound).iterate(bound)) {
      let group = groups.get(row.template);
      if (!group) {
        group = { run: [], create: [], cpu: [], heap: [], errors: {}, errorCount: 0 };
        groups.set(row.template, group);
      }
      group.run.push(row.run_ms);
      group.create.push(row.create_ms);
      group.cpu.push(row.cpu_ms);
      group.heap.push(row.heap_used_at_end_bytes);
      if (row.outcome === 'error') {
        group.errorCount++;
        const code = row.error_code ?? 'E_INTERNAL';
        group.errors[code] = (group.errors[code] ?? 0) + 1;
      }
    }
    return [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([template, g]) => {
        const run = sorted(g.run);
        const create = sorted(g.create);
        const heap = sorted(g.heap);
        return {
          template,
          runs: run.length,
          errors: g.errorCount,
          errorRate: g.errorCount / run.length,
          errorsByCode: g.errors,
          runMs: { p50: percentile(run, 50), p95: percentile(run, 95), p99: percentile(run, 99) },
          createMs: { p50: percentile(create, 50), p95: percentile(create, 95), p99: percentile(create, 99) },
          cpuMs: { p95: percentile(sorted(g.cpu), 95) },
          heapUsedAtEndBytes: { p95: percentile(heap, 95), max: heap[heap.length - 1] ?? 0 },
        };
      });
  }
}

function params(filter: RunFilter): FilterParams {
  const bound: FilterParams = { since: filter.since ?? 0, until: filter.until ?? Number.MAX_SAFE_INTEGER };
  // An empty value means "any", as it always did (an empty query parameter).
  if (filter.template) bound.template = filter.template;
  if (filter.tenant) bound.tenant = filter.tenant;
  if (filter.outcome) bound.outcome = filter.outcome;
  return bound;
}


function sorted(values: number[]): number[] {
  return values.sort((a, b) => a - b);
}

/** Nearest-rank percentile of sorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[rank] as number;
}
