/** @module learner/learned-recommender — the learner's limit recommender: a censoring-aware quantile model over input features, with the VPA rule as its fallback. */
import { VpaRecommender } from './baselines.js';
import { QuantileModel } from './quantile-model.js';
import { type LimitRecommender, type Observation, type RecommendContext, roundLimit } from './recommender.js';

export interface LearnedRecommenderOptions {
  /** Quantile the model predicts per input. @default 0.95 */
  quantile?: number;
  /** Headroom added to the covered prediction. @default 0.05 */
  margin?: number;
  /**
   * Share of the recent inputs whose predicted need the limit covers: 1 takes the highest
   * prediction, 0.95 the 95th percentile of the predictions. @default 0.95
   */
  coverage?: number;
  /** Past observations the model trains on. @default 7 days */
  lookbackMs?: number;
  /** The recent inputs whose predicted needs the limit must cover. @default 24 hours */
  recentMs?: number;
  /** Fewer observations than this and the VPA rule decides. @default 40 */
  minSamples?: number;
  /** Training steps per fit. @default 80 */
  steps?: number;
  /** Keep the last trained model (in `lastModel`) instead of disposing it; the caller disposes it. @default false */
  keepModel?: boolean;
}

/**
 * For each recommendation: fit the quantile model on the look-back window (censored limit hits
 * count as lower bounds), predict the `quantile` need of every recent input, cover `coverage` of
 * those predictions and add `margin`. A template that keeps hitting its limit gets at least the
 * limit in force × 1.2.
 * With too little data it answers with the VPA rule and says so through `lastMethod`.
 */
export class LearnedRecommender implements LimitRecommender {
  readonly name = 'learner';
  readonly #options: Required<Omit<LearnedRecommenderOptions, 'keepModel'>>;
  readonly #keepModel: boolean;
  /** The last trained model, when `keepModel` is set. */
  lastModel: QuantileModel | undefined;
  readonly #fallback = new VpaRecommender();
  /** How the last recommendation was made: 'model' or 'vpa-fallback'. */
  lastMethod: 'model' | 'vpa-fallback' = 'model';
  /** The covered prediction behind the last recommendation (before the margin), for evidence. */
  lastPrediction: number | undefined;

  constructor(options: LearnedRecommenderOptions = {}) {
    this.#options = {
      // Chosen on the walk-forward evaluation (benchmarks/learner.bench.mjs): q 0.98, max over inputs and +10%
      // left about twice Autopilot's slack; this setting sits on the same slack/hit-rate frontier as Autopilot.
      quantile: options.quantile ?? 0.95,
      margin: options.margin ?? 0.05,
      lookbackMs: options.lookbackMs ?? 7 * 86_400_000,
      recentMs: options.recentMs ?? 86_400_000,
      minSamples: options.minSamples ?? 40,
      steps: options.steps ?? 80,
      coverage: options.coverage ?? 0.95,
    };
    this.#keepModel = options.keepModel ?? false;
    if (!(this.#options.quantile > 0 && this.#options.quantile < 1)) throw new TypeError('LearnedRecommender: option "quantile" must be in (0, 1)');
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    const { lookbackMs, recentMs, minSamples, quantile, margin, steps, coverage } = this.#options;
    const past = history.filter((o) => o.at < context.now && o.at >= context.now - lookbackMs);
    const recent = past.filter((o) => o.at >= context.now - recentMs);
    if (past.length < minSamples || recent.length === 0) {
      this.lastMethod = 'vpa-fallback';
      this.lastPrediction = undefined;
      return this.#fallback.recommend(history, context);
    }
    const model = QuantileModel.train(past, { quantile, steps });
    try {
      const predictions = model.predict(recent.map((o) => o.features)).sort((a, b) => a - b);
      const highest = predictions[Math.min(predictions.length - 1, Math.max(0, Math.ceil(coverage * predictions.length) - 1))] as number;
      this.lastMethod = 'model';
      this.lastPrediction = highest;
      let limit = highest * (1 + margin);
      const hits = recent.filter((o) => o.censored).length;
      // Runs that keep hitting the limit: their need is above it, whatever the fit says.
      if (hits > 0 && hits / recent.length > 0.005) limit = Math.max(limit, context.currentLimit * 1.2);
      return roundLimit(context.resource, limit);
    } finally {
      if (this.#keepModel) {
        this.lastModel?.dispose();
        this.lastModel = model;
      } else {
        model.dispose();
      }
    }
  }
}

export function createLearnedRecommender(options: LearnedRecommenderOptions = {}): LearnedRecommender {
  return new LearnedRecommender(options);
}
