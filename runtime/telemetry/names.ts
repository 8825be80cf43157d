/** @module runtime/telemetry/names — span, instrument and attribute names, and how the Prometheus exporter spells them. */

/** The instrumentation scope every span and instrument is created under (`otel_scope_name` in Prometheus). */
export const SCOPE_NAME = 'agent-factory';

export const SPAN = {
  create: 'agent.create',
  run: 'agent.run',
} as const;

/** Span attributes. Metrics use the short, unprefixed keys in {@link METRIC_LABEL} instead, so PromQL stays readable. */
export const SPAN_ATTRIBUTE = {
  template: 'af.template',
  version: 'af.version',
  env: 'af.env',
  tenant: 'af.tenant',
  coldStart: 'af.cold_start',
  outcome: 'af.outcome',
  errorCode: 'af.error_code',
  runId: 'af.run_id',
} as const;

export const METRIC_LABEL = {
  template: 'template',
  env: 'env',
  outcome: 'outcome',
  code: 'code',
  coldStart: 'cold_start',
  state: 'state',
  kind: 'kind',
} as const;

/**
 * Metric label value used for `template` when a create failed before the template resolved: the name came
 * from the caller (possibly over HTTP), and one series per mistyped name would grow without bound.
 */
export const UNRESOLVED_TEMPLATE = '_unresolved';

/** OpenTelemetry instrument names, with their kind and unit. */
export const INSTRUMENT = {
  createDuration: { name: 'af.agent.create.duration', kind: 'histogram', unit: 'ms', description: 'Time factory.createAgent took, by template, environment, outcome and cold start' },
  runDuration: { name: 'af.agent.run.duration', kind: 'histogram', unit: 'ms', description: 'Wall time of agent.run as the caller saw it (validation, sandbox, output check)' },
  runCpuTime: { name: 'af.agent.run.cpu_time', kind: 'histogram', unit: 'ms', description: 'CPU time the sandbox charged to a run' },
  runs: { name: 'af.runs', kind: 'counter', unit: '{run}', description: 'Runs, by template, environment and outcome' },
  runErrors: { name: 'af.run.errors', kind: 'counter', unit: '{run}', description: 'Failed runs, by template and error code' },
  trustRejections: { name: 'af.trust.rejections', kind: 'counter', unit: '{template}', description: 'Templates refused by the trust gate (signature, key or policy), by code and template' },
  poolReady: { name: 'af.sandbox.pool.ready', kind: 'gauge', unit: '{context}', description: 'Sandbox contexts prepared and waiting for a run' },
  poolBusy: { name: 'af.sandbox.pool.busy', kind: 'gauge', unit: '{context}', description: 'Sandbox contexts running an agent' },
  queueDepth: { name: 'af.telemetry.queue.depth', kind: 'gauge', unit: '{record}', description: 'Run records waiting for the store writer' },
  dropped: { name: 'af.telemetry.dropped', kind: 'observable-counter', unit: '{record}', description: 'Run records dropped because the writer queue was full' },
  runQueueDepth: { name: 'af.queue.depth', kind: 'gauge', unit: '{run}', description: 'Runs in the run queue of the PostgreSQL store, by state (queued, running): the whole fleet, as one runner sees it' },
  runQueueClaimDuration: { name: 'af.queue.claim.duration', kind: 'histogram', unit: 'ms', description: 'Time one claim statement took (a runner asking for runs)' },
  runQueueRuns: { name: 'af.queue.runs', kind: 'counter', unit: '{run}', description: 'Queued runs a runner finished, by outcome: completed, fenced (its lease was lost; nothing applied), conflict (a kv key changed; run again), failed (the completion could not be written; run again)' },
  runQueueLeasesLost: { name: 'af.queue.leases.lost', kind: 'counter', unit: '{run}', description: 'Runs whose lease a runner lost while running them (another runner takes them over)' },
  runQueueReaped: { name: 'af.queue.reaped', kind: 'counter', unit: '{run}', description: 'Runs the reaper handled, by kind: requeued (their runner stopped renewing) or abandoned (too many attempts)' },
} as const;

export type InstrumentKind = (typeof INSTRUMENT)[keyof typeof INSTRUMENT]['kind'];

/**
 * Bucket bounds (ms) for the duration histograms. The SDK default starts at 5 ms, which would put every warm
 * createAgent (tens of µs) and most runs in the first bucket and make p95 meaningless.
 */
export const DURATION_BUCKETS_MS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/**
 * The series names `@opentelemetry/exporter-prometheus` 0.2xx exposes for an instrument: dots become
 * underscores, monotonic sums get `_total`, histograms expose `_bucket`, `_sum` and `_count`. This exporter
 * version adds no unit suffix (no `_milliseconds`); the test scrapes a real exporter to keep this honest.
 */
export function prometheusSeriesNames(name: string, kind: InstrumentKind): string[] {
  const base = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
  switch (kind) {
    case 'histogram':
      return [`${base}_bucket`, `${base}_sum`, `${base}_count`];
    case 'counter':
    case 'observable-counter':
      return [base.endsWith('_total') ? base : `${base}_total`];
    case 'gauge':
      return [base];
  }
}
