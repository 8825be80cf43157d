/** @module learner/calibration — puts limit recommenders on an equal footing: scales each one's limits until its walk-forward backtest meets a hit-rate budget, so they can be compared by the slack they leave at that budget. */
import { type BacktestWindow, type LimitScore, type WalkForwardOptions, scoreWindows, walkForward } from './backtest.js';
import { flatRule, isRuleRecommender, type LimitRecommender, type LimitRule, type Observation, type RecommendContext } from './recommender.js';

export interface CalibrateOptions extends WalkForwardOptions {
  /** The uncensored hit rate allowed on the backtest, in [0, 1): 0.01 for 1 %. */
  budget: number;
}

export interface Calibration {
  /**
   * The smallest s such that limits × s (for a rule: base and max × s) keep the backtest's uncensored hit rate ≤ budget.
   * 1 when the backtest has no uncensored run (nothing to calibrate on).
   */
  scale: number;
  /** The backtest at `scale`, pooled over windows. */
  score: LimitScore;
  perWindow: Array<{ start: number; rule: LimitRule; score: LimitScore }>;
  /** The backtest's windows (rules at scale 1 and the runs they governed), to score other scales without recommending again. */
  windows: BacktestWindow[];
}

/**
 * Calibrates a recommender to a hit-rate budget on a walk-forward backtest of `observations` ({@link walkForward}: one
 * recommendation per window, then rescaled, never re-fitted per scale). A limit scaled by s stays the same method: the
 * scale moves it along its own slack/hit-rate curve, so methods compared at one budget are compared at one hit rate.
 *
 * The scale is exact, not searched: run i (uncensored, need u_i, limit L_i at scale 1) is a hit at scale s iff
 * s < u_i / L_i, so with k = ⌊budget × n⌋ the answer is the (k+1)-th largest ratio u_i / L_i — at most k ratios exceed it.
 * Censored runs do not enter the budget (their need is unknown); they are reported apart in the score.
 * @example const { scale, score } = calibrate(new VpaRecommender(), observations, { resource: 'cpuMs', currentLimit: 500, budget: 0.01, windows: 4 });
 */
export function calibrate(recommender: LimitRecommender, observations: readonly Observation[], options: CalibrateOptions): Calibration {
  checkBudget(options.budget);
  const windows = walkForward(recommender, observations, options);
  return calibrateWindows(windows, options.budget);
}

/** {@link calibrate} on an existing backtest: the scale meeting `budget` on these windows and the scores there. */
export function calibrateWindows(windows: BacktestWindow[], budget: number): Calibration {
  checkBudget(budget);
  const scale = scaleForBudget(windows, budget);
  const { score, perWindow } = scoreWindows(windows, scale);
  return { scale, score, perWindow, windows };
}

/** The smallest scale at which at most ⌊budget × n⌋ of the windows' n uncensored runs exceed their scaled limit (1 with none). */
export function scaleForBudget(windows: readonly BacktestWindow[], budget: number): number {
  checkBudget(budget);
  const ratios: number[] = [];
  for (const w of windows) {
    for (let i = 0; i < w.runs.length; i++) {
      const o = w.runs[i] as Observation;
      if (!o.censored) ratios.push(o.value / (w.base[i] as number));
    }
  }
  if (ratios.length === 0) return 1;
  ratios.sort((a, b) => b - a);
  // Floating point: 0.01 × 300 is 3.0000000000000004; the budget means "3 hits allowed", not 3.
  const allowed = Math.floor(budget * ratios.length + 1e-9);
  if (allowed >= ratios.length) return Number.MIN_VALUE;
  const scale = ratios[allowed] as number;
  // A need of 0 (a run that used nothing) asks for no limit at all; keep the scale positive so limits stay positive.
  return scale > 0 ? scale : Number.MIN_VALUE;
}

/** Applies a calibrated scale to a rule: base, min and max scale, the exponent stays. */
export function scaleRule(rule: LimitRule, scale: number): LimitRule {
  return { base: rule.base * scale, exponent: rule.exponent, ...(rule.min !== undefined ? { min: rule.min * scale } : {}), max: rule.max * scale };
}

/**
 * What a calibrated recommender proposes now: its rule (a flat limit as a rule) from `history`, scaled by `scale`.
 * @example const rule = calibratedRule(vpa, observations, { resource: 'cpuMs', currentLimit: 500, now }, calibrate(vpa, observations, options).scale);
 */
export function calibratedRule(recommender: LimitRecommender, history: readonly Observation[], context: RecommendContext, scale: number): LimitRule {
  const rule = isRuleRecommender(recommender) ? recommender.recommendRule(history, context) : flatRule(recommender.recommend(history, context));
  return scaleRule(rule, scale);
}

function checkBudget(budget: number): void {
  if (!(budget >= 0 && budget < 1)) throw new TypeError(`calibrate: option "budget" must be a hit rate in [0, 1), got ${budget}`);
}
