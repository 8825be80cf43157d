/** @module learner/conditional-recommender — limits that follow the input: a censored log–log quantile fit of need on the input measure, proposed as a `limits.byInput` rule. */
import { VpaRecommender } from './baselines.js';
import { fitPowerLaw, type PowerLawFit } from './power-law-fit.js';
import { flatRule, type LimitRule, type Observation, type RecommendContext, type RuleRecommender } from './recommender.js';

export interface ConditionalRecommenderOptions {
  /** Quantile of the need fitted per input measure. @default 0.95 */
  quantile?: number;
  /** Headroom multiplied onto the fitted line. @default 0.1 */
  margin?: number;
  /** Past observations the fit uses. @default 7 days */
  lookbackMs?: number;
  /** Fewer observations than this and the rule is flat, at the VPA rule's limit. @default 40 */
  minSamples?: number;
  /** Samples fitted at most (the newest). @default 4000 */
  maxSamples?: number;
}

/** Censored runs in the last day above this share: the limit in force is known to be too low. */
const BUMP_SHARE = 0.005;
const BUMP_RATIO = 1.2;
const DAY_MS = 86_400_000;

/**
 * Per run, the limit is min(max, base × x^exponent) for input measure x: base and exponent from {@link fitPowerLaw}
 * at `quantile` on the look-back window, times 1 + `margin`. `max` is the limit in force (a rule only lowers limits for
 * inputs that need less), raised × 1.2 when recent runs keep hitting it, as the VPA rule raises a limit after OOMs.
 * With too few observations the rule is flat at the VPA rule's limit, and `lastFit` is undefined.
 */
export class ConditionalRecommender implements RuleRecommender {
  readonly name = 'conditional';
  readonly #quantile: number;
  readonly #margin: number;
  readonly #lookbackMs: number;
  readonly #minSamples: number;
  readonly #maxSamples: number;
  readonly #fallback = new VpaRecommender();
  /** The fit behind the last rule (undefined when it fell back to the VPA rule), for evidence. */
  lastFit: PowerLawFit | undefined;

  constructor(options: ConditionalRecommenderOptions = {}) {
    this.#quantile = options.quantile ?? 0.95;
    this.#margin = options.margin ?? 0.1;
    this.#lookbackMs = options.lookbackMs ?? 7 * DAY_MS;
    this.#minSamples = options.minSamples ?? 40;
    this.#maxSamples = options.maxSamples ?? 4000;
    if (!(this.#quantile > 0 && this.#quantile < 1)) throw new TypeError('ConditionalRecommender: option "quantile" must be in (0, 1)');
    if (!(this.#margin >= 0)) throw new TypeError('ConditionalRecommender: option "margin" must be ≥ 0');
  }

  recommendRule(history: readonly Observation[], context: RecommendContext): LimitRule {
    const past = history.filter((o) => o.at < context.now && o.at >= context.now - this.#lookbackMs).slice(-this.#maxSamples);
    if (past.length < this.#minSamples) {
      this.lastFit = undefined;
      return flatRule(this.#fallback.recommend(history, context));
    }
    const fit = fitPowerLaw(past, { quantile: this.#quantile });
    this.lastFit = fit;
    const recent = past.filter((o) => o.at >= context.now - DAY_MS);
    const knownTooLow = recent.some((o) => o.censored && o.value >= context.currentLimit) && recent.filter((o) => o.censored).length / recent.length > BUMP_SHARE;
    const max = knownTooLow ? context.currentLimit * BUMP_RATIO : context.currentLimit;
    return { base: Math.min(max, Math.exp(fit.a) * (1 + this.#margin)), exponent: fit.b, max };
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    return this.recommendRule(history, context).max;
  }
}

export function createConditionalRecommender(options: ConditionalRecommenderOptions = {}): ConditionalRecommender {
  return new ConditionalRecommender(options);
}
