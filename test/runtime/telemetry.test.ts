// Telemetry as the factory drives it: spans, metrics, the Prometheus exposition, the SDK switch and `af metrics`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { type DataPoint, type Histogram, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { build } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { metricsCommand } from '../../cli/commands/metrics.js';
import { FactoryError } from '../../core/errors.js';
import { captureContext } from '../helpers/streams.js';
import {
  createQueueMetrics,
  createTelemetry,
  enableTelemetry,
  INSTRUMENT,
  PROMETHEUS_CONTENT_TYPE,
  prometheusSeriesNames,
  type RunAttributes,
  startMetricsServer,
  type Telemetry,
  telemetryRequested,
  type TelemetrySdk,
} from '../../runtime/telemetry/index.js';

const REPO = path.resolve(import.meta.dirname, '../..');

/** A pull reader the test collects from by hand. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface Point {
  attributes: Record<string, unknown>;
  value: number | { count: number; sum?: number };
}

async function collect(reader: MetricReader): Promise<Map<string, Point[]>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return byName(resourceMetrics);
}

function byName(resourceMetrics: ResourceMetrics): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const points = (metric.dataPoints as Array<DataPoint<number | Histogram>>).map((point) => ({
        attributes: { ...point.attributes },
        value: typeof point.value === 'number' ? point.value : { count: point.value.count, ...(point.value.sum !== undefined ? { sum: point.value.sum } : {}) },
      }));
      out.set(metric.descriptor.name, points);
    }
  }
  return out;
}

function fakeClock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const RUN: RunAttributes = { template: 'hello', version: '1.2.0', env: 'prod', tenant: 'acme' };

describe('Telemetry with injected providers (as the factory drives it)', () => {
  let spans: InMemorySpanExporter;
  let reader: TestReader;
  let tracerProvider: BasicTracerProvider;
  let meterProvider: MeterProvider;
  let clock: ReturnType<typeof fakeClock>;
  let telemetry: Telemetry;

  beforeEach(() => {
    spans = new InMemorySpanExporter();
    reader = new TestReader();
    tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    meterProvider = new MeterProvider({ readers: [reader] });
    clock = fakeClock();
    telemetry = createTelemetry({ tracerProvider, meterProvider, now: clock.now });
  });

  afterEach(async () => {
    telemetry.shutdown();
    await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
  });

  it('records agent.create with every attribute and the create duration by template, env, outcome and cold start', async () => {
    expect(telemetry.isLive).toBe(true);
    const create = telemetry.startCreate({ template: 'hello', env: 'prod', tenant: 'acme' });
    clock.advance(0.04);
    create.end({ version: '1.2.0', coldStart: true });
    create.end({ version: 'ignored' }); // a second end must not record twice

    const [span, ...rest] = spans.getFinishedSpans();
    expect(rest).toEqual([]);
    expect(span?.name).toBe('agent.create');
    expect(span?.attributes).toEqual({
      'af.template': 'hello',
      'af.env': 'prod',
      'af.tenant': 'acme',
      'af.version': '1.2.0',
      'af.cold_start': true,
      'af.outcome': 'ok',
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);

    const points = await collect(reader);
    const [point] = points.get('af.agent.create.duration') ?? [];
    expect(point?.attributes).toEqual({ template: 'hello', env: 'prod', outcome: 'ok', cold_start: true });
    expect(point?.value).toEqual({ count: 1, sum: expect.closeTo(0.04, 9) });
  });

  it('marks a failed create as an error and labels its metric _unresolved when the template never resolved', async () => {
    const create = telemetry.startCreate({ template: 'no-such-template-7f3a', env: 'dev', tenant: 'default' });
    create.end({ errorCode: 'E_TEMPLATE_NOT_FOUND' });

    const [span] = spans.getFinishedSpans();
    expect(span?.attributes['af.outcome']).toBe('error');
    expect(span?.attributes['af.error_code']).toBe('E_TEMPLATE_NOT_FOUND');
    // The span keeps the name the caller asked for; only the metric label is bounded.
    expect(span?.attributes['af.template']).toBe('no-such-template-7f3a');
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_TEMPLATE_NOT_FOUND' });

    const [point] = (await collect(reader)).get('af.agent.create.duration') ?? [];
    expect(point?.attributes).toEqual({ template: '_unresolved', env: 'dev', outcome: 'error' });
  });

  it('records agent.run spans and the run counters, error counter and duration/CPU histograms', async () => {
    const ok = await telemetry.traceRun({ ...RUN, coldStart: false }, async () => {
      clock.advance(2);
      return { ok: true as const, runId: 'run-1', output: 42, stats: { cpuMs: 1.5 } };
    });
    expect(ok.output).toBe(42);
    await telemetry.traceRun(RUN, async () => {
      clock.advance(8);
      return { ok: false as const, runId: 'run-2', error: { code: 'E_TIMEOUT', message: 'too slow' }, stats: { cpuMs: 7 } };
    });
    await telemetry.traceRun(RUN, async () => ({ ok: false as const, runId: 'run-3', error: { code: 'E_TIMEOUT' }, stats: { cpuMs: 0.5 } }));

    const [first, second] = spans.getFinishedSpans();
    expect(first?.name).toBe('agent.run');
    expect(first?.attributes).toEqual({
      'af.template': 'hello',
      'af.version': '1.2.0',
      'af.env': 'prod',
      'af.tenant': 'acme',
      'af.cold_start': false,
      'af.outcome': 'ok',
      'af.run_id': 'run-1',
    });
    expect(second?.attributes).toMatchObject({ 'af.outcome': 'error', 'af.error_code': 'E_TIMEOUT', 'af.run_id': 'run-2' });
    expect(second?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'E_TIMEOUT' });

    const points = await collect(reader);
    expect(points.get('af.runs')).toEqual([
      { attributes: { template: 'hello', env: 'prod', outcome: 'ok' }, value: 1 },
      { attributes: { template: 'hello', env: 'prod', outcome: 'error' }, value: 2 },
    ]);
    expect(points.get('af.run.errors')).toEqual([{ attributes: { template: 'hello', code: 'E_TIMEOUT' }, value: 2 }]);
    expect(points.get('af.agent.run.duration')).toEqual([
      { attributes: { template: 'hello', env: 'prod', outcome: 'ok' }, value: { count: 1, sum: 2 } },
      { attributes: { template: 'hello', env: 'prod', outcome: 'error' }, value: { count: 2, sum: 8 } },
    ]);
    expect(points.get('af.agent.run.cpu_time')).toEqual([{ attributes: { template: 'hello', env: 'prod' }, value: { count: 3, sum: 9 } }]);
  });

  it('records a throwing run as an error with its code and rethrows it', async () => {
    const failure = Object.assign(new Error('bridge broke'), { code: 'E_SANDBOX_CRASHED' });
    await expect(telemetry.traceRun(RUN, async () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(telemetry.traceRun(RUN, async () => Promise.reject(new Error('bug')))).rejects.toThrow('bug');

    const [crashed, bug] = spans.getFinishedSpans();
    expect(crashed?.attributes['af.error_code']).toBe('E_SANDBOX_CRASHED');
    expect(crashed?.events.map((event) => event.name)).toEqual(['exception']);
    expect(bug?.attributes['af.error_code']).toBe('E_INTERNAL');
    expect((await collect(reader)).get('af.run.errors')).toEqual([
      { attributes: { template: 'hello', code: 'E_SANDBOX_CRASHED' }, value: 1 },
      { attributes: { template: 'hello', code: 'E_INTERNAL' }, value: 1 },
    ]);
  });

  it('counts trust rejections by code and template', async () => {
    telemetry.recordTrustRejection('E_SIGNATURE_INVALID', 'triage');
    telemetry.recordTrustRejection('E_SIGNATURE_INVALID', 'triage');
    telemetry.recordTrustRejection('E_KEY_REVOKED', 'hello');
    expect((await collect(reader)).get('af.trust.rejections')).toEqual([
      { attributes: { code: 'E_SIGNATURE_INVALID', template: 'triage' }, value: 2 },
      { attributes: { code: 'E_KEY_REVOKED', template: 'hello' }, value: 1 },
    ]);
  });

  it('observes pool, queue and dropped-record callbacks once per collection, and stops after shutdown', async () => {
    let poolCalls = 0;
    let dropped = 3;
    const observed = createTelemetry({
      meterProvider,
      tracerProvider,
      poolStats: () => {
        poolCalls++;
        return [
          { template: 'hello', ready: 2, busy: 1 },
          { template: 'hello', ready: 1, busy: 0 },
          { template: 'triage', ready: 0, busy: 4 },
        ];
      },
      queueDepth: () => 17,
      droppedRecords: () => dropped,
    });
    let points = await collect(reader);
    expect(poolCalls).toBe(1);
    expect(points.get('af.sandbox.pool.ready')).toEqual([
      { attributes: { template: 'hello' }, value: 3 },
      { attributes: { template: 'triage' }, value: 0 },
    ]);
    expect(points.get('af.sandbox.pool.busy')).toEqual([
      { attributes: { template: 'hello' }, value: 1 },
      { attributes: { template: 'triage' }, value: 4 },
    ]);
    expect(points.get('af.telemetry.queue.depth')).toEqual([{ attributes: {}, value: 17 }]);
    expect(points.get('af.telemetry.dropped')).toEqual([{ attributes: {}, value: 3 }]);

    dropped = 5;
    points = await collect(reader);
    expect(points.get('af.telemetry.dropped')).toEqual([{ attributes: {}, value: 5 }]);

    observed.shutdown();
    observed.shutdown();
    await collect(reader);
    expect(poolCalls).toBe(2);
  });

  it('reports zero contexts, not a missing series, before any pool exists', async () => {
    createTelemetry({ meterProvider, poolStats: () => [] });
    const points = await collect(reader);
    expect(points.get('af.sandbox.pool.ready')).toEqual([{ attributes: {}, value: 0 }]);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => createTelemetry({ poolStats: 3 as never })).toThrow(new TypeError('createTelemetry: option "poolStats" must be a function'));
    expect(() => createTelemetry({ meterProvider: {} as never })).toThrow(/option "meterProvider"/);
    expect(() => createTelemetry({ tracerProvider: 'x' as never })).toThrow(/option "tracerProvider"/);
  });
});

describe('Telemetry with no SDK registered', () => {
  it('is a no-op that still runs the function and returns its result', async () => {
    expect(trace.getTracerProvider()).toBeDefined();
    let calls = 0;
    const telemetry = createTelemetry({ poolStats: () => (calls++, []) });
    expect(telemetry.isLive).toBe(false);
    const a = telemetry.startCreate({ template: 'x', env: 'dev', tenant: 'default' });
    const b = telemetry.startCreate({ template: 'y', env: 'dev', tenant: 'default' });
    // One shared handle: no span and no closure is allocated per call.
    expect(a).toBe(b);
    a.end({ version: '1.0.0' });
    const report = { ok: true as const, runId: 'r' };
    await expect(telemetry.traceRun(RUN, async () => report)).resolves.toBe(report);
    telemetry.recordTrustRejection('E_SIGNATURE_INVALID', 'x');
    expect(calls).toBe(0);
    telemetry.shutdown();
  });

  it('loads no @opentelemetry/sdk-* or exporter module until telemetry is enabled (checked in a fresh process)', async () => {
    // Bundle our TypeScript (packages stay external) where it resolves this repo's node_modules.
    const dir = path.join(REPO, 'node_modules/.cache/af-telemetry-test');
    mkdirSync(dir, { recursive: true });
    const bundle = path.join(dir, `telemetry-${process.pid}.mjs`);
    await build({ entryPoints: [path.join(REPO, 'runtime/telemetry/index.ts')], bundle: true, format: 'esm', platform: 'node', packages: 'external', outfile: bundle, logLevel: 'silent' });
    const probe = path.join(dir, `probe-${process.pid}.mjs`);
    writeFileSync(
      probe,
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const otel = () => Object.keys(require.cache).filter((file) => file.includes('@opentelemetry')).map((file) => file.split('@opentelemetry/')[1].split('/')[0]);
const t = await import(${JSON.stringify(bundle)});
const telemetry = t.createTelemetry({ poolStats: () => [], queueDepth: () => 0, droppedRecords: () => 0 });
telemetry.startCreate({ template: 'a', env: 'dev', tenant: 'default' }).end({ version: '1.0.0', coldStart: false });
await telemetry.traceRun({ template: 'a', version: '1.0.0', env: 'dev', tenant: 'default' }, async () => ({ ok: true }));
telemetry.recordTrustRejection('E_SIGNATURE_INVALID', 'a');
const notRequested = await t.enableTelemetry({ env: { OTEL_SERVICE_NAME: 'x' } });
const disabled = await t.enableTelemetry({ enabled: true, env: { OTEL_SDK_DISABLED: 'true' } });
const before = [...new Set(otel())];
const sdk = await t.enableTelemetry({ enabled: true, env: {} });
const live = telemetry.isLive;
await sdk.shutdown();
console.log(JSON.stringify({ before, after: [...new Set(otel())], notRequested: notRequested ?? null, disabled: disabled ?? null, live, liveAfterShutdown: telemetry.isLive }));
`,
    );
    let out: string;
    try {
      out = execFileSync(process.execPath, [probe], { cwd: REPO, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    } finally {
      rmSync(bundle, { force: true });
      rmSync(probe, { force: true });
    }
    const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { before: string[]; after: string[]; notRequested: null; disabled: null; live: boolean; liveAfterShutdown: boolean };
    // The API is loaded (so the check can see CommonJS OpenTelemetry modules at all); nothing else is.
    expect(result.before).toEqual(['api']);
    expect(result.notRequested).toBeNull();
    expect(result.disabled).toBeNull();
    // Enabling is what loads the SDK and the exporter, and the telemetry made earlier switches on and off with it.
    expect(result.after).toEqual(expect.arrayContaining(['api', 'sdk-metrics', 'exporter-prometheus', 'resources']));
    expect(result.after).not.toContain('sdk-node');
    expect(result.live).toBe(true);
    expect(result.liveAfterShutdown).toBe(false);
  });
});

describe('enableTelemetry', () => {
  let sdk: TelemetrySdk | undefined;
  afterEach(async () => {
    await sdk?.shutdown();
    sdk = undefined;
  });

  it('decides from OTEL_* variables when no flag is given', () => {
    expect(telemetryRequested({})).toBe(false);
    expect(telemetryRequested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(telemetryRequested({ OTEL_METRICS_EXPORTER: 'prometheus' })).toBe(true);
    expect(telemetryRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(telemetryRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' })).toBe(false);
    expect(telemetryRequested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(telemetryRequested({ OTEL_SERVICE_NAME: 'svc' })).toBe(false);
  });

  it('stays off without a flag or OTEL_* request, and OTEL_SDK_DISABLED wins over the flag', async () => {
    expect(await enableTelemetry({ env: {} })).toBeUndefined();
    expect(await enableTelemetry({ enabled: true, env: { OTEL_SDK_DISABLED: 'TRUE' } })).toBeUndefined();
    expect(await enableTelemetry({ enabled: false, env: { OTEL_TRACES_EXPORTER: 'console' } })).toBeUndefined();
  });

  it('rejects bad options with a TypeError naming the option', async () => {
    await expect(enableTelemetry({ enabled: 'yes' as never })).rejects.toThrow(/option "enabled"/);
    await expect(enableTelemetry({ enabled: true, prometheus: { port: 70000 } })).rejects.toThrow(/option "prometheus.port"/);
    await expect(enableTelemetry({ enabled: true, serviceName: '' })).rejects.toThrow(/option "serviceName"/);
  });

  it('links agent.run under the caller’s active span and tool spans under agent.run (NodeSDK context manager)', async () => {
    const spans = new InMemorySpanExporter();
    const telemetry = createTelemetry(); // made before the SDK, as a factory may be
    expect(telemetry.isLive).toBe(false);
    sdk = await enableTelemetry({ enabled: true, env: {}, spanProcessors: [new SimpleSpanProcessor(spans)] });
    expect(sdk?.isTracing).toBe(true);
    expect(telemetry.isLive).toBe(true);
    // Idempotent while running.
    expect(await enableTelemetry({ enabled: true, env: {} })).toBe(sdk);

    const user = trace.getTracer('user-app');
    await user.startActiveSpan('user.request', async (parent) => {
      const create = telemetry.startCreate({ template: 'hello', env: 'dev', tenant: 'default' });
      create.end({ version: '1.0.0', coldStart: false });
      await telemetry.traceRun(RUN, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        trace.getTracer('tool').startSpan('kv.get').end();
        return { ok: true };
      });
      parent.end();
    });

    const byName = new Map<string, ReadableSpan>(spans.getFinishedSpans().map((span) => [span.name, span]));
    const parent = byName.get('user.request');
    const create = byName.get('agent.create');
    const run = byName.get('agent.run');
    const tool = byName.get('kv.get');
    expect(create?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(run?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(run?.spanContext().traceId).toBe(parent?.spanContext().traceId);
    expect(tool?.parentSpanContext?.spanId).toBe(run?.spanContext().spanId);
    // Asynchronous resource attributes are settled before the SDK starts, so the first span already names the service.
    expect(create?.resource.attributes['service.name']).toBe('agent-factory');

    await sdk?.shutdown();
    sdk = undefined;
    expect(telemetry.isLive).toBe(false);
    expect(trace.getTracer('after').startSpan('x').isRecording()).toBe(false);
  });

  it('also feeds extra metric readers, and serves a standalone exposition on a loopback port', async () => {
    const reader = new TestReader();
    sdk = await enableTelemetry({ enabled: true, env: {}, metricReaders: [reader], prometheus: { port: 0, host: '127.0.0.1' } });
    expect(sdk?.isTracing).toBe(false);
    const telemetry = createTelemetry({ queueDepth: () => 4 });
    await telemetry.traceRun(RUN, async () => ({ ok: true }));
    await expect(telemetry.traceRun(RUN, async () => Promise.reject(new Error('bug')))).rejects.toThrow('bug');
    const points = await collect(reader);
    expect(points.get('af.runs')).toEqual([
      { attributes: { template: 'hello', env: 'prod', outcome: 'ok' }, value: 1 },
      { attributes: { template: 'hello', env: 'prod', outcome: 'error' }, value: 1 },
    ]);
    expect(points.get('af.run.errors')).toEqual([{ attributes: { template: 'hello', code: 'E_INTERNAL' }, value: 1 }]);

    const url = sdk?.metricsUrl ?? '';
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = await response.text();
    expect(text).toContain('af_runs_total{template="hello",env="prod",outcome="ok",otel_scope_name="agent-factory"} 1');
    expect(text).toContain('af_telemetry_queue_depth{otel_scope_name="agent-factory"} 4');
    expect(text).toMatch(/target_info\{[^}]*service_name="agent-factory"/);
    // The command line never reaches target_info (it can carry an agent's input).
    expect(text).not.toContain('process_command');
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    telemetry.shutdown();
  });
});

describe('Prometheus exposition', () => {
  let sdk: TelemetrySdk | undefined;
  afterEach(async () => {
    await sdk?.shutdown();
    sdk = undefined;
  });

  it('exposes every instrument under the names prometheusSeriesNames predicts, through the real exporter handler on a socket', async () => {
    sdk = await enableTelemetry({ enabled: true, env: {} });
    const exporter = sdk as TelemetrySdk;
    const telemetry = createTelemetry({ poolStats: () => [{ template: 'hello', ready: 2, busy: 1 }], queueDepth: () => 0, droppedRecords: () => 0 });
    telemetry.startCreate({ template: 'hello', env: 'dev', tenant: 'default' }).end({ version: '1.0.0', coldStart: true });
    await telemetry.traceRun(RUN, async () => ({ ok: true, stats: { cpuMs: 1 } }));
    await telemetry.traceRun(RUN, async () => ({ ok: false, error: { code: 'E_AGENT_THREW' }, stats: { cpuMs: 1 } }));
    telemetry.recordTrustRejection('E_SIGNATURE_INVALID', 'hello');
    // A runner's instruments (af runner --metrics): each used once, the depth read at the scrape.
    const queue = createQueueMetrics({ depth: async () => ({ queued: 7, running: 3 }) });
    queue.claimed(1.5);
    queue.finished('completed');
    queue.leaseLost();
    queue.reaped(1, 1);

    // The HTTP API will mount exactly this handler; serve it from a plain node:http server here.
    const { createServer: createHttpServer } = await import('node:http');
    const server = createHttpServer((request, response) => exporter.handleMetricsRequest(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    await new Promise((resolve) => server.close(resolve));
    expect(text).toBe(await exporter.scrape());

    const exposed = seriesNames(text);
    for (const instrument of Object.values(INSTRUMENT)) {
      for (const name of prometheusSeriesNames(instrument.name, instrument.kind)) expect(exposed, `${instrument.name} → ${name}`).toContain(name);
    }
    expect(text).toContain('af_run_errors_total{template="hello",code="E_AGENT_THREW",otel_scope_name="agent-factory"} 1');
    expect(text).toContain('af_trust_rejections_total{code="E_SIGNATURE_INVALID",template="hello",otel_scope_name="agent-factory"} 1');
    expect(text).toContain('af_sandbox_pool_ready{template="hello",otel_scope_name="agent-factory"} 2');
    expect(text).toContain('af_queue_depth{state="queued",otel_scope_name="agent-factory"} 7');
    expect(text).toContain('af_queue_runs_total{outcome="completed",otel_scope_name="agent-factory"} 1');
    expect(text).toContain('af_queue_reaped_total{kind="abandoned",otel_scope_name="agent-factory"} 1');
    queue.close();
    // Duration buckets start at 10 µs, so a warm createAgent does not vanish into the first bucket.
    expect(text).toMatch(/af_agent_create_duration_bucket\{[^}]*le="0\.01"\}/);
    expect(text).toMatch(/af_agent_run_duration_bucket\{[^}]*le="\+Inf"\} 1/);

    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (promtool.status === 0) {
      // Parses the exposition as Prometheus would and lints its names (counters end in _total, and so on).
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.status, lint.stderr + lint.stdout).toBe(0);
    }
    telemetry.shutdown();
  });
});

describe('af metrics', () => {
  function streams() {
    const { context, printed } = captureContext({ cwd: REPO, keepStdinOpen: true });
    return { out: printed, context };
  }

  it('serves /metrics on a loopback port until stopped, then shuts the SDK down and exits 0', async () => {
    const { out, context } = streams();
    const stop = new AbortController();
    let url = '';
    const exit = metricsCommand(context, { port: '0', json: true }, {
      signal: stop.signal,
      onListening: (listening) => {
        url = listening;
      },
    });
    await waitFor(() => url !== '');
    const telemetry = createTelemetry();
    telemetry.recordTrustRejection('E_KEY_REVOKED', 'hello');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await response.text()).toContain('af_trust_rejections_total{code="E_KEY_REVOKED",template="hello",otel_scope_name="agent-factory"} 1');
    expect((await fetch(`${url}/../nope`)).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);

    stop.abort();
    expect(await exit).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ url });
    expect(out.stderr).toBe(`serving metrics on ${url} (Ctrl-C to stop)\naborted: stopping metrics server\n`);
    await expect(fetch(url)).rejects.toThrow();
    expect(telemetry.isLive).toBe(false);
    telemetry.shutdown();
  });

  it('stops on SIGTERM', async () => {
    const { context } = streams();
    const listeners = process.listenerCount('SIGTERM');
    let url = '';
    let handledWhenAnnounced: boolean | undefined;
    const exit = metricsCommand(context, { port: 0 }, {
      onListening: (listening) => {
        // A stop sent as soon as the URL is read must find our handler, not Node's default exit.
        handledWhenAnnounced = process.listenerCount('SIGTERM') > listeners;
        url = listening;
      },
    });
    await waitFor(() => url !== '');
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exit).toBe(0);
    expect(handledWhenAnnounced).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(listeners);
  });

  it('is a usage error for a bad port or a port in use', async () => {
    const { context } = streams();
    await expect(metricsCommand(context, { port: 'eighty' })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('--port') });
    await expect(metricsCommand(context, { port: 70000 })).rejects.toBeInstanceOf(FactoryError);

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      await expect(metricsCommand(context, { port })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('EADDRINUSE') });
      // The SDK it started was shut down again, so the next command can start its own.
      expect(createTelemetry().isLive).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('startMetricsServer', () => {
  it('answers 500 with the reason when collecting fails, and validates its port', async () => {
    const server = await startMetricsServer({ port: 0, scrape: async () => Promise.reject(new Error('collector down')) });
    try {
      const response = await fetch(server.url);
      expect(response.status).toBe(500);
      expect(await response.text()).toContain('collector down');
    } finally {
      await server.close();
    }
    await expect(startMetricsServer({ port: -1, scrape: async () => '' })).rejects.toThrow(/option "port"/);
  });
});

/** Metric names (without labels) of every sample line in a Prometheus text exposition. */
function seriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (match?.[1]) names.add(match[1]);
  }
  return names;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
