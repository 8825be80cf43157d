/** @module runtime/telemetry/telemetry — the spans and metrics of createAgent and agent.run, coded against @opentelemetry/api only. */
import {
  type Attributes,
  type BatchObservableResult,
  context,
  type Counter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type Observable,
  type ObservableCounter,
  type ObservableGauge,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { DURATION_BUCKETS_MS, INSTRUMENT, METRIC_LABEL, SCOPE_NAME, SPAN, SPAN_ATTRIBUTE, UNRESOLVED_TEMPLATE } from './names.js';
import { isGlobalMetricsLive, isGlobalTracingLive, sdkGeneration } from './sdk-state.js';

/** One pool of sandbox contexts as `poolStats` reports it. Samples with the same `template` are summed. */
export interface PoolSample {
  ready: number;
  busy: number;
  /** Label the series with this template; without it the sample counts toward the unlabelled total. */
  template?: string;
}

export interface TelemetryOptions {
  /** Where spans go. @default the global tracer provider, re-read whenever `enableTelemetry` or its shutdown changes it */
  tracerProvider?: TracerProvider;
  /** Where metrics go. @default the global meter provider, re-read like `tracerProvider` */
  meterProvider?: MeterProvider;
  /** Feeds `af.sandbox.pool.ready` and `af.sandbox.pool.busy`; called once per metric collection. */
  poolStats?: () => Iterable<PoolSample>;
  /** Feeds `af.telemetry.queue.depth`: run records waiting for the store writer. */
  queueDepth?: () => number;
  /** Feeds `af.telemetry.dropped`: run records dropped so far (a cumulative count). */
  droppedRecords?: () => number;
  /** Monotonic milliseconds for the duration histograms. @default performance.now */
  now?: () => number;
}

/** What is known about a creation when it starts. */
export interface CreateAttributes {
  template: string;
  env: string;
  tenant: string;
}

/** How a creation ended. Without `errorCode` it succeeded. */
export interface CreateResult {
  /** The resolved version; absent when the template never resolved. */
  version?: string;
  /** The registry missed its cache (a cold resolve: load, bundle, digest, verify). */
  coldStart?: boolean;
  errorCode?: string;
}

/** A creation in progress: call `end` exactly once. */
export interface CreateSpan {
  end(result: CreateResult): void;
}

/** Attributes of an agent's runs; keep one object per agent, it is only read. */
export interface RunAttributes {
  template: string;
  version: string;
  env: string;
  tenant: string;
  /** Set on the first run of an agent whose creation was cold. */
  coldStart?: boolean;
}

/** The shape of `RunReport` that telemetry reads; `RunReport` satisfies it structurally. */
export interface RunResultLike {
  ok: boolean;
  runId?: string;
  error?: { code: string };
  stats?: { cpuMs?: number };
}

/** What the factory and agents call at their instrumentation points. */
export interface Telemetry {
  /** True when spans or metrics go somewhere; false means every call below is a no-op. */
  readonly isLive: boolean;
  /** Starts the `agent.create` span and timer. The current context's span, if any, is its parent. */
  startCreate(attributes: CreateAttributes): CreateSpan;
  /**
   * Runs `run` inside an active `agent.run` span (so spans the caller or a tool opens nest under it), then
   * records the outcome read from its result. A throw is recorded as `E_INTERNAL` (or its `code`) and rethrown.
   */
  traceRun<R extends RunResultLike>(attributes: RunAttributes, run: () => Promise<R>): Promise<R>;
  /** Counts a template refused by the trust gate (`af.trust.rejections`). */
  recordTrustRejection(code: string, template: string): void;
  /** Re-reads the global providers; only needed when a host application registers its SDK after creating the factory. */
  refresh(): void;
  /** Stops observing the callbacks (so a closed factory is neither reported nor kept alive). Idempotent. */
  shutdown(): void;
}

const NOOP_CREATE_SPAN: CreateSpan = { end() {} };

/** runSettled reports failures as data, so a throw is a bug: it is recorded (with its code when it has one) rather than lost. */
function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'E_INTERNAL';
}

/**
 * Creates the telemetry object a factory holds. Cheap when nothing is registered: every call checks one
 * integer and returns.
 * @example
 * const telemetry = createTelemetry({ poolStats: () => sandbox.stats().pools, now: () => clock.monotonic() });
 * const span = telemetry.startCreate({ template: 'hello', env: 'dev', tenant: 'default' });
 * span.end({ version: '1.0.0', coldStart: false });
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  return new ApiTelemetry(options);
}

interface ResolvedTelemetryOptions {
  tracerProvider: TracerProvider | undefined;
  meterProvider: MeterProvider | undefined;
  poolStats: (() => Iterable<PoolSample>) | undefined;
  queueDepth: (() => number) | undefined;
  droppedRecords: (() => number) | undefined;
  now: () => number;
}

function resolveTelemetryOptions(options: TelemetryOptions): ResolvedTelemetryOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createTelemetry: options must be an object');
  for (const key of ['poolStats', 'queueDepth', 'droppedRecords', 'now'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new TypeError(`createTelemetry: option "${key}" must be a function`);
  }
  if (options.tracerProvider !== undefined && typeof options.tracerProvider?.getTracer !== 'function') {
    throw new TypeError('createTelemetry: option "tracerProvider" must be a TracerProvider (with getTracer)');
  }
  if (options.meterProvider !== undefined && typeof options.meterProvider?.getMeter !== 'function') {
    throw new TypeError('createTelemetry: option "meterProvider" must be a MeterProvider (with getMeter)');
  }
  return {
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    poolStats: options.poolStats,
    queueDepth: options.queueDepth,
    droppedRecords: options.droppedRecords,
    now: options.now ?? performance.now.bind(performance),
  };
}

/** Instruments bound to one pair of providers; rebuilt when the global providers change. */
interface Bound {
  isLive: boolean;
  /** False when only metrics are on: then no span is started at all (a non-recording span still costs a context switch). */
  isTracing: boolean;
  tracer: Tracer;
  meter: Meter;
  createDuration: Histogram;
  runDuration: Histogram;
  runCpuTime: Histogram;
  runs: Counter;
  runErrors: Counter;
  trustRejections: Counter;
  observables: Observable[];
  observe: ((result: BatchObservableResult) => void) | undefined;
}

class ApiTelemetry implements Telemetry {
  readonly #options: ResolvedTelemetryOptions;
  readonly #isInjected: boolean;
  #generation = -1;
  #bound: Bound | undefined;
  #isShutdown = false;

  constructor(options: TelemetryOptions) {
    this.#options = resolveTelemetryOptions(options);
    this.#isInjected = this.#options.tracerProvider !== undefined || this.#options.meterProvider !== undefined;
    this.#bind();
  }

  get isLive(): boolean {
    return this.#current().isLive;
  }

  startCreate(attributes: CreateAttributes): CreateSpan {
    const bound = this.#current();
    if (!bound.isLive) return NOOP_CREATE_SPAN;
    const started = this.#options.now();
    const span = bound.isTracing
      ? bound.tracer.startSpan(SPAN.create, {
          attributes: { [SPAN_ATTRIBUTE.template]: attributes.template, [SPAN_ATTRIBUTE.env]: attributes.env, [SPAN_ATTRIBUTE.tenant]: attributes.tenant },
        })
      : undefined;
    let isEnded = false;
    return {
      end: (result) => {
        if (isEnded) return;
        isEnded = true;
        const outcome = result.errorCode === undefined ? 'ok' : 'error';
        if (span) {
          if (result.version !== undefined) span.setAttribute(SPAN_ATTRIBUTE.version, result.version);
          if (result.coldStart !== undefined) span.setAttribute(SPAN_ATTRIBUTE.coldStart, result.coldStart);
          span.setAttribute(SPAN_ATTRIBUTE.outcome, outcome);
          if (result.errorCode !== undefined) {
            span.setAttribute(SPAN_ATTRIBUTE.errorCode, result.errorCode);
            span.setStatus({ code: SpanStatusCode.ERROR, message: result.errorCode });
          }
          span.end();
        }
        const labels: Attributes = {
          [METRIC_LABEL.template]: result.version === undefined ? UNRESOLVED_TEMPLATE : attributes.template,
          [METRIC_LABEL.env]: attributes.env,
          [METRIC_LABEL.outcome]: outcome,
        };
        if (result.coldStart !== undefined) labels[METRIC_LABEL.coldStart] = result.coldStart;
        bound.createDuration.record(this.#options.now() - started, labels);
      },
    };
  }

  traceRun<R extends RunResultLike>(attributes: RunAttributes, run: () => Promise<R>): Promise<R> {
    const bound = this.#current();
    if (!bound.isLive) return run();
    return this.#traceRun(bound, attributes, run);
  }

  recordTrustRejection(code: string, template: string): void {
    const bound = this.#current();
    if (!bound.isLive) return;
    bound.trustRejections.add(1, { [METRIC_LABEL.code]: code, [METRIC_LABEL.template]: template });
  }

  refresh(): void {
    this.#bind();
  }

  shutdown(): void {
    if (this.#isShutdown) return;
    this.#isShutdown = true;
    this.#unobserve();
  }

  async #traceRun<R extends RunResultLike>(bound: Bound, attributes: RunAttributes, run: () => Promise<R>): Promise<R> {
    const started = this.#options.now();
    if (!bound.isTracing) {
      let result: R;
      try {
        result = await run();
      } catch (error) {
        this.#endRun(bound, undefined, attributes, started, errorCodeOf(error), undefined, undefined);
        throw error;
      }
      this.#endRun(bound, undefined, attributes, started, result.ok ? undefined : (result.error?.code ?? 'E_INTERNAL'), result.runId, result.stats?.cpuMs);
      return result;
    }
    const spanAttributes: Attributes = {
      [SPAN_ATTRIBUTE.template]: attributes.template,
      [SPAN_ATTRIBUTE.version]: attributes.version,
      [SPAN_ATTRIBUTE.env]: attributes.env,
      [SPAN_ATTRIBUTE.tenant]: attributes.tenant,
    };
    if (attributes.coldStart !== undefined) spanAttributes[SPAN_ATTRIBUTE.coldStart] = attributes.coldStart;
    const span = bound.tracer.startSpan(SPAN.run, { attributes: spanAttributes });
    let result: R;
    try {
      result = await context.with(trace.setSpan(context.active(), span), run);
    } catch (error) {
      if (error instanceof Error) span.recordException(error);
      this.#endRun(bound, span, attributes, started, errorCodeOf(error), undefined, undefined);
      throw error;
    }
    this.#endRun(bound, span, attributes, started, result.ok ? undefined : (result.error?.code ?? 'E_INTERNAL'), result.runId, result.stats?.cpuMs);
    return result;
  }

  #endRun(bound: Bound, span: Span | undefined, attributes: RunAttributes, started: number, errorCode: string | undefined, runId: string | undefined, cpuMs: number | undefined): void {
    const outcome = errorCode === undefined ? 'ok' : 'error';
    if (span) {
      span.setAttribute(SPAN_ATTRIBUTE.outcome, outcome);
      if (runId !== undefined) span.setAttribute(SPAN_ATTRIBUTE.runId, runId);
      if (errorCode !== undefined) {
        span.setAttribute(SPAN_ATTRIBUTE.errorCode, errorCode);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode });
      }
      span.end();
    }
    const labels = { [METRIC_LABEL.template]: attributes.template, [METRIC_LABEL.env]: attributes.env, [METRIC_LABEL.outcome]: outcome };
    bound.runDuration.record(this.#options.now() - started, labels);
    bound.runs.add(1, labels);
    if (errorCode !== undefined) bound.runErrors.add(1, { [METRIC_LABEL.template]: attributes.template, [METRIC_LABEL.code]: errorCode });
    if (cpuMs !== undefined) bound.runCpuTime.record(cpuMs, { [METRIC_LABEL.template]: attributes.template, [METRIC_LABEL.env]: attributes.env });
  }

  /** The instruments for the providers in force now; rebinding happens only after enableTelemetry or its shutdown. */
  #current(): Bound {
    if (!this.#isInjected && this.#generation !== sdkGeneration()) this.#bind();
    return this.#bound as Bound;
  }

  #bind(): void {
    this.#unobserve();
    this.#generation = sdkGeneration();
    const options = this.#options;
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
    const isTracing = options.tracerProvider !== undefined || isGlobalTracingLive();
    const isLive = isTracing || options.meterProvider !== undefined || isGlobalMetricsLive();
    const tracer = tracerProvider.getTracer(SCOPE_NAME);
    const meter = meterProvider.getMeter(SCOPE_NAME);
    const histogram = (spec: { name: string; unit: string; description: string }) =>
      meter.createHistogram(spec.name, { unit: spec.unit, description: spec.description, advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS } });
    const counter = (spec: { name: string; unit: string; description: string }) => meter.createCounter(spec.name, { unit: spec.unit, description: spec.description });
    const bound: Bound = {
      isLive,
      isTracing,
      tracer,
      meter,
      createDuration: histogram(INSTRUMENT.createDuration),
      runDuration: histogram(INSTRUMENT.runDuration),
      runCpuTime: histogram(INSTRUMENT.runCpuTime),
      runs: counter(INSTRUMENT.runs),
      runErrors: counter(INSTRUMENT.runErrors),
      trustRejections: counter(INSTRUMENT.trustRejections),
      observables: [],
      observe: undefined,
    };
    this.#bound = bound;
    if (isLive && !this.#isShutdown) this.#observe(bound);
  }

  /** Registers one batch callback, so `poolStats` (which walks every pool) runs once per collection for both gauges. */
  #observe(bound: Bound): void {
    const { poolStats, queueDepth, droppedRecords } = this.#options;
    const { meter } = bound;
    const gauge = (spec: { name: string; unit: string; description: string }): ObservableGauge =>
      meter.createObservableGauge(spec.name, { unit: spec.unit, description: spec.description });
    let ready: ObservableGauge | undefined;
    let busy: ObservableGauge | undefined;
    let depth: ObservableGauge | undefined;
    let dropped: ObservableCounter | undefined;
    if (poolStats) {
      ready = gauge(INSTRUMENT.poolReady);
      busy = gauge(INSTRUMENT.poolBusy);
      bound.observables.push(ready, busy);
    }
    if (queueDepth) {
      depth = gauge(INSTRUMENT.queueDepth);
      bound.observables.push(depth);
    }
    if (droppedRecords) {
      dropped = meter.createObservableCounter(INSTRUMENT.dropped.name, { unit: INSTRUMENT.dropped.unit, description: INSTRUMENT.dropped.description });
      bound.observables.push(dropped);
    }
    if (bound.observables.length === 0) return;
    bound.observe = (result) => {
      if (poolStats && ready && busy) {
        const byTemplate = new Map<string | undefined, { ready: number; busy: number }>();
        for (const sample of poolStats()) {
          const sum = byTemplate.get(sample.template) ?? { ready: 0, busy: 0 };
          sum.ready += sample.ready;
          sum.busy += sample.busy;
          byTemplate.set(sample.template, sum);
        }
        // With no pools yet, report zero rather than no series, so "busy == ready" style alerts have data.
        if (byTemplate.size === 0) byTemplate.set(undefined, { ready: 0, busy: 0 });
        for (const [template, sum] of byTemplate) {
          const labels = template === undefined ? {} : { [METRIC_LABEL.template]: template };
          result.observe(ready, sum.ready, labels);
          result.observe(busy, sum.busy, labels);
        }
      }
      if (queueDepth && depth) result.observe(depth, queueDepth());
      if (droppedRecords && dropped) result.observe(dropped, droppedRecords());
    };
    meter.addBatchObservableCallback(bound.observe, bound.observables);
  }

  #unobserve(): void {
    const bound = this.#bound;
    if (!bound?.observe) return;
    bound.meter.removeBatchObservableCallback(bound.observe, bound.observables);
    bound.observe = undefined;
  }
}
