// The baseline limit recommenders: exact values of their rules, decay and weighted quantiles, censoring bumps.
import { describe, expect, it } from 'vitest';
import { AutopilotRecommender, decayWeights, StaticRecommender, VpaRecommender, weightedQuantile } from '../../learner/baselines.js';
import type { LimitRecommender, Observation, RecommendContext } from '../../learner/recommender.js';

const HOUR = 3_600_000;
const NOW = 100 * HOUR;

function obs(value: number, at = NOW - HOUR, censored = false): Observation {
  return { at, value, censored, features: [] };
}

const memory = (currentLimit = 64): RecommendContext => ({ resource: 'memoryMb', currentLimit, now: NOW });

describe('decayWeights', () => {
  it('halves per half-life and gives the present weight 1', () => {
    expect(decayWeights([0, 10, 20], 20, 10)).toEqual([0.25, 0.5, 1]);
  });

  it('gives samples after now weight 0', () => {
    expect(decayWeights([5, 30], 20, 10)).toEqual([2 ** -1.5, 0]);
  });

  it('weighs every past sample 1 with an infinite half-life', () => {
    expect(decayWeights([0, 1e9], 1e9, Infinity)).toEqual([1, 1]);
  });

  it('refuses a half-life that is not positive', () => {
    expect(() => decayWeights([0], 0, 0)).toThrow(/halfLifeMs must be > 0/);
  });
});

describe('weightedQuantile', () => {
  it('is the nearest-rank percentile with equal weights', () => {
    expect(weightedQuantile([4, 1, 3, 2], [1, 1, 1, 1], 0.5)).toBe(2);
    expect(weightedQuantile([4, 1, 3, 2], [1, 1, 1, 1], 0.9)).toBe(4);
    expect(weightedQuantile([4, 1, 3, 2], [1, 1, 1, 1], 0.75)).toBe(3);
  });

  it('moves toward heavy values', () => {
    // Cumulative weights 1, 2, 10 of 10: p50 needs 5, reached only at value 30.
    expect(weightedQuantile([10, 20, 30], [1, 1, 8], 0.5)).toBe(30);
    expect(weightedQuantile([10, 20, 30], [8, 1, 1], 0.5)).toBe(10);
  });

  it('gives the smallest and largest weighted value at q = 0 and 1, ignoring weight 0', () => {
    expect(weightedQuantile([5, 1, 9], [1, 0, 1], 0)).toBe(5);
    expect(weightedQuantile([5, 1, 9, 100], [1, 0, 1, 0], 1)).toBe(9);
  });

  it('does not miss a rank by floating-point rounding', () => {
    expect(weightedQuantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], new Array(10).fill(0.1), 0.3)).toBe(3);
  });

  it('is NaN without positive weight, and refuses bad arguments', () => {
    expect(weightedQuantile([], [], 0.5)).toBeNaN();
    expect(weightedQuantile([1], [0], 0.5)).toBeNaN();
    expect(() => weightedQuantile([1, 2], [1], 0.5)).toThrow(/2 values but 1 weights/);
    expect(() => weightedQuantile([1], [1], 1.5)).toThrow(/q must be in \[0, 1\]/);
  });
});

describe('StaticRecommender', () => {
  it('keeps the limit in force whatever the history', () => {
    expect(new StaticRecommender().recommend([obs(5), obs(500, NOW - HOUR, true)], memory(64))).toBe(64);
  });
});

describe('VpaRecommender', () => {
  it('is the p90 of the samples × 1.15, rounded up', () => {
    // Ten equal-weight samples 1..10 MB: p90 = 9, × 1.15 = 10.35 → 11 MB.
    const history = Array.from({ length: 10 }, (_, i) => obs(i + 1));
    expect(new VpaRecommender().recommend(history, memory())).toBe(11);
    expect(new VpaRecommender({ round: false }).recommend(history, memory())).toBeCloseTo(10.35, 10);
  });

  it('weighs recent samples more: an old spike fades after a few half-lives', () => {
    const history = [obs(100, NOW - 96 * HOUR), ...Array.from({ length: 9 }, () => obs(10))];
    // The spike weighs 2^-4 = 1/16 against 9: below the top 10 % of the weight, so p90 = 10 → 11.5 → 12.
    expect(new VpaRecommender().recommend(history, memory())).toBe(12);
    // With a week-long half-life it still weighs 0.67 of 9.67 (6.9 %) — still under 10 %.
    expect(new VpaRecommender({ halfLifeMs: 168 * HOUR }).recommend(history, memory())).toBe(12);
    // With equal weights (p99) it is the target.
    expect(new VpaRecommender({ halfLifeMs: Infinity, quantile: 0.99 }).recommend(history, memory())).toBe(115);
  });

  it('bumps past a limit runs broke: a recent censored sample sets a floor of limit × 1.2', () => {
    const history = [...Array.from({ length: 20 }, () => obs(10)), obs(32, NOW - 2 * HOUR, true)];
    expect(new VpaRecommender().recommend(history, memory(32))).toBe(Math.ceil(32 * 1.2));
  });

  it('lets an old censored sample go once it leaves the bump window', () => {
    const history = [...Array.from({ length: 20 }, () => obs(10)), obs(32, NOW - 48 * HOUR, true)];
    expect(new VpaRecommender().recommend(history, memory(32))).toBe(12);
  });

  it('applies the same rule to time, rounded to 10 ms', () => {
    const history = Array.from({ length: 10 }, (_, i) => obs((i + 1) * 100));
    expect(new VpaRecommender().recommend(history, { resource: 'timeoutMs', currentLimit: 5000, now: NOW })).toBe(1040);
  });

  it('keeps the limit in force without history, and ignores samples after now', () => {
    expect(new VpaRecommender().recommend([], memory(48))).toBe(48);
    expect(new VpaRecommender().recommend([obs(500, NOW + 1)], memory(48))).toBe(48);
  });

  it('refuses bad options, naming the class and the option', () => {
    expect(() => new VpaRecommender({ quantile: 2 })).toThrow('VpaRecommender: option "quantile" must be in [0, 1], got 2');
    expect(() => new VpaRecommender({ halfLifeMs: 0 })).toThrow('VpaRecommender: option "halfLifeMs" must be a positive number, got 0');
    expect(() => new VpaRecommender({ bumpRatio: 0.5 })).toThrow('VpaRecommender: option "bumpRatio" must be in [1, 10], got 0.5');
  });
});

describe('AutopilotRecommender', () => {
  it('is the window max × 1.15', () => {
    const history = [obs(10), obs(20), obs(40)];
    expect(new AutopilotRecommender().recommend(history, memory())).toBe(46);
  });

  it('forgets peaks older than its window', () => {
    const history = [obs(400, NOW - 25 * HOUR), obs(10), obs(20)];
    expect(new AutopilotRecommender().recommend(history, memory())).toBe(23);
    expect(new AutopilotRecommender({ windowMs: 48 * HOUR }).recommend(history, memory())).toBe(460);
  });

  it('takes a decayed quantile when asked (p98 of 100 equal samples 1..100 is 98)', () => {
    const history = Array.from({ length: 100 }, (_, i) => obs(i + 1));
    const recommender = new AutopilotRecommender({ statistic: 0.98, margin: 0.1, round: false });
    expect(recommender.name).toBe('autopilot-p98');
    expect(recommender.recommend(history, memory())).toBeCloseTo(107.8, 10);
  });

  it('pushes past a censored sample in the window to at least limit × 1.2', () => {
    expect(new AutopilotRecommender().recommend([obs(10), obs(24, NOW - HOUR, true)], memory(24))).toBe(29);
  });

  it('keeps the limit in force when its window is empty', () => {
    expect(new AutopilotRecommender().recommend([obs(10, NOW - 30 * HOUR)], memory(64))).toBe(64);
  });

  it('refuses a statistic that is neither max nor a quantile', () => {
    expect(() => new AutopilotRecommender({ statistic: 98 })).toThrow(/option "statistic" must be 'max' or a quantile/);
  });
});

// The contract every recommender meets (also the learner's, in its own suite): positive, and blind to the future.
describe.each<[string, () => LimitRecommender]>([
  ['static', () => new StaticRecommender()],
  ['vpa', () => new VpaRecommender()],
  ['autopilot', () => new AutopilotRecommender()],
  ['autopilot-p98', () => new AutopilotRecommender({ statistic: 0.98 })],
])('LimitRecommender contract: %s', (_name, make) => {
  it('returns a positive limit and the same one whatever comes after now', () => {
    const past = Array.from({ length: 30 }, (_, i) => obs(5 + (i % 7), NOW - (i + 1) * HOUR));
    const future = [obs(1000, NOW + HOUR), obs(2000, NOW + 2 * HOUR, true)];
    const limit = make().recommend(past, memory(32));
    expect(limit).toBeGreaterThan(0);
    expect(make().recommend([...past, ...future], memory(32))).toBe(limit);
  });
});
