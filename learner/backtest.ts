/** @module learner/backtest — a short walk-forward backtest of one template's history: how much slack and how many limit hits a recommender would have had. */
import type { LimitRecommender, Observation, Resource } from './recommender.js';

export interface BacktestScore {
  /** Mean over windows of (limit − p95 peak) / limit. */
  slack: number;
  /** Share of next-window runs whose need exceeded the recommended limit (censored runs above it count as hits). */
  hitRate: number;
  windows: number;
}

/**
 * Splits the observations into `windows + 1` consecutive slices by time; at the start of each
 * slice after the first, the recommender sees only what came before and is scored on the slice.
 */
export function backtest(recommender: LimitRecommender, observations: readonly Observation[], resource: Resource, currentLimit: number, windows = 2): BacktestScore {
  const sorted = [...observations].sort((a, b) => a.at - b.at);
  const size = Math.floor(sorted.length / (windows + 1));
  if (size < 10) return { slack: Number.NaN, hitRate: Number.NaN, windows: 0 };
  let slackSum = 0;
  let hits = 0;
  let scored = 0;
  for (let w = 1; w <= windows; w++) {
    const past = sorted.slice(0, w * size);
    const next = sorted.slice(w * size, (w + 1) * size);
    const now = (next[0] as Observation).at;
    const limit = recommender.recommend(past, { resource, currentLimit, now });
    const peaks = next.filter((o) => !o.censored).map((o) => o.value).sort((a, b) => a - b);
    const p95 = peaks.length > 0 ? (peaks[Math.min(peaks.length - 1, Math.ceil(0.95 * peaks.length) - 1)] as number) : limit;
    slackSum += Math.max(0, (limit - p95) / limit);
    hits += next.filter((o) => o.value > limit || (o.censored && o.value >= limit)).length;
    scored += next.length;
  }
  return { slack: slackSum / windows, hitRate: hits / scored, windows };
}
