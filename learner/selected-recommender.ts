/** @module learner/selected-recommender — what right-sizing does per template: calibrate every candidate method to one hit-rate budget on the template's own past and propose the one that reserves least. */
import { BY_INPUT_RESOURCES } from '../core/agent-spec.js';
import type { LimitScore } from './backtest.js';
import { AutopilotRecommender, VpaRecommender } from './baselines.js';
import { calibrate, scaleRule } from './calibration.js';
import { ConditionalRecommender } from './conditional-recommender.js';
import { flatRule, isRuleRecommender, LIMIT_FLOOR, type LimitRecommender, type LimitRule, type Observation, type RecommendContext, type RuleRecommender } from './recommender.js';

export interface SelectionOptions {
  /** Uncensored limit-hit rate each candidate is calibrated to on the backtest. @default 0.01 */
  budget?: number;
  /** Walk-forward windows of the backtest (equal counts of runs). @default 3 */
  windows?: number;
  /** The methods compared, in order of preference on a tie. @default VPA rule, Autopilot's moving window, the conditional rule */
  candidates?: readonly LimitRecommender[];
}

/** One candidate's result: its scale at the budget, its backtest there, and the rule it proposes now. */
export interface CandidateResult {
  name: string;
  /** Limits × scale meet the budget on the backtest. */
  scale: number;
  score: LimitScore;
  /** What it proposes now, already scaled (a flat limit is a rule with exponent 0). */
  rule: LimitRule;
}

/** Candidates whose backtest had fewer uncensored runs than this are not compared: one window of a few runs proves nothing. */
const MIN_SCORED = 30;
/** Runs stopped at a limit this recently set a floor (VPA's memory aggregation interval), at their limit × 1.2 (its `OOMBumpUpRatio`). */
const BUMP_WINDOW_MS = 86_400_000;
const BUMP_RATIO = 1.2;

/**
 * Right-sizing's choice among methods, made per template and resource the way a fair comparison is made: each
 * candidate's limits are scaled on a walk-forward backtest until its uncensored hit rate meets the budget
 * (learner/calibration.ts), and the one with the least capacity slack at that budget is proposed, scaled the same way.
 * So the conditional rule (or the learner's model) is proposed exactly where it reserves less than the VPA and Autopilot
 * rules at the same hit rate, and `last` says by how much. With too little history to backtest, the VPA rule's limit.
 */
export class SelectedRecommender implements RuleRecommender {
  readonly name = 'selected-at-budget';
  readonly budget: number;
  readonly #windows: number;
  readonly candidates: readonly LimitRecommender[];
  /** Every candidate's result at the last call (those that could be backtested), and the one chosen. */
  last: { chosen: string; results: CandidateResult[] } | undefined;

  constructor(options: SelectionOptions = {}) {
    this.budget = options.budget ?? 0.01;
    this.#windows = options.windows ?? 3;
    this.candidates = options.candidates ?? defaultCandidates();
  }

  recommendRule(history: readonly Observation[], context: RecommendContext): LimitRule {
    const past = history.filter((o) => o.at < context.now);
    const results: CandidateResult[] = [];
    for (const candidate of this.candidates) {
      // A rule can set only the limits a byInput rule covers; the heap limit belongs to a shared isolate.
      if (isRuleRecommender(candidate) && !(BY_INPUT_RESOURCES as readonly string[]).includes(context.resource)) continue;
      const { scale, score, windows } = calibrate(candidate, past, { resource: context.resource, currentLimit: context.currentLimit, budget: this.budget, windows: this.#windows });
      if (windows.length === 0 || score.uncensored < MIN_SCORED || !Number.isFinite(score.capacitySlack)) continue;
      const now = isRuleRecommender(candidate) ? candidate.recommendRule(past, context) : flatRule(candidate.recommend(past, context));
      results.push({ name: candidate.name, scale, score, rule: scaleRule(now, scale) });
    }
    let best: CandidateResult | undefined;
    for (const result of results) if (!best || result.score.capacitySlack < best.score.capacitySlack - 1e-9) best = result;
    this.last = { chosen: best?.name ?? 'vpa', results };
    const rule = best?.rule ?? flatRule(new VpaRecommender().recommend(past, context));
    return atLeastFloor(aboveRecentLimitHits(rule, past, context.now), LIMIT_FLOOR[context.resource]);
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    return this.recommendRule(history, context).max;
  }
}

/**
 * The budget counts only runs whose need was measured, so a run stopped at its limit does not move the calibration. It
 * moves this floor instead: every run stopped in the last day gets at least 1.2 × the figure it was stopped at (the limit
 * it broke), as the VPA rule raises a limit after an OOM — a limit that runs are known to break is never proposed.
 */
function aboveRecentLimitHits(rule: LimitRule, past: readonly Observation[], now: number): LimitRule {
  let { base, max } = rule;
  for (const o of past) {
    if (!o.censored || o.at < now - BUMP_WINDOW_MS) continue;
    const need = o.value * BUMP_RATIO;
    max = Math.max(max, need);
    if (base * Math.max(1, o.size) ** rule.exponent < need) base = need / Math.max(1, o.size) ** rule.exponent;
  }
  return { ...rule, base: Math.min(base, max), max };
}

/**
 * No limit under the resource's floor (`LIMIT_FLOOR`: 20 ms of CPU, 50 ms of wall time, 8 MB), for any input: a rule
 * fitted on tiny inputs would otherwise give them a limit of a few ms, below what a run's own start costs.
 */
function atLeastFloor(rule: LimitRule, floor: number): LimitRule {
  return { ...rule, min: Math.max(rule.min ?? 0, floor), max: Math.max(rule.max, floor) };
}

/** VPA's rule, Autopilot's moving-window peak, and the conditional rule (for resources a rule can set). */
export function defaultCandidates(options: { conditional?: boolean } = {}): LimitRecommender[] {
  const candidates: LimitRecommender[] = [new VpaRecommender({ round: false }), new AutopilotRecommender({ round: false })];
  if (options.conditional ?? true) candidates.push(new ConditionalRecommender());
  return candidates;
}

export function createSelectedRecommender(options: SelectionOptions = {}): SelectedRecommender {
  return new SelectedRecommender(options);
}
