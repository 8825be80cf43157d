/** @module store/run-queries — reading the run record back: listing runs and per-template statistics with percentiles. */
import type Database from 'better-sqlite3';
import type { ErrorCode } from '../core/errors.js';
import type { InputShape, RunRecord } from '../core/run-record.js';

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

interface RunRow {
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
  heap_peak_bytes: number;
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
  heapPeakBytes: { p95: number; max: number };
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
    heapPeakBytes: row.heap_peak_bytes,
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

const WHERE = `(@template = '' OR template = @template) AND (@tenant = '' OR tenant = @tenant) AND (@outcome = '' OR outcome = @outcome) AND started_at >= @since AND started_at <= @until`;

interface FilterParams {
  template: string;
  tenant: string;
  outcome: string;
  since: number;
  until: number;
}

export class RunQueries {
  readonly #list: Database.Statement<[FilterParams & { limit: number }], RunRow>;
  readonly #one: Database.Statement<[string], RunRow>;
  readonly #forStats: Database.Statement<[FilterParams], Pick<RunRow, 'template' | 'run_ms' | 'create_ms' | 'cpu_ms' | 'heap_peak_bytes' | 'outcome' | 'error_code'>>;
  readonly #iterate: Database.Statement<[FilterParams], RunRow>;
  readonly #count: Database.Statement<[], { n: number }>;

  constructor(db: Database.Database) {
    this.#list = db.prepare(`SELECT * FROM runs WHERE ${WHERE} ORDER BY started_at DESC LIMIT @limit`);
    this.#one = db.prepare('SELECT * FROM runs WHERE id = ?');
    this.#forStats = db.prepare(`SELECT template, run_ms, create_ms, cpu_ms, heap_peak_bytes, outcome, error_code FROM runs WHERE ${WHERE}`);
    this.#iterate = db.prepare(`SELECT * FROM runs WHERE ${WHERE} ORDER BY started_at`);
    this.#count = db.prepare('SELECT count(*) AS n FROM runs');
  }

  /** Newest first. */
  list(filter: RunFilter = {}): RunRecord[] {
    return this.#list.all({ ...params(filter), limit: filter.limit ?? 100 }).map(rowToRecord);
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
    for (const row of this.#iterate.iterate(params(filter))) yield rowToRecord(row);
  }

  /** Per template: runs, error rate and code counts, and run/create time and heap percentiles. */
  stats(filter: RunFilter = {}): TemplateStats[] {
    const groups = new Map<string, { run: number[]; create: number[]; cpu: number[]; heap: number[]; errors: Record<string, number>; errorCount: number }>();
    for (const row of this.#forStats.iterate(params(filter))) {
      let group = groups.get(row.template);
      if (!group) {
        group = { run: [], create: [], cpu: [], heap: [], errors: {}, errorCount: 0 };
        groups.set(row.template, group);
      }
      group.run.push(row.run_ms);
      group.create.push(row.create_ms);
      group.cpu.push(row.cpu_ms);
      group.heap.push(row.heap_peak_bytes);
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
          heapPeakBytes: { p95: percentile(heap, 95), max: heap[heap.length - 1] ?? 0 },
        };
      });
  }
}

function params(filter: RunFilter): FilterParams {
  return { template: filter.template ?? '', tenant: filter.tenant ?? '', outcome: filter.outcome ?? '', since: filter.since ?? 0, until: filter.until ?? Number.MAX_SAFE_INTEGER };
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
