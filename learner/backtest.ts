/** @module learner/backtest — walk-forward backtest of a limit recommender on one template's history, scored as the benchmark's evaluation scores it: capacity slack, per-run slack and the uncensored hit rate, censored runs apart. */
import { flatRule, isRuleRecommender, type LimitRecommender, type LimitRule, limitFor, type Observation, type Resource } from './recommender.js';

/**
 * How a set of limits did on the runs they governed. Slack and the hit rate are over UNCENSORED runs only: a run
 * stopped at the limit then in force has an unknown need (at least that limit), so it is neither used capacity nor a
 * hit any method can be shown to fix; such runs are counted apart (`censored`, `censoredHits`, `censoredUnknown`).
 */
export interface LimitScore {
  /** Runs scored, censored or not. */
  runs: number;
  /** Runs whose need was measured. */
  uncensored: number;
  /** Uncensored runs whose need was over their limit. */
  hits: number;
  /** hits / uncensored (NaN without uncensored runs): the figure a budget constrains. */
  hitRate: number;
  /** 1 − Σ used / Σ limit over uncensored runs: the share of reserved capacity left unused (NaN without uncensored runs). */
  capacitySlack: number;
  /** Mean over uncensored runs of (limit − used)⁺ / limit (NaN without uncensored runs). */
  perRunSlack: number;
  /** Σ (limit − used)⁺ / limit over uncensored runs: the under-use term of Autopilot's cost `c_over·hits + underuse`. */
  underuse: number;
  /** Σ used and Σ limit over uncensored runs (what `capacitySlack` is made of; sums pool across windows and templates). */
  used: number;
  reserved: number;
  /** Runs recorded as stopped at a limit (censored). */
  censored: number;
  /** Censored runs whose limit here is at or under the one they broke: known hits. */
  censoredHits: number;
  /** Censored runs whose limit here is above the one they broke: whether they would have fitted is unknown. */
  censoredUnknown: number;
}

/** One run and the limit it would have had. */
export interface LimitedRun {
  value: number;
  censored: boolean;
  limit: number;
}

/**
 * Scores limits on runs (see {@link LimitScore}). A peak equal to its limit is not a hit.
 * @example scoreLimits([{ value: 5, censored: false, limit: 10 }, { value: 12, censored: false, limit: 10 }]) // hits 1, capacitySlack 1 − 17/20
 */
export function scoreLimits(runs: Iterable<LimitedRun>): LimitScore {
  const sum = emptySums();
  for (const run of runs) addRun(sum, run.value, run.censored, run.limit);
  return finish(sum);
}

/** Adds scores made of the same sums (windows, templates): the pooled score, not a mean of rates. */
export function poolScores(scores: Iterable<LimitScore>): LimitScore {
  const sum = emptySums();
  let perRunSum = 0;
  for (const s of scores) {
    sum.runs += s.runs;
    sum.uncensored += s.uncensored;
    sum.hits += s.hits;
    sum.used += s.used;
    sum.reserved += s.reserved;
    sum.underuse += s.underuse;
    sum.censored += s.censored;
    sum.censoredHits += s.censoredHits;
    sum.censoredUnknown += s.censoredUnknown;
    if (s.uncensored > 0) perRunSum += s.perRunSlack * s.uncensored;
  }
  const score = finish(sum);
  score.perRunSlack = sum.uncensored > 0 ? perRunSum / sum.uncensored : Number.NaN;
  return score;
}

interface Sums {
  runs: number;
  uncensored: number;
  hits: number;
  used: number;
  reserved: number;
  underuse: number;
  censored: number;
  censoredHits: number;
  censoredUnknown: number;
}

function emptySums(): Sums {
  return { runs: 0, uncensored: 0, hits: 0, used: 0, reserved: 0, underuse: 0, censored: 0, censoredHits: 0, censoredUnknown: 0 };
}

function addRun(sum: Sums, value: number, censored: boolean, limit: number): void {
  sum.runs++;
  if (censored) {
    sum.censored++;
    if (value >= limit) sum.censoredHits++;
    else sum.censoredUnknown++;
    return;
  }
  sum.uncensored++;
  if (value > limit) sum.hits++;
  sum.used += value;
  sum.reserved += limit;
  sum.underuse += Math.max(0, limit - value) / limit;
}

function finish(sum: Sums): LimitScore {
  const n = sum.uncensored;
  return {
    runs: sum.runs,
    uncensored: n,
    hits: sum.hits,
    hitRate: n > 0 ? sum.hits / n : Number.NaN,
    capacitySlack: n > 0 ? 1 - sum.used / sum.reserved : Number.NaN,
    perRunSlack: n > 0 ? sum.underuse / n : Number.NaN,
    underuse: sum.underuse,
    used: sum.used,
    reserved: sum.reserved,
    censored: sum.censored,
    censoredHits: sum.censoredHits,
    censoredUnknown: sum.censoredUnknown,
  };
}

/**
 * One window of a walk-forward backtest: the rule recommended at `start` from the runs before it, and the runs it
 * governs, [start, end). `base[i]` is run i's limit at scale 1 (`limitFor(rule, size)`), so a scale s gives `s × base[i]`
 * without asking the recommender again.
 */
export interface BacktestWindow {
  start: number;
  end: number;
  rule: LimitRule;
  runs: readonly Observation[];
  base: readonly number[];
}

export interface WalkForwardOptions {
  resource: Resource;
  /** The limit in force, handed to the recommender. */
  currentLimit: number;
  /**
   * Window starts, epoch ms, ascending: at each the recommender sees the runs before it and is scored on the runs up to
   * the next start (the last window runs to the end of the observations). Without it, `windows` equal-count slices.
   */
  boundaries?: readonly number[];
  /** Without `boundaries`: the observations are cut into `windows + 1` slices of equal count and the first is history only. @default 2 */
  windows?: number;
  /** With `windows`: fewer runs per slice than this and there is no backtest (no windows). @default 10 */
  minRunsPerWindow?: number;
}

/**
 * Walk-forward: at each window start the recommender gets only the observations before it (`now` = the start) and its
 * limit — a rule for a {@link RuleRecommender}, else a flat limit — is applied to the window's runs. One recommendation
 * per window, whatever scales are scored afterwards.
 */
export function walkForward(recommender: LimitRecommender, observations: readonly Observation[], options: WalkForwardOptions): BacktestWindow[] {
  const sorted = [...observations].sort((a, b) => a.at - b.at);
  const cuts: Array<[number, number, number]> = [];
  if (options.boundaries) {
    const bounds = options.boundaries;
    for (let i = 0; i < bounds.length; i++) {
      const start = bounds[i] as number;
      const end = i + 1 < bounds.length ? (bounds[i + 1] as number) : Number.POSITIVE_INFINITY;
      if (!(end > start)) throw new TypeError(`walkForward: option "boundaries" must be ascending, got ${start} then ${end}`);
      cuts.push([start, firstAtOrAfter(sorted, start), firstAtOrAfter(sorted, end)]);
    }
  } else {
    const windows = options.windows ?? 2;
    if (!(Number.isInteger(windows) && windows >= 1)) throw new TypeError(`walkForward: option "windows" must be a positive integer, got ${windows}`);
    const size = Math.floor(sorted.length / (windows + 1));
    if (size < (options.minRunsPerWindow ?? 10)) return [];
    for (let w = 1; w <= windows; w++) {
      // The last slice takes the remainder, so no run is left unscored.
      const to = w === windows ? sorted.length : (w + 1) * size;
      cuts.push([(sorted[w * size] as Observation).at, w * size, to]);
    }
  }
  const result: BacktestWindow[] = [];
  for (let i = 0; i < cuts.length; i++) {
    const [start, from, to] = cuts[i] as [number, number, number];
    const runs = sorted.slice(from, to);
    const past = sorted.slice(0, from).filter((o) => o.at < start);
    if (runs.length === 0 || past.length === 0) continue;
    const context = { resource: options.resource, currentLimit: options.currentLimit, now: start };
    const history = Object.freeze(past);
    const rule = isRuleRecommender(recommender) ? recommender.recommendRule(history, context) : flatRule(recommender.recommend(history, context));
    if (!(rule.base > 0 && rule.max > 0 && Number.isFinite(rule.exponent))) {
      throw new TypeError(`walkForward: recommender "${recommender.name}" gave ${JSON.stringify(rule)} for ${options.resource}; limits must be positive`);
    }
    const end = i + 1 < cuts.length ? (cuts[i + 1] as [number, number, number])[0] : Number.POSITIVE_INFINITY;
    result.push({ start, end, rule, runs, base: runs.map((o) => limitFor(rule, o.size)) });
  }
  return result;
}

/** The windows' runs with their limits at `scale` (`scale × limitFor(rule, size)`). */
export function limitedRuns(windows: readonly BacktestWindow[], scale = 1): LimitedRun[] {
  return windows.flatMap((w) => w.runs.map((o, i) => ({ value: o.value, censored: o.censored, limit: scale * (w.base[i] as number) })));
}

/** Scores of a backtest at one scale: pooled and per window. */
export function scoreWindows(windows: readonly BacktestWindow[], scale = 1): { score: LimitScore; perWindow: Array<{ start: number; rule: LimitRule; score: LimitScore }> } {
  const perWindow = windows.map((w) => ({ start: w.start, rule: w.rule, score: scoreLimits(limitedRuns([w], scale)) }));
  return { score: poolScores(perWindow.map((w) => w.score)), perWindow };
}

/** The walk-forward backtest's score, kept for callers of the earlier API (`slack` is now the capacity slack). */
export interface BacktestScore extends LimitScore {
  /** Same as `capacitySlack`. */
  slack: number;
  windows: number;
}

/**
 * A walk-forward backtest with `windows` equal-count windows (see {@link walkForward}) at scale 1, scored by
 * {@link scoreLimits}. NaN scores and `windows: 0` when the history is too short (fewer than 10 runs per slice).
 */
export function backtest(recommender: LimitRecommender, observations: readonly Observation[], resource: Resource, currentLimit: number, windows = 2): BacktestScore {
  const ws = walkForward(recommender, observations, { resource, currentLimit, windows });
  const { score } = scoreWindows(ws);
  return { ...score, slack: score.capacitySlack, windows: ws.length };
}

function firstAtOrAfter(sorted: readonly Observation[], at: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as Observation).at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
