/** @module runtime/telemetry/enable — turns the OpenTelemetry SDK on (imported only here, only when asked) with a Prometheus reader and OTEL_* exporters. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
// Type-only imports are erased: nothing below loads an SDK package until enableTelemetry runs.
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { IMetricReader, MeterProvider } from '@opentelemetry/sdk-metrics';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type Logger, silentLogger } from '../../core/logger.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';
import { SCOPE_NAME } from './names.js';
import { bumpSdkGeneration, isGlobalMetricsLive, isGlobalTracingLive } from './sdk-state.js';

type Env = Record<string, string | undefined>;

export interface EnableTelemetryOptions {
  /**
   * `true` turns the SDK on without any OTEL_* variable (`af --otel`); `false` keeps it off.
   * `OTEL_SDK_DISABLED=true` wins over both, as the specification asks.
   * @default on when {@link telemetryRequested} says the environment asks for it
   */
  enabled?: boolean;
  /** Where OTEL_* decisions are read. The exporters the SDK builds still read `process.env`. @default process.env */
  env?: Env;
  /** `service.name` of the resource. @default $OTEL_SERVICE_NAME, else 'agent-factory' */
  serviceName?: string;
  /**
   * Also serve the exposition on its own port. Without it the exposition is only reachable through
   * `handleMetricsRequest`/`scrape` (so `af serve` can mount `/metrics`), unless `OTEL_METRICS_EXPORTER`
   * includes `prometheus` (then `$OTEL_EXPORTER_PROMETHEUS_PORT`, default 9464).
   */
  prometheus?: { port: number; host?: string };
  /** Span processors to use instead of the OTEL_TRACES_EXPORTER ones (tests pass an in-memory exporter here). */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers beside the Prometheus one (tests pass an in-memory reader here). */
  metricReaders?: IMetricReader[];
  /** Receives warnings about OTEL_* values that are not understood. @default silent */
  logger?: Logger;
}

/** The running SDK. */
export interface TelemetrySdk {
  /** The pull reader behind `/metrics`. */
  readonly prometheus: PrometheusExporter;
  readonly meterProvider: MeterProvider;
  /** True when a tracer provider was registered (some span exporter was configured). */
  readonly isTracing: boolean;
  /** Where the standalone Prometheus server listens, if one was started. */
  readonly metricsUrl: string | undefined;
  /** Node `http` handler for `GET /metrics` (Fastify: `reply.hijack()` then pass `request.raw`, `reply.raw`). */
  handleMetricsRequest(request: IncomingMessage, response: ServerResponse): void;
  /** The Prometheus text exposition of this process's metrics now. */
  scrape(): Promise<string>;
  /** Flushes exporters, stops the server and removes the global providers, so telemetry is off again. Idempotent. */
  shutdown(): Promise<void>;
}

const TRUE = /^\s*true\s*$/i;

/** True when `OTEL_SDK_DISABLED` turns the SDK off. */
export function isTelemetryDisabled(env: Env = process.env): boolean {
  return TRUE.test(env.OTEL_SDK_DISABLED ?? '');
}

/**
 * True when the environment asks for telemetry: an exporter other than `none` in OTEL_TRACES_EXPORTER or
 * OTEL_METRICS_EXPORTER, or an OTLP endpoint, and the SDK is not disabled.
 */
export function telemetryRequested(env: Env = process.env): boolean {
  if (isTelemetryDisabled(env)) return false;
  return exportersFromEnv(env, 'traces').length > 0 || exportersFromEnv(env, 'metrics').length > 0;
}

/**
 * Exporter names for a signal. Unset means `otlp` only when an OTLP endpoint is set: the specification's
 * unconditional `otlp` default would make `af --otel` alone connect to a collector nobody configured.
 */
function exportersFromEnv(env: Env, signal: 'traces' | 'metrics'): string[] {
  const names = (signal === 'traces' ? env.OTEL_TRACES_EXPORTER : env.OTEL_METRICS_EXPORTER)
    ?.split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  if (!names || names.length === 0) {
    const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || (signal === 'traces' ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT : env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT);
    return endpoint ? ['otlp'] : [];
  }
  return names.includes('none') ? [] : [...new Set(names)];
}

interface ResolvedEnableOptions {
  isEnabled: boolean;
  env: Env;
  serviceName: string | undefined;
  prometheus: { port: number; host: string | undefined } | undefined;
  spanProcessors: SpanProcessor[] | undefined;
  metricReaders: IMetricReader[];
  logger: Logger;
}

function resolveEnableOptions(options: EnableTelemetryOptions): ResolvedEnableOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('enableTelemetry: options must be an object');
  if (options.enabled !== undefined && typeof options.enabled !== 'boolean') throw new TypeError('enableTelemetry: option "enabled" must be a boolean');
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) throw new TypeError('enableTelemetry: option "env" must be an object');
  if (options.serviceName !== undefined && (typeof options.serviceName !== 'string' || options.serviceName === '')) {
    throw new TypeError('enableTelemetry: option "serviceName" must be a non-empty string');
  }
  const port = options.prometheus?.port;
  if (options.prometheus !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) {
    throw new TypeError(`enableTelemetry: option "prometheus.port" must be an integer from 0 to 65535, got ${String(port)}`);
  }
  if (options.spanProcessors !== undefined && !Array.isArray(options.spanProcessors)) throw new TypeError('enableTelemetry: option "spanProcessors" must be an array');
  if (options.metricReaders !== undefined && !Array.isArray(options.metricReaders)) throw new TypeError('enableTelemetry: option "metricReaders" must be an array');
  const env = options.env ?? process.env;
  return {
    isEnabled: !isTelemetryDisabled(env) && (options.enabled ?? telemetryRequested(env)),
    env,
    serviceName: options.serviceName ?? (env.OTEL_SERVICE_NAME ? undefined : SCOPE_NAME),
    prometheus: options.prometheus ? { port: options.prometheus.port, host: options.prometheus.host } : undefined,
    spanProcessors: options.spanProcessors,
    metricReaders: options.metricReaders ?? [],
    logger: options.logger ?? silentLogger,
  };
}

let active: Promise<TelemetrySdk | undefined> | undefined;

/**
 * Starts the OpenTelemetry SDK when enabled (see {@link EnableTelemetryOptions.enabled}) and registers its
 * providers globally; every `Telemetry` object picks them up on its next call. Call it before `createFactory`
 * when you can. The SDK packages are imported here and nowhere else, so a process that never enables
 * telemetry never loads them.
 *
 * Metrics: a Prometheus pull reader always, plus readers for OTEL_METRICS_EXPORTER (`otlp`, `console`,
 * `prometheus`). Traces: only when span processors are given or OTEL_TRACES_EXPORTER / an OTLP endpoint asks,
 * through `NodeSDK` (which also installs the AsyncLocalStorage context manager and the propagators).
 *
 * Calling it again while running returns the same SDK (the first call's options win; shut it down to change
 * them). If the host application already registered its own global providers, nothing is started, the result
 * is `undefined`, and `Telemetry` reports to the application's SDK.
 * @returns the running SDK, or `undefined` when telemetry stays off.
 * @example
 * const sdk = await enableTelemetry({ enabled: true });
 * http.createServer((req, res) => (req.url === '/metrics' ? sdk?.handleMetricsRequest(req, res) : res.end()));
 */
export async function enableTelemetry(options: EnableTelemetryOptions = {}): Promise<TelemetrySdk | undefined> {
  const resolved = resolveEnableOptions(options);
  if (!resolved.isEnabled) return undefined;
  active ??= start(resolved).catch((error: unknown) => {
    active = undefined;
    throw error;
  });
  return active;
}

async function start(options: ResolvedEnableOptions): Promise<TelemetrySdk | undefined> {
  if (isGlobalTracingLive() || isGlobalMetricsLive()) return undefined;
  const [{ PrometheusExporter, PrometheusSerializer }, sdkMetrics, resources] = await Promise.all([
    import('@opentelemetry/exporter-prometheus'),
    import('@opentelemetry/sdk-metrics'),
    import('@opentelemetry/resources'),
  ]);

  // No processDetector: it adds the command line to target_info, and `af run --input '…'` can carry secrets.
  let resource: Resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.envDetector, resources.hostDetector] }))
    .merge(resources.resourceFromAttributes({ 'process.pid': process.pid, 'process.runtime.name': 'nodejs', 'process.runtime.version': process.versions.node }));
  if (options.serviceName !== undefined) resource = resource.merge(resources.resourceFromAttributes({ 'service.name': options.serviceName }));
  // The host detector answers asynchronously; settled here (a few ms, once), every span and metric carries the same
  // attributes from the first one on, instead of an exporter reading them back while they are still pending.
  await resource.waitForAsyncAttributes?.();

  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const serializer = new PrometheusSerializer();
  const scrape = async (): Promise<string> => serializer.serialize((await prometheus.collect()).resourceMetrics);

  const readers: IMetricReader[] = [prometheus, ...options.metricReaders];
  let serve = options.prometheus;
  for (const name of exportersFromEnv(options.env, 'metrics')) {
    if (name === 'prometheus') {
      serve ??= { port: Number(options.env.OTEL_EXPORTER_PROMETHEUS_PORT) || 9464, host: options.env.OTEL_EXPORTER_PROMETHEUS_HOST || 'localhost' };
    } else if (name === 'console') {
      readers.push(new sdkMetrics.PeriodicExportingMetricReader({ exporter: new sdkMetrics.ConsoleMetricExporter() }));
    } else if (name === 'otlp') {
      // NodeSDK's own helpers, so protocol, endpoint, headers, interval and temporality follow OTEL_* exactly as it does.
      const utils = await import('@opentelemetry/sdk-node/build/src/utils.js');
      readers.push(utils.getPeriodicExportingMetricReaderFromEnv(utils.getOtlpMetricExporterFromEnv()));
    } else {
      options.logger.warn(`OTEL_METRICS_EXPORTER: "${name}" is not supported (use otlp, prometheus, console or none); ignored`);
    }
  }
  const meterProvider = new sdkMetrics.MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);

  let nodeSdk: NodeSDK | undefined;
  const traceExporters = exportersFromEnv(options.env, 'traces');
  if (options.spanProcessors !== undefined || traceExporters.length > 0) {
    // sdk-node loads every exporter it knows (about 0.2 s), so it is imported only when spans have somewhere to go.
    const { NodeSDK } = await import('@opentelemetry/sdk-node');
    nodeSdk = new NodeSDK({
      resource,
      autoDetectResources: false,
      // Metrics are ours (above); an empty list keeps NodeSDK from registering a second meter provider.
      metricReaders: [],
      // Agent Factory emits no OpenTelemetry logs; this keeps NodeSDK from building an OTLP log exporter.
      logRecordProcessors: [],
      ...(options.spanProcessors !== undefined ? { spanProcessors: options.spanProcessors } : {}),
    });
    nodeSdk.start();
  }

  let server: MetricsServer | undefined;
  try {
    if (serve) server = await startMetricsServer({ scrape, port: serve.port, ...(serve.host !== undefined ? { host: serve.host } : {}) });
  } catch (error) {
    await stop(meterProvider, nodeSdk, undefined);
    throw error;
  }
  bumpSdkGeneration();

  let stopping: Promise<void> | undefined;
  return {
    prometheus,
    meterProvider,
    isTracing: isGlobalTracingLive(),
    metricsUrl: server?.url,
    handleMetricsRequest: (request, response) => prometheus.getMetricsRequestHandler(request, response),
    scrape,
    shutdown() {
      stopping ??= stop(meterProvider, nodeSdk, server).finally(() => {
        active = undefined;
        bumpSdkGeneration();
      });
      return stopping;
    },
  };
}

async function stop(meterProvider: MeterProvider, nodeSdk: NodeSDK | undefined, server: MetricsServer | undefined): Promise<void> {
  await server?.close();
  await Promise.allSettled([meterProvider.shutdown(), nodeSdk?.shutdown()]);
  metrics.disable();
  if (nodeSdk) {
    trace.disable();
    context.disable();
    propagation.disable();
    // NodeSDK registered an (empty) logger provider; api-logs is its dependency, resolved from it rather than declared here.
    const requireFromSdk = createRequire(createRequire(import.meta.url).resolve('@opentelemetry/sdk-node'));
    (requireFromSdk('@opentelemetry/api-logs') as { logs: { disable(): void } }).logs.disable();
  }
}
