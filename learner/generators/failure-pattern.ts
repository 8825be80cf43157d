/** @module learner/generators/failure-pattern — finds inputs that reliably fail (e.g. arrays longer than k) and proposes an input-schema constraint, backed by a failure classifier. */
import type { RunRecord } from '../../core/run-record.js';
import { FEATURE_NAMES, featuresOf } from '../features.js';
import { tf } from '../tf.js';
import { type Candidate, ranRecords, round, type TemplateHistory } from './context.js';
import { setAt } from './patch-helpers.js';

/** Codes that mean the agent itself failed on its input. */
const FAILURES = new Set(['E_AGENT_THREW', 'E_TIMEOUT', 'E_MEMORY_LIMIT', 'E_CPU_LIMIT', 'E_OUTPUT_LIMIT', 'E_OUTPUT_INVALID']);
/** Runs above the threshold that must fail, and below it that may fail, for a region to count as reliable. */
const FAIL_ABOVE = 0.9;
const FAIL_BELOW = 0.05;
const MIN_ABOVE = 20;
const MIN_RUNS = 100;

const isFailure = (record: RunRecord) => record.outcome === 'error' && FAILURES.has(record.errorCode ?? '');

export function failurePattern(history: TemplateHistory): Candidate[] {
  const runs = ranRecords(history.records).filter((record) => record.digest === history.template.digest);
  if (runs.length < MIN_RUNS || !runs.some(isFailure)) return [];
  const inputSchema = history.template.manifest.input;
  if (typeof inputSchema !== 'object') return [];
  const properties = (inputSchema.properties ?? {}) as Record<string, { type?: string }>;
  const candidates: Candidate[] = [];
  const keys = new Set(runs.flatMap((record) => Object.keys(record.inputShape?.lengths ?? {})));
  for (const key of keys) {
    const type = properties[key]?.type;
    if (type !== 'array' && type !== 'string') continue;
    const points = runs.filter((record) => record.inputShape?.lengths?.[key] !== undefined).map((record) => ({ length: record.inputShape?.lengths?.[key] as number, failed: isFailure(record) }));
    const region = reliableFailureRegion(points);
    if (!region) continue;
    const classifier = failureClassifier(runs);
    const keyword = type === 'array' ? 'maxItems' : 'maxLength';
    candidates.push({
      kind: 'failure-pattern',
      slot: `input.${key}.${keyword}`,
      template: history.template.name,
      tenant: '*',
      baseVersion: history.template.version,
      baseDigest: history.template.digest,
      patch: setAt(history.raw as unknown as Record<string, unknown>, ['input', 'properties', key, keyword], region.threshold),
      evidence: {
        property: key,
        threshold: region.threshold,
        above: { runs: region.aboveRuns, failureRate: round(region.aboveRate) },
        atOrBelow: { runs: region.belowRuns, failureRate: round(region.belowRate) },
        classifier,
        rule: `runs with ${key} longer than ${region.threshold} failed ${round(region.aboveRate * 100, 1)}% of the time (${region.aboveRuns} runs); at or below it ${round(region.belowRate * 100, 1)}%`,
      },
      expectedImpact: {
        summary: `reject inputs with ${key} longer than ${region.threshold} up front with E_INPUT_INVALID instead of failing in the sandbox (${region.aboveRuns} such runs)`,
        failuresAvoided: region.aboveFailures,
      },
      confidence: round(Math.min(0.95, region.aboveRate * (1 - region.belowRate) * Math.min(1, region.aboveRuns / 50))),
      evidenceKey: `failure-pattern:${key}:${Math.round(Math.log(region.threshold + 1) / Math.log(1.25))}`,
    });
  }
  return candidates;
}

interface Region {
  threshold: number;
  aboveRuns: number;
  aboveFailures: number;
  aboveRate: number;
  belowRuns: number;
  belowRate: number;
}

/**
 * The length above which runs reliably fail while at or below it they rarely do. Of the
 * thresholds that qualify, the one whose failing side is purest wins, then the one whose passing
 * side is purest, then the largest, so the constraint refuses as few workable inputs as possible.
 */
export function reliableFailureRegion(points: ReadonlyArray<{ length: number; failed: boolean }>): Region | undefined {
  const sorted = [...points].sort((a, b) => a.length - b.length);
  const totalFailures = sorted.filter((p) => p.failed).length;
  let belowFailures = 0;
  let best: Region | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const point = sorted[i] as { length: number; failed: boolean };
    if (point.failed) belowFailures++;
    const next = sorted[i + 1];
    if (next && next.length === point.length) continue;
    const belowRuns = i + 1;
    const aboveRuns = sorted.length - belowRuns;
    if (aboveRuns < MIN_ABOVE) break;
    const aboveFailures = totalFailures - belowFailures;
    const aboveRate = aboveFailures / aboveRuns;
    const belowRate = belowFailures / belowRuns;
    const isBetter = !best || aboveRate > best.aboveRate || (aboveRate === best.aboveRate && belowRate <= best.belowRate);
    if (aboveRate >= FAIL_ABOVE && belowRate <= FAIL_BELOW && isBetter) {
      best = { threshold: point.length, aboveRuns, aboveFailures, aboveRate, belowRuns, belowRate };
    }
  }
  return best;
}

/**
 * A logistic regression of failure on the input features, trained with TensorFlow.js: its
 * in-sample accuracy and the features it leans on most go into the evidence.
 */
function failureClassifier(runs: readonly RunRecord[]): { accuracy: number; baseRate: number; topFeatures: string[] } {
  const features = runs.map(featuresOf);
  const labels: number[] = runs.map((record) => (isFailure(record) ? 1 : 0));
  const width = features[0]?.length ?? 0;
  const mean = new Array<number>(width).fill(0).map((_, j) => features.reduce((sum, row) => sum + (row[j] ?? 0), 0) / features.length);
  const std = mean.map((m, j) => Math.sqrt(features.reduce((sum, row) => sum + ((row[j] ?? 0) - m) ** 2, 0) / features.length) || 1);
  return tf.tidy(() => {
    const x = tf.tensor2d(features.map((row) => row.map((v, j) => (v - (mean[j] ?? 0)) / (std[j] ?? 1))));
    const y = tf.tensor2d(labels, [labels.length, 1]);
    const w = tf.variable(tf.zeros([width, 1]));
    const b = tf.variable(tf.scalar(0));
    const optimizer = tf.train.adam(0.1);
    for (let step = 0; step < 100; step++) {
      optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(y, tf.add(tf.matMul(x, w), b)) as tf.Scalar);
    }
    const predicted = tf.sigmoid(tf.add(tf.matMul(x, w), b)).dataSync();
    const accuracy = labels.reduce((sum, label, i) => sum + (((predicted[i] ?? 0) >= 0.5 ? 1 : 0) === label ? 1 : 0), 0) / labels.length;
    const weights = Array.from(w.dataSync());
    const topFeatures = weights
      .map((weight, j) => ({ name: FEATURE_NAMES[j] ?? `f${j}`, weight }))
      .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
      .slice(0, 3)
      .map((f) => `${f.name} (${round(f.weight, 2)})`);
    optimizer.dispose();
    w.dispose();
    b.dispose();
    return { accuracy: round(accuracy), baseRate: round(labels.reduce((a, v) => a + v, 0) / labels.length), topFeatures };
  });
}
