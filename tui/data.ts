/** @module tui/data — what the views show, read from the factory and the store in plain shapes (kept apart from rendering so it is testable). */
import type { RunRecord } from '../core/run-record.js';
import type { Suggestion } from '../core/suggestion.js';
import { percentile, type Rollout, type TemplateStats } from '../store/index.js';
import { readSignatureFile, SIGNATURE_FILE } from '../templates/index.js';
import type { TuiServices } from './services.js';

/** `untrusted`: validly signed, but by a key this project does not trust (the bundled agents' demo key, say). */
export type SignatureState = 'signed' | 'unsigned' | 'untrusted' | 'invalid' | 'abstract';

export interface TemplateRow {
  name: string;
  version: string;
  signature: SignatureState;
  /** Why the signature or the template is invalid. */
  reason?: string;
  digest?: string;
  pool: { ready: number; busy: number } | undefined;
  stats: TemplateStats | undefined;
}

/** Every template with its signature state (checked against the project's trusted keys), pool and run statistics. */
export async function loadTemplateRows(services: TuiServices): Promise<TemplateRow[]> {
  const { factory, store } = services;
  const stats = new Map((await store.queries.stats()).map((entry) => [entry.template, entry]));
  const pools = new Map(factory.sandboxStats().pools.map((pool) => [pool.digest, pool]));
  const rows: TemplateRow[] = [];
  for (const name of factory.registry.names()) {
    try {
      const template = await factory.registry.inspect(name);
      // The admitted spec's digest (it carries the environment's address rules) is what the pools are keyed by.
      const pool = pools.get((factory.registry.peek(name) ?? template).spec.digest);
      const base = { name, version: template.version, digest: template.digest, pool: pool ? { ready: pool.ready, busy: pool.busy } : undefined, stats: stats.get(name) };
      if (template.abstract) {
        rows.push({ ...base, signature: 'abstract' });
        continue;
      }
      const signature = readSignatureFile(template.dir, `${name}/${SIGNATURE_FILE}`);
      if (!signature) {
        rows.push({ ...base, signature: 'unsigned' });
        continue;
      }
      try {
        factory.trust.verifier.verify(template.digest, signature);
        rows.push({ ...base, signature: 'signed' });
      } catch (error) {
        const isUntrusted = (error as { details?: { untrustedRoot?: boolean } }).details?.untrustedRoot === true;
        rows.push({ ...base, signature: isUntrusted ? 'untrusted' : 'invalid', reason: (error as Error).message });
      }
    } catch (error) {
      rows.push({ name, version: '-', signature: 'invalid', reason: (error as Error).message, pool: undefined, stats: stats.get(name) });
    }
  }
  return rows;
}

export interface LiveSnapshot {
  at: number;
  /** Runs per second over the last {@link RATE_WINDOW_S} seconds. */
  runsPerSecond: number;
  /** Over the last {@link STATS_WINDOW_MS}. */
  total: { runs: number; errors: number; runMs: { p50: number; p95: number; p99: number }; createMs: { p50: number; p95: number; p99: number } };
  errorsByCode: Record<string, number>;
  /** Runs per second for each of the last {@link SPARK_SECONDS} seconds, oldest first. */
  perTemplate: Array<{ template: string; perSecond: number[]; runs: number; p95: number }>;
  pools: Array<{ template: string; ready: number; busy: number }>;
  hosts: number;
  restarts: number;
  dropped: number;
  queueDepth: number;
}

export const STATS_WINDOW_MS = 60_000;
export const SPARK_SECONDS = 30;
export const RATE_WINDOW_S = 5;

/** One refresh of the live view: the last minute of the store's runs, the sandbox pools and the writer's counters. */
export async function liveSnapshot(services: TuiServices): Promise<LiveSnapshot> {
  const { factory, store } = services;
  const now = services.now();
  const run: number[] = [];
  const create: number[] = [];
  const errorsByCode: Record<string, number> = {};
  const buckets = new Map<string, { perSecond: number[]; run: number[] }>();
  let errors = 0;
  let recent = 0;
  const sparkStart = now - SPARK_SECONDS * 1000;
  for await (const record of store.queries.iterate({ since: now - STATS_WINDOW_MS, until: now })) {
    run.push(record.runMs);
    create.push(record.createMs);
    if (record.outcome === 'error') {
      errors++;
      const code = record.errorCode ?? 'E_INTERNAL';
      errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    }
    if (record.startedAt > now - RATE_WINDOW_S * 1000) recent++;
    let bucket = buckets.get(record.template);
    if (!bucket) buckets.set(record.template, (bucket = { perSecond: new Array<number>(SPARK_SECONDS).fill(0), run: [] }));
    bucket.run.push(record.runMs);
    if (record.startedAt >= sparkStart) {
      const second = Math.min(SPARK_SECONDS - 1, Math.floor((record.startedAt - sparkStart) / 1000));
      bucket.perSecond[second] = (bucket.perSecond[second] ?? 0) + 1;
    }
  }
  const p = (values: number[]) => {
    const sorted = values.sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
  };
  const sandbox = factory.sandboxStats();
  const names = new Map<string, string>();
  for (const name of factory.registry.names()) {
    const resolved = factory.registry.peek(name);
    if (resolved) names.set(resolved.spec.digest, name);
  }
  return {
    at: now,
    runsPerSecond: recent / RATE_WINDOW_S,
    total: { runs: run.length, errors, runMs: p(run), createMs: p(create) },
    errorsByCode,
    perTemplate: [...buckets.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([template, bucket]) => ({ template, perSecond: bucket.perSecond, runs: bucket.run.length, p95: p(bucket.run).p95 })),
    pools: sandbox.pools.map((pool) => ({ template: names.get(pool.digest) ?? pool.digest.slice(0, 12), ready: pool.ready, busy: pool.busy })),
    hosts: sandbox.hosts,
    restarts: sandbox.restarts,
    dropped: store.runs.dropped,
    queueDepth: store.runs.queueDepth,
  };
}

export interface RunFilterText {
  template?: string;
  outcome?: 'ok' | 'error';
  since?: number;
  /** Words that are not `key:value`, matched against id, template, version, code and tenant. */
  words: string[];
  problems: string[];
}

/** Reads `template:hello outcome:error since:1h free words` from the `/` filter of the runs view. */
export function parseRunFilter(text: string, now: number, parseDuration: (text: string) => number | undefined): RunFilterText {
  const result: RunFilterText = { words: [], problems: [] };
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const [key, ...rest] = token.split(':');
    const value = rest.join(':');
    if (rest.length === 0 || value === '') result.words.push(token.toLowerCase());
    else if (key === 'template' || key === 't') result.template = value;
    else if (key === 'outcome' || key === 'o') {
      if (value === 'ok' || value === 'error') result.outcome = value;
      else result.problems.push(`outcome is ok or error, not "${value}"`);
    } else if (key === 'since') {
      const duration = parseDuration(value);
      const date = Date.parse(value);
      if (duration !== undefined) result.since = now - duration;
      else if (!Number.isNaN(date)) result.since = date;
      else result.problems.push(`since takes a duration (30m, 24h, 7d) or a date, not "${value}"`);
    } else result.words.push(token.toLowerCase());
  }
  return result;
}

export function matchesWords(words: readonly string[], fields: ReadonlyArray<string | undefined>): boolean {
  const haystack = fields.filter(Boolean).join(' ').toLowerCase();
  return words.every((word) => haystack.includes(word));
}

export interface CanaryProgress {
  rollout: Rollout;
  byVersion: Array<{ version: string; runs: number; errors: number }>;
}

/** The rollout a suggestion started, with runs and errors per version since it began. */
export async function canaryProgress(services: TuiServices, suggestion: Suggestion): Promise<CanaryProgress | undefined> {
  const rollout = await services.store.rollouts.get(suggestion.template);
  if (!rollout || rollout.suggestionId !== suggestion.id) return undefined;
  const counts = new Map<string, { runs: number; errors: number }>([
    [rollout.stableVersion, { runs: 0, errors: 0 }],
    [rollout.candidateVersion, { runs: 0, errors: 0 }],
  ]);
  for await (const record of services.store.queries.iterate({ template: suggestion.template, since: rollout.startedAt })) {
    const entry = counts.get(record.version);
    if (!entry) continue;
    entry.runs++;
    if (record.outcome === 'error') entry.errors++;
  }
  return { rollout, byVersion: [...counts.entries()].map(([version, entry]) => ({ version, ...entry })) };
}

/** A line per piece of evidence: `key  value`, nested values on one line. */
export function evidenceLines(evidence: Record<string, unknown>): Array<[string, string]> {
  return Object.entries(evidence).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
}

export type { RunRecord };
