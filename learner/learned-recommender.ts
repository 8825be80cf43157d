/** @module learner/learned-recommender — the learner's limit recommender: a censoring-aware quantile model over input features, with the VPA rule as its fallback. */
import { VpaRecommender } from './baselines.js';
import { QuantileModel } from './quantile-model.js';
import { type LimitRecommender, type Observation, type RecommendContext, roundLimit } from './recommender.js';

export interface LearnedRecommenderOptions {
  /** Quantile the model predicts per input. @default 0.98 */
  quantile?: number;
  /** Headroom added to the highest prediction over the recent inputs. @default 0.1 */
  margin?: number;
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
 * count as lower bounds), predict the `quantile` need of every recent input, and take the highest
 * plus `margin`. A template that keeps hitting its limit gets at least the limit in force × 1.2.
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
  /** The model's raw highest prediction behind the last recommendation, for evidence. */
  lastPrediction: number | undefined;

  constructor(options: LearnedRecommenderOptions = {}) {
    this.#options = {
      quantile: options.quantile ?? 0.98,
      margin: options.margin ?? 0.1,
      lookbackMs: options.lookbackMs ?? 7 * 86_400_000,
      recentMs: options.recentMs ?? 86_400_000,
      minSamples: options.minSamples ?? 40,
      steps: options.steps ?? 80,
    };
    this.#keepModel = options.keepModel ?? false;
    if (!(this.#options.quantile > 0 && this.#options.quantile < 1)) throw new TypeError('LearnedRecommender: option "quantile" must be in (0, 1)');
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    const { lookbackMs, recentMs, minSamples, quantile, margin, steps } = this.#options;
    const past = history.filter((o) => o.at < context.now && o.at >= context.now - lookbackMs);
    const recent = past.filter((o) => o.at >= context.now - recentMs);
    if (past.length < minSamples || recent.length === 0) {
      this.lastMethod = 'vpa-fallback';
      this.lastPrediction = undefined;
      return this.#fallback.recommend(history, context);
    }
    const model = QuantileModel.train(past, { quantile, steps });
    try {
      const predictions = model.predict(recent.map((o) => o.features));
      const highest = Math.max(...predictions);
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
