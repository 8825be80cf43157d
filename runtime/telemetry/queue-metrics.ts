/** @module runtime/telemetry/queue-metrics — a runner's instruments: queue depth, claim latency, outcomes of queued runs, lost leases and the reaper's work. */
import { metrics, type ObservableResult } from '@opentelemetry/api';
import { DURATION_BUCKETS_MS, INSTRUMENT, METRIC_LABEL, SCOPE_NAME } from './names.js';

/** How a queued run ended on this runner (runtime/runner's stats, as metric labels). */
export type QueuedRunOutcome = 'completed' | 'fenced' | 'conflict' | 'failed';

/** What a runner reports; every method is cheap (no I/O) except the depth, read only when scraped. */
export interface QueueMetrics {
  claimed(durationMs: number): void;
  finished(outcome: QueuedRunOutcome): void;
  leaseLost(): void;
  reaped(requeued: number, abandoned: number): void;
  /** Stops observing the depth. */
  close(): void;
}

export interface QueueMetricsOptions {
  /** The queue's depth, fleet-wide: read once per scrape (one query), never on a run's path. */
  depth?: () => Promise<{ queued: number; running: number }>;
}

/**
 * Instruments on the global meter provider, so `enableTelemetry` must run first for them to be exported (as
 * `af runner --metrics-port` does). Without an SDK they are no-ops.
 */
export function createQueueMetrics(options: QueueMetricsOptions = {}): QueueMetrics {
  const meter = metrics.getMeter(SCOPE_NAME);
  const claim = meter.createHistogram(INSTRUMENT.runQueueClaimDuration.name, { unit: INSTRUMENT.runQueueClaimDuration.unit, description: INSTRUMENT.runQueueClaimDuration.description, advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS } });
  const runs = meter.createCounter(INSTRUMENT.runQueueRuns.name, { unit: INSTRUMENT.runQueueRuns.unit, description: INSTRUMENT.runQueueRuns.description });
  const lost = meter.createCounter(INSTRUMENT.runQueueLeasesLost.name, { unit: INSTRUMENT.runQueueLeasesLost.unit, description: INSTRUMENT.runQueueLeasesLost.description });
  const reaped = meter.createCounter(INSTRUMENT.runQueueReaped.name, { unit: INSTRUMENT.runQueueReaped.unit, description: INSTRUMENT.runQueueReaped.description });
  const { depth } = options;
  const gauge = depth ? meter.createObservableGauge(INSTRUMENT.runQueueDepth.name, { unit: INSTRUMENT.runQueueDepth.unit, description: INSTRUMENT.runQueueDepth.description }) : undefined;
  const observe = async (result: ObservableResult): Promise<void> => {
    try {
      const now = await (depth as NonNullable<typeof depth>)();
      result.observe(now.queued, { [METRIC_LABEL.state]: 'queued' });
      result.observe(now.running, { [METRIC_LABEL.state]: 'running' });
    } catch {
      // The database is unreachable: no sample this scrape (an absent series, which an alert on "absent" can see).
    }
  };
  gauge?.addCallback(observe);
  return {
    claimed: (durationMs) => claim.record(durationMs),
    finished: (outcome) => runs.add(1, { outcome }),
    leaseLost: () => lost.add(1),
    reaped(requeued, abandoned) {
      if (requeued > 0) reaped.add(requeued, { [METRIC_LABEL.kind]: 'requeued' });
      if (abandoned > 0) reaped.add(abandoned, { [METRIC_LABEL.kind]: 'abandoned' });
    },
    close: () => gauge?.removeCallback(observe),
  };
}
