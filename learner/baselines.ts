/** @module learner/baselines — the limit recommenders the learner is measured against: the hand-set limit, a VPA-style and an Autopilot-style rule. */
import { type LimitRecommender, type Observation, type RecommendContext, roundLimit } from './recommender.js';

const HOUR_MS = 3_600_000;

/**
 * Exponential decay weights: a sample `halfLifeMs` older than `now` counts half as much as one taken at `now`.
 * Samples after `now` weigh 0 (they do not exist yet at `now`); `halfLifeMs = Infinity` weighs every past sample 1.
 * This is the weighting of the VPA recommender's decaying histograms (`pkg/recommender/util/decaying_histogram.go`).
 * @param ats sample times, epoch ms
 * @param now the time the weights are taken at, epoch ms
 * @param halfLifeMs time for a weight to halve, > 0
 * @returns one weight in (0, 1] per past sample (samples younger than `now` are not boosted above 1)
 * @example decayWeights([0, 10, 20], 20, 10) // [0.25, 0.5, 1]
 */
export function decayWeights(ats: readonly number[], now: number, halfLifeMs: number): number[] {
  if (!(halfLifeMs > 0)) throw new TypeError(`decayWeights: halfLifeMs must be > 0, got ${halfLifeMs}`);
  return ats.map((at) => (at > now ? 0 : 2 ** (-(now - at) / halfLifeMs)));
}

/**
 * Weighted quantile, nearest-rank: the smallest value whose cumulative weight (values sorted ascending)
 * reaches `q` × the total weight. With equal weights it is the nearest-rank percentile the benchmarks use;
 * it always returns one of `values`, as VPA's histogram returns a bucket rather than interpolating.
 * Values with weight 0 are ignored.
 * @param q in [0, 1]; 0 gives the smallest weighted value, 1 the largest
 * @returns NaN when there is no positive weight
 * @example weightedQuantile([1, 2, 3, 4], [1, 1, 1, 1], 0.5) // 2
 */
export function weightedQuantile(values: readonly number[], weights: readonly number[], q: number): number {
  if (values.length !== weights.length) throw new TypeError(`weightedQuantile: ${values.length} values but ${weights.length} weights`);
  if (!(q >= 0 && q <= 1)) throw new TypeError(`weightedQuantile: q must be in [0, 1], got ${q}`);
  const pairs: Array<[number, number]> = [];
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const weight = weights[i] as number;
    if (!(weight > 0)) continue;
    pairs.push([values[i] as number, weight]);
    total += weight;
  }
  if (pairs.length === 0) return Number.NaN;
  pairs.sort((a, b) => a[0] - b[0]);
  const target = q * total;
  let cumulative = 0;
  for (const [value, weight] of pairs) {
    cumulative += weight;
    // A relative epsilon keeps q = 0.5 over four weights of 0.1 from missing its rank by a rounding error.
    if (cumulative >= target * (1 - 1e-12)) return value;
  }
  return (pairs[pairs.length - 1] as [number, number])[0];
}

/** Observations at or before `now`: a defensive cut, so a harness mistake cannot leak the future into a baseline. */
function pastOf(history: readonly Observation[], now: number, since = -Infinity): Observation[] {
  return history.filter((o) => o.at <= now && o.at >= since);
}

function positive(owner: string, name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!(resolved > 0)) throw new TypeError(`${owner}: option "${name}" must be a positive number, got ${String(value)}`);
  return resolved;
}

function ratio(owner: string, name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!(resolved >= min && resolved <= max)) throw new TypeError(`${owner}: option "${name}" must be in [${min}, ${max}], got ${String(value)}`);
  return resolved;
}

/**
 * The limit written in the template, unchanged: what hand-set limits achieve, the baseline Autopilot
 * compares against ("manually specified limits", EuroSys 2020, §6).
 */
export class StaticRecommender implements LimitRecommender {
  readonly name = 'static';

  recommend(_history: readonly Observation[], context: RecommendContext): number {
    return context.currentLimit;
  }
}

export interface VpaRecommenderOptions {
  /** Half-life of sample weights, ms of `at` time (VPA: `--memory-histogram-decay-half-life` / `--cpu-histogram-decay-half-life`). @default 24 h */
  halfLifeMs?: number;
  /** Quantile of the decayed peaks taken as the target (VPA's target recommendation uses p90). @default 0.9 */
  quantile?: number;
  /** Safety margin multiplied onto the quantile (VPA: `--recommendation-margin-fraction` 0.15). @default 0.15 */
  margin?: number;
  /** A censored sample (the run hit the limit in force) counts as that limit × this ratio (VPA: `OOMBumpUpRatio`). @default 1.2 */
  bumpRatio?: number;
  /** Censored samples younger than this force the target to at least their limit × `bumpRatio` (VPA's memory aggregation interval). @default 24 h */
  bumpWindowMs?: number;
  /** Round up to a value worth writing in a manifest (see `roundLimit`). @default true */
  round?: boolean;
}

/**
 * The Kubernetes Vertical Pod Autoscaler recommender's rule (`pkg/recommender/logic/recommender.go`,
 * `estimator.go`), applied per template to per-run peaks:
 *
 * - every observation is a sample in a histogram whose weights decay exponentially with age
 *   (half-life `halfLifeMs`, 24 h by default as in VPA);
 * - target = weighted quantile `quantile` (p90) of the samples × (1 + `margin`) (0.15);
 * - a censored sample (for memory: an OOM kill) enters the histogram as `limit in force × bumpRatio` (1.2),
 *   as VPA's `RecordOOM` does, and any censored sample inside `bumpWindowMs` also sets a floor of
 *   `limit in force × bumpRatio`, so the target moves past a limit that runs are known to break.
 *
 * Differences from VPA, on purpose: VPA aggregates one peak per container per 24 h interval; here each run is
 * a sample (runs are short and independent). VPA recommends memory and CPU *requests*; applying the same
 * rule to `timeoutMs` (wall time) and to a CPU-time *limit* is our extension. VPA's minimum-bump of 100 MB
 * after an OOM is left out because agent heaps are tens of MB.
 */
export class VpaRecommender implements LimitRecommender {
  readonly name: string = 'vpa';
  readonly #halfLifeMs: number;
  readonly #quantile: number;
  readonly #margin: number;
  readonly #bumpRatio: number;
  readonly #bumpWindowMs: number;
  readonly #round: boolean;

  constructor(options: VpaRecommenderOptions = {}) {
    this.#halfLifeMs = positive('VpaRecommender', 'halfLifeMs', options.halfLifeMs, 24 * HOUR_MS);
    this.#quantile = ratio('VpaRecommender', 'quantile', options.quantile, 0.9, 0, 1);
    this.#margin = ratio('VpaRecommender', 'margin', options.margin, 0.15, 0, 10);
    this.#bumpRatio = ratio('VpaRecommender', 'bumpRatio', options.bumpRatio, 1.2, 1, 10);
    this.#bumpWindowMs = positive('VpaRecommender', 'bumpWindowMs', options.bumpWindowMs, 24 * HOUR_MS);
    this.#round = options.round ?? true;
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    const past = pastOf(history, context.now);
    if (past.length === 0) return context.currentLimit;
    const values = past.map((o) => (o.censored ? o.value * this.#bumpRatio : o.value));
    const weights = decayWeights(
      past.map((o) => o.at),
      context.now,
      this.#halfLifeMs,
    );
    let target = weightedQuantile(values, weights, this.#quantile) * (1 + this.#margin);
    for (const o of past) if (o.censored && o.at >= context.now - this.#bumpWindowMs) target = Math.max(target, o.value * this.#bumpRatio);
    return this.#round ? roundLimit(context.resource, target) : target;
  }
}

export interface AutopilotRecommenderOptions {
  /** Only observations this young are considered: Autopilot's moving window. @default 24 h */
  windowMs?: number;
  /** Half-life of sample weights inside the window. @default 12 h */
  halfLifeMs?: number;
  /** `max` (Autopilot's choice for memory, where an OOM is costly) or a quantile such as 0.98 (its choice for CPU). @default 'max' */
  statistic?: 'max' | number;
  /** Safety margin on top of the statistic (Autopilot adds 10–15 %). @default 0.15 */
  margin?: number;
  /** A censored sample in the window sets a floor of its limit × this ratio. @default 1.2 */
  bumpRatio?: number;
  /** Round up to a value worth writing in a manifest (see `roundLimit`). @default true */
  round?: boolean;
}

/**
 * Google Autopilot's moving-window recommender (Rzadca et al., "Autopilot: workload autoscaling at Google",
 * EuroSys 2020, §3.2): over a sliding window of recent usage with exponentially decaying weights, the limit is
 * the peak (`statistic: 'max'`, its memory rule) or a high weighted percentile such as p98 (its CPU rule) plus a
 * safety margin of 10–15 %. A censored sample (the run hit the limit in force) pushes the limit to at least
 * `limit in force × bumpRatio`, as Autopilot raises limits after OOMs. With `'max'` the decay does not change
 * the value (any positive weight counts); it matters for quantiles. Applying it to `timeoutMs` is our extension.
 */
export class AutopilotRecommender implements LimitRecommender {
  readonly name: string = 'autopilot';
  readonly #windowMs: number;
  readonly #halfLifeMs: number;
  readonly #statistic: 'max' | number;
  readonly #margin: number;
  readonly #bumpRatio: number;
  readonly #round: boolean;

  constructor(options: AutopilotRecommenderOptions = {}) {
    this.#windowMs = positive('AutopilotRecommender', 'windowMs', options.windowMs, 24 * HOUR_MS);
    this.#halfLifeMs = positive('AutopilotRecommender', 'halfLifeMs', options.halfLifeMs, 12 * HOUR_MS);
    const statistic = options.statistic ?? 'max';
    if (statistic !== 'max' && !(statistic >= 0 && statistic <= 1)) {
      throw new TypeError(`AutopilotRecommender: option "statistic" must be 'max' or a quantile in [0, 1], got ${String(statistic)}`);
    }
    this.#statistic = statistic;
    this.#margin = ratio('AutopilotRecommender', 'margin', options.margin, 0.15, 0, 10);
    this.#bumpRatio = ratio('AutopilotRecommender', 'bumpRatio', options.bumpRatio, 1.2, 1, 10);
    this.#round = options.round ?? true;
    if (statistic !== 'max') this.name = `autopilot-p${Math.round(statistic * 100)}`;
  }

  recommend(history: readonly Observation[], context: RecommendContext): number {
    const recent = pastOf(history, context.now, context.now - this.#windowMs);
    if (recent.length === 0) return context.currentLimit;
    const values = recent.map((o) => o.value);
    let peak: number;
    if (this.#statistic === 'max') peak = values.reduce((a, b) => Math.max(a, b), -Infinity);
    else {
      const weights = decayWeights(
        recent.map((o) => o.at),
        context.now,
        this.#halfLifeMs,
      );
      peak = weightedQuantile(values, weights, this.#statistic);
    }
    let target = peak * (1 + this.#margin);
    for (const o of recent) if (o.censored) target = Math.max(target, o.value * this.#bumpRatio);
    return this.#round ? roundLimit(context.resource, target) : target;
  }
}
