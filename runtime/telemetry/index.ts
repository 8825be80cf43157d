/** @module runtime/telemetry — spans and metrics of the factory through @opentelemetry/api, and the SDK (loaded only when enabled) with Prometheus exposition. */
export {
  createTelemetry,
  type CreateAttributes,
  type CreateResult,
  type CreateSpan,
  type PoolSample,
  type RunAttributes,
  type RunResultLike,
  type Telemetry,
  type TelemetryOptions,
} from './telemetry.js';
export { enableTelemetry, isTelemetryDisabled, telemetryRequested, type EnableTelemetryOptions, type TelemetrySdk } from './enable.js';
export { createQueueMetrics, type QueueMetrics, type QueueMetricsOptions, type QueuedRunOutcome } from './queue-metrics.js';
export { PROMETHEUS_CONTENT_TYPE, startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics-server.js';
export { DURATION_BUCKETS_MS, INSTRUMENT, METRIC_LABEL, prometheusSeriesNames, SCOPE_NAME, SPAN, SPAN_ATTRIBUTE, UNRESOLVED_TEMPLATE } from './names.js';
