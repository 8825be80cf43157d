/** @module benchmarks/workload/random — a small seeded PRNG (mulberry32) and the draws the workload needs, so a seed fixes the whole input sequence without a dependency. */

/**
 * A deterministic random source. mulberry32: 32-bit state, period 2^32, good enough to vary inputs
 * (not for anything cryptographic).
 * @param {number} seed any integer; equal seeds give equal sequences
 */
export function createRandom(seed) {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const random = {
    /** Uniform in [0, 1). */
    next,
    /** Uniform integer in [min, max]. */
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    /** Uniform in [min, max). */
    uniform: (min, max) => min + next() * (max - min),
    /** One of `items`, uniformly. */
    pick: (items) => items[Math.floor(next() * items.length)],
    /** Standard normal, Box–Muller (one of the pair; the other is dropped to keep the stream simple). */
    normal: () => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    /** Log-normal with the given median and log-space sigma: input sizes are heavy-tailed like this. */
    lognormal: (median, sigma) => median * Math.exp(sigma * random.normal()),
    /** A key of `weights` drawn in proportion to its weight. */
    weighted: (weights) => {
      const entries = Object.entries(weights).filter(([, w]) => w > 0);
      const total = entries.reduce((sum, [, w]) => sum + w, 0);
      let r = next() * total;
      for (const [key, w] of entries) {
        r -= w;
        if (r < 0) return key;
      }
      return entries[entries.length - 1][0];
    },
  };
  return random;
}
