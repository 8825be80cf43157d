/** @module learner/generators/pre-warming — sizes `pool.prewarm` from how runs of a template arrive: peak arrival rate × run time (Little's law). */
import { type Candidate, quantileOf, ranRecords, round, type TemplateHistory } from './context.js';
import { setAt } from './patch-helpers.js';

const MIN_RUNS = 100;
const MAX_PREWARM = 16;

/**
 * Contexts busy at once ≈ arrival rate × time in the sandbox. The rate is the 95th percentile
 * of per-minute arrival rates (minutes with at least one run), the time the mean run time;
 * prewarm = ⌈concurrency × 1.2⌉, at least 1 and at most 16, so a burst finds contexts ready.
 */
export function preWarming(history: TemplateHistory): Candidate[] {
  const runs = ranRecords(history.records);
  if (runs.length < MIN_RUNS) return [];
  const perMinute = new Map<number, number>();
  for (const record of runs) {
    const minute = Math.floor(record.startedAt / 60_000);
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
  }
  const rates = [...perMinute.values()].map((count) => count / 60).sort((a, b) => a - b);
  const peakRate = quantileOf(rates, 0.95);
  const meanRunSeconds = runs.reduce((sum, record) => sum + record.runMs, 0) / runs.length / 1000;
  const concurrency = peakRate * meanRunSeconds;
  const prewarm = Math.min(MAX_PREWARM, Math.max(1, Math.ceil(concurrency * 1.2)));
  const current = history.template.manifest.pool.prewarm;
  if (prewarm === current) return [];
  return [
    {
      kind: 'pre-warming',
      slot: 'pool.prewarm',
      template: history.template.name,
      tenant: '*',
      baseVersion: history.template.version,
      baseDigest: history.template.digest,
      patch: setAt(history.raw as unknown as Record<string, unknown>, ['pool', 'prewarm'], prewarm),
      evidence: {
        runs: runs.length,
        minutesWithRuns: perMinute.size,
        peakRatePerSecond: round(peakRate),
        meanRunMs: round(meanRunSeconds * 1000),
        concurrency: round(concurrency),
        currentPrewarm: current,
        rule: 'prewarm = ceil(p95 per-minute arrival rate × mean run time × 1.2), from 1 to 16',
      },
      expectedImpact: {
        summary:
          prewarm > current
            ? `${contexts(prewarm)} ready instead of ${current}: bursts of about ${round(concurrency, 1)} concurrent runs find a context waiting`
            : `${contexts(prewarm)} instead of ${current}: less idle memory for a template that never needs ${current} at once`,
        prewarmBefore: current,
        prewarmAfter: prewarm,
      },
      confidence: round(Math.min(0.9, 0.4 + 0.5 * Math.min(1, perMinute.size / 120))),
      evidenceKey: `pre-warming:${prewarm}`,
    },
  ];
}

function contexts(count: number): string {
  return `${count} context${count === 1 ? '' : 's'}`;
}
