/** @module learner/generators/right-sizing — limits from a backtested choice between the learner's quantile model and the VPA rule; also raises limits that runs keep hitting. */
import type { BacktestScore } from '../backtest.js';
import { observationsOf } from '../features.js';
import type { LearnedRecommender } from '../learned-recommender.js';
import { SelectedRecommender } from '../selected-recommender.js';
import { RESOURCES, type Resource } from '../recommender.js';
import { type Candidate, quantileOf, round, type TemplateHistory } from './context.js';
import { setAt } from './patch-helpers.js';

/** Fewer observations than this and no limit is proposed. */
export const MIN_RUNS = 100;
/** A change smaller than this share of the current limit is not worth a new version. */
const MIN_CHANGE = 0.15;
/** A limit-hit rate above this in the recent runs asks for a raise. */
const HIT_RATE_ALARM = 0.01;

export interface RightSizingOptions {
  /** Called with each trained model's owner, so the caller can save models. */
  onModel?(resource: Resource, recommender: LearnedRecommender): void;
}

export function rightSizing(history: TemplateHistory, options: RightSizingOptions = {}): Candidate[] {
  const candidates: Candidate[] = [];
  for (const resource of RESOURCES) {
    const observations = observationsOf(history.records, resource, history.limitsOf);
    if (observations.length < MIN_RUNS) continue;
    const current = history.template.manifest.limits[resource];
    const context = { resource, currentLimit: current, now: history.now };
    const selected = new SelectedRecommender({ keepModel: true });
    const proposed = selected.recommend(observations, context);
    options.onModel?.(resource, selected.learner);
    const learner = selected.learner;
    const learned = selected.lastLearned as number;
    const baseline = selected.lastBaseline as number;
    const { learner: learnerScore, vpa: vpaScore } = selected.lastScores as { learner: BacktestScore; vpa: BacktestScore };

    const recent = observations.slice(-Math.max(200, Math.floor(observations.length / 4)));
    const recentHits = recent.filter((o) => o.censored).length / recent.length;
    const isRaise = proposed > current;
    const change = Math.abs(proposed - current) / current;
    if (change < MIN_CHANGE && !(recentHits > HIT_RATE_ALARM && isRaise)) continue;

    const peaks = observations.filter((o) => !o.censored).map((o) => o.value).sort((a, b) => a - b);
    const p95 = quantileOf(peaks, 0.95);
    const method = selected.lastChoice;
    const chosenScore: BacktestScore = method === 'learner' ? learnerScore : vpaScore;
    candidates.push({
      kind: 'right-sizing',
      slot: `limits.${resource}`,
      template: history.template.name,
      tenant: '*',
      baseVersion: history.template.version,
      baseDigest: history.template.digest,
      patch: setAt(history.raw as unknown as Record<string, unknown>, ['limits', resource], proposed),
      evidence: {
        resource,
        runs: observations.length,
        limitHits: observations.filter((o) => o.censored).length,
        recentHitRate: round(recentHits, 4),
        peaks: { p50: round(quantileOf(peaks, 0.5)), p95: round(p95), p99: round(quantileOf(peaks, 0.99)), max: round(peaks[peaks.length - 1] ?? 0) },
        currentLimit: current,
        model: { recommendation: learned, coveredPrediction: learner.lastPrediction === undefined ? null : round(learner.lastPrediction), method: learner.lastMethod, quantile: 0.95, coverage: 0.95, margin: 0.05 },
        baseline: { rule: 'VPA: p90 of decayed peaks × 1.15, limit hits × 1.2', recommendation: baseline },
        backtest: { learner: roundScore(learnerScore), vpa: roundScore(vpaScore) },
        method,
        ...(method === 'vpa-rule' ? { why: 'the learner did not beat the VPA rule on slack at an equal or lower hit rate for this template, so the rule is used here' } : {}),
      },
      expectedImpact: {
        summary: `${resource} ${current} → ${proposed}: ${isRaise ? 'fewer limit hits' : `slack ${round((current - p95) / current, 2)} → ${round(Math.max(0, (proposed - p95) / proposed), 2)}`} (backtest hit rate ${round(chosenScore.hitRate * 100, 2)}%)`,
        slackBefore: round(Math.max(0, (current - p95) / current)),
        slackAfter: round(Math.max(0, (proposed - p95) / proposed)),
        backtestHitRate: round(chosenScore.hitRate, 4),
      },
      confidence: round(Math.min(0.95, 0.5 + 0.45 * Math.min(1, observations.length / 2000)) * (Number.isFinite(chosenScore.hitRate) ? 1 - Math.min(0.5, chosenScore.hitRate * 10) : 0.6)),
      // Proposed again only when the value moves by more than one 15% step.
      evidenceKey: `right-sizing:${resource}:${Math.round(Math.log(proposed) / Math.log(1.15))}`,
    });
  }
  return candidates;
}

function roundScore(score: BacktestScore) {
  return { slack: round(score.slack), hitRate: round(score.hitRate, 4), windows: score.windows };
}
