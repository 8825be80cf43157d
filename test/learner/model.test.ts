// The quantile model: it learns a conditional high quantile, respects censoring, and survives a save/load round trip.
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf, QuantileModel, type TrainingSample } from '../../learner/index.js';
import { seeded } from './helpers.js';

beforeAll(async () => {
  expect(['wasm', 'cpu', 'tensorflow']).toContain(await initTf());
});

/** value = 10 × size × U(1, 1.5): the true q-quantile at a size is 10 × size × (1 + 0.5q). */
function samples(count: number, seed = 3): TrainingSample[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => {
    const size = 1 + Math.floor(random() * 10);
    return { features: [Math.log(size), random()], value: 10 * size * (1 + 0.5 * random()), censored: false };
  });
}

describe('QuantileModel', () => {
  it('predicts the conditional 0.9 quantile within 10%', () => {
    const model = QuantileModel.train(samples(2000), { quantile: 0.9, steps: 400, hidden: 0, learningRate: 0.05 });
    try {
      for (const size of [2, 5, 9]) {
        const [predicted] = model.predict([[Math.log(size), 0.5]]);
        expect(predicted).toBeGreaterThan(10 * size * 1.45 * 0.9);
        expect(predicted).toBeLessThan(10 * size * 1.45 * 1.1);
      }
    } finally {
      model.dispose();
    }
  });

  it('treats a censored sample as a lower bound, so limit hits push the prediction up', () => {
    const plain = samples(600, 5).map((s) => ({ ...s, features: [0, 0], value: 50 + (s.value % 10) }));
    const withHits = plain.map((s, i) => (i % 10 === 0 ? { ...s, value: 80, censored: true } : s));
    const a = QuantileModel.train(plain, { quantile: 0.95, steps: 300, hidden: 0 });
    const b = QuantileModel.train(withHits, { quantile: 0.95, steps: 300, hidden: 0 });
    try {
      const [withoutCensoring] = a.predict([[0, 0]]);
      const [withCensoring] = b.predict([[0, 0]]);
      expect(withoutCensoring).toBeLessThan(61);
      expect(withCensoring).toBeGreaterThan((withoutCensoring as number) + 5);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('round-trips through save and load with identical predictions', async () => {
    const model = QuantileModel.train(samples(500), { quantile: 0.95, steps: 50 });
    const state = await model.save();
    expect(state.artifacts.weightData.length).toBeGreaterThan(10);
    const restored = await QuantileModel.load(JSON.parse(JSON.stringify(state)));
    const inputs = [[0, 0], [1, 0.5], [2.2, 1]];
    expect(restored.predict(inputs)).toEqual(model.predict(inputs));
    expect(restored.quantile).toBe(0.95);
    model.dispose();
    restored.dispose();
  });
});
