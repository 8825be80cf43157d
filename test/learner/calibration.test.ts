// The walk-forward backtest's scores and the calibration to a hit-rate budget, on observations with known answers.
import { describe, expect, it } from 'vitest';
import { backtest, poolScores, scoreLimits, walkForward } from '../../learner/backtest.js';
import { VpaRecommender } from '../../learner/baselines.js';
import { calibrate, calibratedRule, calibrateWindows, scaleForBudget, scaleRule } from '../../learner/calibration.js';
import { type LimitRecommender, type LimitRule, limitFor, type Observation, type RecommendContext, type RuleRecommender } from '../../learner/recommender.js';
import { seeded } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 0, 6);

function obs(at: number, value: number, size = 1, censored = false): Observation {
  return { at, value, censored, features: [], size };
}

/** A flat recommender that always says `limit` and records what it was shown. */
function fixed(limit: number): LimitRecommender & { calls: Array<{ now: number; latest: number }> } {
  const calls: Array<{ now: number; latest: number }> = [];
  return {
    name: `fixed-${limit}`,
    calls,
    recommend(history: readonly Observation[], context: RecommendContext) {
      calls.push({ now: context.now, latest: Math.max(...history.map((o) => o.at)) });
      return limit;
    },
  };
}

describe('scoreLimits', () => {
  it('scores capacity slack, per-run slack and hits over uncensored runs, and censored runs apart', () => {
    const score = scoreLimits([
      { value: 5, censored: false, limit: 10 },
      { value: 12, censored: false, limit: 10 },
      { value: 10, censored: false, limit: 10 },
      { value: 8, censored: true, limit: 10 },
      { value: 10, censored: true, limit: 10 },
    ]);
    expect(score).toEqual({
      runs: 5,
      uncensored: 3,
      hits: 1,
      hitRate: 1 / 3,
      capacitySlack: 1 - 27 / 30,
      perRunSlack: 0.5 / 3,
      underuse: 0.5,
      used: 27,
      reserved: 30,
      censored: 2,
      censoredHits: 1,
      censoredUnknown: 1,
    });
  });

  it('pools sums, not means of rates', () => {
    const a = scoreLimits([{ value: 1, censored: false, limit: 10 }]);
    const b = scoreLimits([
      { value: 10, censored: false, limit: 10 },
      { value: 20, censored: false, limit: 10 },
      { value: 10, censored: false, limit: 10 },
    ]);
    const pooled = poolScores([a, b]);
    expect(pooled.capacitySlack).toBeCloseTo(1 - 41 / 40, 12);
    expect(pooled.hitRate).toBe(1 / 4);
    expect(pooled.perRunSlack).toBeCloseTo(0.9 / 4, 12);
  });
});

describe('walkForward', () => {
  it('recommends once per window from the runs before its start', () => {
    const observations = Array.from({ length: 30 }, (_, i) => obs(T0 + i * HOUR, 5));
    const recommender = fixed(10);
    const windows = walkForward(recommender, observations, { resource: 'cpuMs', currentLimit: 100, boundaries: [T0 + 10 * HOUR, T0 + 20 * HOUR] });
    expect(windows.map((w) => [w.start, w.runs.length])).toEqual([
      [T0 + 10 * HOUR, 10],
      [T0 + 20 * HOUR, 10],
    ]);
    expect(recommender.calls).toEqual([
      { now: T0 + 10 * HOUR, latest: T0 + 9 * HOUR },
      { now: T0 + 20 * HOUR, latest: T0 + 19 * HOUR },
    ]);
  });

  it('gives a rule recommender per-run limits that follow the input measure', () => {
    const rule: LimitRule = { base: 2, exponent: 0.5, max: 50 };
    const ruled: RuleRecommender = { name: 'rule', recommend: () => rule.max, recommendRule: () => rule };
    const observations = [obs(T0, 1, 4), obs(T0 + HOUR, 1, 100), obs(T0 + 2 * HOUR, 1, 10_000)];
    const [window] = walkForward(ruled, observations, { resource: 'cpuMs', currentLimit: 100, boundaries: [T0 + HOUR] });
    expect(window?.base).toEqual([20, 50]);
    expect(limitFor(scaleRule(rule, 3), 100)).toBeCloseTo(3 * limitFor(rule, 100), 12);
  });
});

describe('calibrate', () => {
  // Needs spread over 1..100 with a flat limit of 50: hits at scale s are the needs over 50·s.
  const random = seeded(3);
  const observations = Array.from({ length: 400 }, (_, i) => obs(T0 + i * 60_000, 1 + Math.floor(random() * 100)));

  for (const budget of [0, 0.005, 0.01, 0.02, 0.1]) {
    it(`finds the smallest scale meeting a ${budget * 100} % budget`, () => {
      const recommender = fixed(50);
      const result = calibrate(recommender, observations, { resource: 'cpuMs', currentLimit: 50, budget, windows: 3 });
      expect(recommender.calls).toHaveLength(3);
      expect(result.score.hitRate).toBeLessThanOrEqual(budget);
      // Any smaller scale breaks the budget: the scale is the least that meets it.
      const below = calibrateWindows(result.windows, budget);
      expect(below.scale).toBe(result.scale);
      const score = scoreAt(result.windows, result.scale * (1 - 1e-9));
      expect(score.hitRate).toBeGreaterThan(budget);
    });
  }

  it('leaves censored runs out of the budget and reports them apart', () => {
    const withKills = observations.map((o, i) => (i % 50 === 49 ? { ...o, value: 50, censored: true } : o));
    const result = calibrate(fixed(50), withKills, { resource: 'cpuMs', currentLimit: 50, budget: 0.01, windows: 3 });
    expect(result.score.censored).toBe(6);
    expect(result.score.censoredHits + result.score.censoredUnknown).toBe(6);
    expect(result.score.hits).toBeLessThanOrEqual(Math.floor(0.01 * result.score.uncensored));
  });

  it('proposes the recommender\'s current limit or rule at the calibrated scale', () => {
    expect(calibratedRule(fixed(50), observations, { resource: 'cpuMs', currentLimit: 50, now: T0 + DAY }, 1.5)).toEqual({ base: 75, exponent: 0, max: 75 });
    const rule: LimitRule = { base: 2, exponent: 0.5, max: 50 };
    const ruled: RuleRecommender = { name: 'rule', recommend: () => rule.max, recommendRule: () => rule };
    expect(calibratedRule(ruled, observations, { resource: 'cpuMs', currentLimit: 50, now: T0 + DAY }, 2)).toEqual({ base: 4, exponent: 0.5, max: 100 });
  });

  it('is 1 with nothing uncensored to calibrate on, and refuses a budget outside [0, 1)', () => {
    expect(scaleForBudget([], 0.01)).toBe(1);
    expect(() => calibrate(fixed(10), observations, { resource: 'cpuMs', currentLimit: 10, budget: 1 })).toThrow(/option "budget" must be a hit rate in \[0, 1\)/);
  });
});

describe('backtest', () => {
  it('scores as the evaluation does: its slack is the capacity slack at scale 1', () => {
    const observations = Array.from({ length: 300 }, (_, i) => obs(T0 + i * 60_000, 10));
    const score = backtest(fixed(40), observations, 'cpuMs', 100);
    expect(score).toMatchObject({ windows: 2, hitRate: 0, uncensored: 200, slack: 0.75, capacitySlack: 0.75, perRunSlack: 0.75 });
  });

  it('has no windows on a short history', () => {
    const score = backtest(new VpaRecommender(), [obs(T0, 1), obs(T0 + 1, 2)], 'cpuMs', 100);
    expect(score.windows).toBe(0);
    expect(score.slack).toBeNaN();
  });
});

function scoreAt(windows: Parameters<typeof calibrateWindows>[0], scale: number) {
  return scoreLimits(windows.flatMap((w) => w.runs.map((o, i) => ({ value: o.value, censored: o.censored, limit: scale * (w.base[i] as number) }))));
}
