// The censored log–log quantile fit behind input-conditional limits: it finds the exponent, covers its quantile, and
// treats runs that hit their limit as lower bounds.
import { describe, expect, it } from 'vitest';
import { ConditionalRecommender } from '../../learner/conditional-recommender.js';
import { fitPowerLaw, type SizedSample } from '../../learner/power-law-fit.js';
import { limitFor } from '../../learner/recommender.js';
import { seeded } from './helpers.js';

/** need = 0.05 · x^0.8 · e^(0.2·z), x log-uniform over [100, 1e6]. */
function powerLaw(count: number, seed: number): SizedSample[] {
  const random = seeded(seed);
  const samples: SizedSample[] = [];
  for (let i = 0; i < count; i++) {
    const size = 100 * 10_000 ** random();
    const z = Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
    samples.push({ size, value: 0.05 * size ** 0.8 * Math.exp(0.2 * z), censored: false });
  }
  return samples;
}

describe('fitPowerLaw', () => {
  it('recovers the exponent and covers the quantile it fits', () => {
    const samples = powerLaw(3000, 1);
    const fit = fitPowerLaw(samples, { quantile: 0.95 });
    expect(fit.b).toBeGreaterThan(0.77);
    expect(fit.b).toBeLessThan(0.83);
    const below = samples.filter((s) => s.value <= Math.exp(fit.a) * s.size ** fit.b).length / samples.length;
    expect(below).toBeGreaterThan(0.94);
    expect(below).toBeLessThan(0.96);
    // The input measure explains most of the spread a flat limit would have to cover.
    expect(fit.explained).toBeGreaterThan(0.5);
  });

  it('finds exponent 0 and explains nothing when the need does not follow the input', () => {
    const random = seeded(2);
    const samples = Array.from({ length: 1000 }, () => ({ size: 1 + random() * 1e5, value: 10 + random(), censored: false }));
    const fit = fitPowerLaw(samples, { quantile: 0.9 });
    expect(fit.b).toBeLessThan(0.02);
    expect(fit.explained).toBeLessThan(0.05);
  });

  it('counts a run stopped at its limit as a lower bound: the line rises to cover it, and ignoring it would not', () => {
    const samples = powerLaw(2000, 3);
    // The largest inputs were stopped at a limit of 300 that was too low for them.
    const censored = samples.map((s) => (s.value > 300 ? { size: s.size, value: 300, censored: true } : s));
    const asLowerBounds = fitPowerLaw(censored, { quantile: 0.95 });
    const asNeeds = fitPowerLaw(censored.map((s) => ({ ...s, censored: false })), { quantile: 0.95 });
    const largest = 1e6;
    expect(Math.exp(asLowerBounds.a) * largest ** asLowerBounds.b).toBeGreaterThan(Math.exp(asNeeds.a) * largest ** asNeeds.b);
  });

  it('refuses a quantile outside (0, 1) and an empty sample', () => {
    expect(() => fitPowerLaw([], { quantile: 0.9 })).toThrow(/no samples/);
    expect(() => fitPowerLaw(powerLaw(10, 4), { quantile: 1 })).toThrow(/quantile must be in \(0, 1\)/);
  });
});

describe('ConditionalRecommender', () => {
  const observations = powerLaw(2000, 5).map((s, i) => ({ at: i * 60_000, value: s.value, censored: false, features: [], size: s.size }));
  const now = 2000 * 60_000;

  it('proposes a rule that gives small inputs a small limit and large ones a large one, capped at the limit in force', () => {
    const recommender = new ConditionalRecommender();
    const rule = recommender.recommendRule(observations, { resource: 'cpuMs', currentLimit: 5000, now });
    expect(rule.max).toBe(5000);
    expect(rule.exponent).toBeGreaterThan(0.7);
    expect(limitFor(rule, 100)).toBeLessThan(limitFor(rule, 100_000));
    expect(limitFor(rule, 100_000)).toBeLessThan(5000);
    expect(recommender.lastFit?.samples).toBe(2000);
  });

  it('falls back to a flat VPA limit with too few runs, and never looks past now', () => {
    const recommender = new ConditionalRecommender();
    const rule = recommender.recommendRule(observations, { resource: 'cpuMs', currentLimit: 5000, now: 30 * 60_000 });
    expect(rule.exponent).toBe(0);
    expect(rule.base).toBe(rule.max);
    expect(recommender.lastFit).toBeUndefined();
  });
});
