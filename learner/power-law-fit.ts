/** @module learner/power-law-fit — censored quantile regression of a need on the input measure in log–log space: need ≈ exp(a)·x^b at quantile q. */

/** One sample: the input measure, the need (or, when censored, a lower bound of it). */
export interface SizedSample {
  size: number;
  value: number;
  censored: boolean;
}

export interface PowerLawFit {
  /** Intercept in log space: the fitted quantile of the need at x = 1 is exp(a). */
  a: number;
  /** Exponent: how the need grows with the input measure (0: it does not). */
  b: number;
  /** The quantile fitted. */
  quantile: number;
  /** Mean check loss at the fit, in log units: how tightly the line holds the samples. */
  loss: number;
  /** 1 − loss at the fit / loss of the best flat line (b = 0): the share of the spread the input measure explains. */
  explained: number;
  samples: number;
}

export interface PowerLawFitOptions {
  quantile: number;
  /** Exponents searched, [min, max]. @default [0, 3] */
  exponentRange?: readonly [number, number];
}

const COARSE_STEP = 0.05;
const FINE_STEP = 0.005;
/** Values below this are treated as this much (a need of 0 has no logarithm; 1 µs or 1 byte is nothing). */
const TINY = 1e-3;

/**
 * Fits log(need) = a + b·log(x) at quantile q, minimising the check (pinball) loss. A censored sample is a lower bound:
 * it is charged only when the line passes below it (q·(c − ŷ)⁺), as the learner's neural model does, so runs that hit
 * their limit push the line up without pretending their need is known.
 *
 * Two parameters do not need an optimiser: for a fixed b the best a is a weighted quantile of the residuals (found by
 * one sorted sweep), so b is searched on a grid (0.05 apart, then 0.005 around the best). Deterministic, and about
 * 1 ms for 4,000 samples — which is why this is plain arithmetic and not TensorFlow.js.
 * @throws TypeError when there are no samples with a positive size
 */
export function fitPowerLaw(samples: readonly SizedSample[], options: PowerLawFitOptions): PowerLawFit {
  const q = options.quantile;
  if (!(q > 0 && q < 1)) throw new TypeError(`fitPowerLaw: quantile must be in (0, 1), got ${q}`);
  const [low, high] = options.exponentRange ?? [0, 3];
  const n = samples.length;
  if (n === 0) throw new TypeError('fitPowerLaw: no samples');
  const logX = new Float64Array(n);
  const logY = new Float64Array(n);
  const censored = new Uint8Array(n);
  samples.forEach((s, i) => {
    logX[i] = Math.log(Math.max(1, s.size));
    logY[i] = Math.log(Math.max(TINY, s.value));
    censored[i] = s.censored ? 1 : 0;
  });
  const residuals = new Float64Array(n);
  const order = new Uint32Array(n);

  const fitAt = (b: number): { a: number; loss: number } => {
    for (let i = 0; i < n; i++) residuals[i] = (logY[i] as number) - b * (logX[i] as number);
    const a = bestIntercept(residuals, censored, order, q);
    return { a, loss: checkLoss(residuals, censored, a, q) / n };
  };

  let best = { b: low, ...fitAt(low) };
  for (let b = low + COARSE_STEP; b <= high + 1e-9; b += COARSE_STEP) {
    const fit = fitAt(b);
    if (fit.loss < best.loss) best = { b, ...fit };
  }
  const centre = best.b;
  for (let b = Math.max(low, centre - COARSE_STEP); b <= Math.min(high, centre + COARSE_STEP) + 1e-9; b += FINE_STEP) {
    const fit = fitAt(b);
    if (fit.loss < best.loss) best = { b, ...fit };
  }
  const flat = low === 0 ? fitAt(0).loss : best.loss;
  return { a: best.a, b: round(best.b), quantile: q, loss: best.loss, explained: flat > 0 ? Math.max(0, 1 - best.loss / flat) : 0, samples: n };
}

/**
 * The intercept minimising Σ check loss of (r − a): its right derivative in a is (1 − q)·#{uncensored r ≤ a} −
 * q·#{r > a}, increasing in a; the minimum is at the first residual (ascending) where it turns non-negative.
 */
function bestIntercept(residuals: Float64Array, censored: Uint8Array, order: Uint32Array, q: number): number {
  const n = residuals.length;
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => (residuals[i] as number) - (residuals[j] as number));
  let uncensoredAtOrBelow = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k] as number;
    if (censored[i] === 0) uncensoredAtOrBelow++;
    const above = n - k - 1;
    if ((1 - q) * uncensoredAtOrBelow - q * above >= 0) return residuals[i] as number;
  }
  return residuals[order[n - 1] as number] as number;
}

function checkLoss(residuals: Float64Array, censored: Uint8Array, a: number, q: number): number {
  let total = 0;
  for (let i = 0; i < residuals.length; i++) {
    const e = (residuals[i] as number) - a;
    if (censored[i] === 1) total += e > 0 ? q * e : 0;
    else total += e >= 0 ? q * e : (q - 1) * e;
  }
  return total;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
