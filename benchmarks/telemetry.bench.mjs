// Telemetry instrumentation cost per createAgent + agent.run pair: no SDK (API no-op), SDK with Prometheus metrics, and metrics plus sampled spans.
import { setTimeout as sleep } from 'node:timers/promises';
import { metric, runStandalone, sample } from './lib/measure.mjs';

/** Pairs timed per sample: one pair is well under a microsecond when off, below hrtime's useful resolution. */
const BATCH = 100;

const CREATE = { template: 'hello', env: 'prod', tenant: 'acme' };
const CREATED = { version: '1.0.0', coldStart: false };
const RUN = { template: 'hello', version: '1.0.0', env: 'prod', tenant: 'acme' };
const REPORT = { ok: true, runId: 'run', output: null, stats: { cpuMs: 0.2 } };
const run = () => Promise.resolve(REPORT);

export default async function bench({ quick = false } = {}) {
  const scale = quick ? 0.2 : 1;
  const { createTelemetry, enableTelemetry } = await importTelemetry();
  const options = { warmup: 200, samples: Math.round(3000 * scale) };

  // The instrumented code without telemetry: the awaited run function alone, the floor every row pays.
  const baseline = perPair(
    await sample(async () => {
      for (let i = 0; i < BATCH; i++) await run();
    }, options),
  );

  const pair = (telemetry) => async () => {
    for (let i = 0; i < BATCH; i++) {
      telemetry.startCreate(CREATE).end(CREATED);
      await telemetry.traceRun(RUN, run);
    }
  };

  const off = createTelemetry({ poolStats: () => [], queueDepth: () => 0, droppedRecords: () => 0 });
  if (off.isLive) throw new Error('an OpenTelemetry SDK is already registered in this process; the "disabled" row would be wrong');
  const disabled = perPair(await sample(pair(off), options));

  // Metrics only: the Prometheus reader, no server, no network; spans stay no-op (no exporter configured).
  let sdk = await enableTelemetry({ enabled: true, env: {} });
  const metricsOnly = perPair(await sample(pair(off), options));
  const scrape = await sample(() => sdk.scrape(), { warmup: 20, samples: Math.round(200 * scale) });
  await sdk.shutdown();

  // Metrics and spans: every span sampled and ended through NodeSDK's tracer, then dropped by the processor.
  sdk = await enableTelemetry({ enabled: true, env: {}, spanProcessors: [DISCARD] });
  const withSpans = perPair(await sample(pair(off), options));
  await sdk.shutdown();
  off.shutdown();
  // Let the exporter's sockets and timers close before the next benchmark in the same process.
  await sleep(10);

  return {
    name: 'telemetry',
    title: 'Telemetry: instrumentation per createAgent + agent.run pair',
    metrics: [
      metric('baseline: await run() alone', 'µs', baseline),
      metric('telemetry off (no SDK: API no-op)', 'µs', disabled, { stat: 'p50', max: 1 }),
      metric('SDK on: Prometheus metrics, spans no-op', 'µs', metricsOnly, { stat: 'p50', max: 5 }),
      metric('SDK on: metrics + sampled spans (discarded)', 'µs', withSpans, { stat: 'p50', max: 10 }),
      metric('scrape: Prometheus text of the instruments above', 'µs', scrape),
    ],
    notes: [
      `Each sample times ${BATCH} pairs of startCreate(...).end(...) and await traceRun(...), divided by ${BATCH}; rows include the baseline (the awaited run function).`,
      'Metrics per pair: one create histogram record, one run counter add, one run duration and one CPU histogram record. Spans: agent.create and agent.run, the latter made active with context.with (AsyncLocalStorage when the SDK runs).',
      'No network in any row: the Prometheus reader is pulled only by the scrape row, and the span processor drops every span.',
    ],
  };
}

/** A span processor that keeps nothing, so the spans row measures span creation, not an exporter. */
const DISCARD = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

function perPair(stats) {
  const out = { ...stats };
  for (const key of ['p50', 'p95', 'p99', 'mean', 'min', 'max']) out[key] = stats[key] / BATCH;
  return out;
}

/** dist/ may be mid-rebuild by another build (scripts/build.mjs removes it first): retry briefly. */
async function importTelemetry() {
  for (let attempt = 0; ; attempt++) {
    try {
      return await import('../dist/runtime/telemetry/index.js');
    } catch (error) {
      if (attempt >= 20 || error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      await sleep(500);
    }
  }
}

await runStandalone(import.meta.url, bench);
