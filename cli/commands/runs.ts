/** @module cli/commands/runs — `af runs` and `af stats`: the run record, listed and summarised per template. */
import { FactoryError } from '../../core/errors.js';
import type { RunRecord } from '../../core/run-record.js';
import { escapeLine } from '../../core/terminal-text.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { formatTable, printJson } from '../io.js';
import { displayRunId } from '../run-ids.js';
import { parseIntegerFlag } from '../process-lifetime.js';
import { withStore } from '../store-access.js';
import { parseSince } from '../time-arguments.js';

export interface RunsOptions {
  template?: string;
  tenant?: string;
  outcome?: 'ok' | 'error';
  since?: string;
  limit?: string;
  json?: boolean;
  /** Show whole ids instead of their random end. */
  fullIds?: boolean;
  /** Keep printing runs as they are recorded, until Ctrl-C. */
  follow?: boolean;
}

/** The columns of `af runs`, in order. */
export const RUN_COLUMNS = ['STARTED (UTC)', 'TEMPLATE', 'VERSION', 'ENV', 'TENANT', 'OUTCOME', 'RUN MS', 'CPU MS', 'HEAP MB', 'ID'] as const;

/** One run as a row of `af runs`. */
export function runRow(context: CommandContext, run: RunRecord, isFullId: boolean): string[] {
  const { paint } = context;
  return [
    new Date(run.startedAt).toISOString().replace('T', ' ').slice(0, 19),
    // Tenants come from API clients and codes from the run: text, never terminal controls.
    escapeLine(run.template),
    // Two edits of one version run in dev under the same number: the short digest tells them apart.
    escapeLine(`${run.version} ${run.digest.slice(0, 12)}`),
    escapeLine(run.env),
    escapeLine(run.tenant),
    run.outcome === 'ok' ? paint.green('ok') : paint.red(escapeLine(run.errorCode ?? 'error')),
    // A run stopped by a limit used at least what it shows (≥): cpu for limits.cpuMs, run time for both time limits.
    `${run.censoredBy === 'cpuMs' || run.censoredBy === 'timeoutMs' ? '≥' : ''}${run.runMs.toFixed(2)}`,
    `${run.censoredBy === 'cpuMs' ? '≥' : ''}${run.cpuMs.toFixed(2)}`,
    // The run's own heap growth; '-' when it was not measured (stopped by a limit, crashed, or recorded before it was kept).
    run.heapGrowthBytes === undefined ? '-' : (run.heapGrowthBytes / 1024 / 1024).toFixed(2),
    displayRunId(run.id, isFullId),
  ];
}

function filterOf(options: RunsOptions) {
  if (options.outcome !== undefined && options.outcome !== 'ok' && options.outcome !== 'error') {
    throw new FactoryError('E_USAGE', `--outcome must be ok or error, not ${JSON.stringify(options.outcome)}`);
  }
  return {
    ...(options.template ? { template: options.template } : {}),
    ...(options.tenant ? { tenant: options.tenant } : {}),
    ...(options.outcome ? { outcome: options.outcome } : {}),
    ...(options.since ? { since: parseSince(options.since, '--since', Date.now()) } : {}),
  };
}

export function runsCommand(context: CommandContext, options: RunsOptions): Promise<number> {
  const filter = { ...filterOf(options), limit: options.limit === undefined ? 50 : parseIntegerFlag(options.limit, '--limit', 1, 1_000_000) };
  return withStore(context, async (store) => {
    if (options.follow) return (await import('./runs-follow.js')).followRuns(context, store, { ...filterOf(options), limit: options.limit !== undefined ? filter.limit : 10 }, options);
    const runs = await store.queries.list(filter);
    if (options.json) {
      printJson(context.streams, runs);
      return EXIT.ok;
    }
    if (runs.length === 0) {
      context.streams.stderr.write('no runs match; run an agent with `af run NAME`\n');
      return EXIT.ok;
    }
    const rows = runs.map((run) => runRow(context, run, options.fullIds === true));
    context.streams.stdout.write(`${formatTable(RUN_COLUMNS, rows)}\n`);
    return EXIT.ok;
  });
}

export function statsCommand(context: CommandContext, options: RunsOptions): Promise<number> {
  return withStore(context, async (store) => {
    const stats = await store.queries.stats(filterOf(options));
    if (options.json) {
      printJson(context.streams, stats);
      return EXIT.ok;
    }
    if (stats.length === 0) {
      context.streams.stderr.write('no runs recorded yet\n');
      return EXIT.ok;
    }
    const rows = stats.map((s) => [
      escapeLine(s.template),
      String(s.runs),
      `${(s.errorRate * 100).toFixed(1)}%`,
      s.runMs.p50.toFixed(2),
      s.runMs.p95.toFixed(2),
      s.runMs.p99.toFixed(2),
      (s.heapUsedAtEndBytes.p95 / 1024 / 1024).toFixed(1),
      escapeLine(Object.entries(s.errorsByCode).map(([code, n]) => `${code}×${n}`).join(' ')),
    ]);
    context.streams.stdout.write(`${formatTable(['TEMPLATE', 'RUNS', 'ERRORS', 'P50 MS', 'P95 MS', 'P99 MS', 'HEAP P95 MB', 'BY CODE'], rows)}\n`);
    return EXIT.ok;
  });
}
