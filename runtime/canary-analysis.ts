/** @module runtime/canary-analysis — decides a canary from its runs: a one-sided two-proportion z-test on errors and a Mann–Whitney U test on run time. */

export interface ArmSample {
  outcome: 'ok' | 'error';
  runMs: number;
}

/**
 * Outcomes that say nothing about the version that ran: the caller's input was refused before any code ran
 * (a candidate that adds an input constraint refuses more by design), the caller cancelled, or no host had room.
 * Left out of both arms, so one tenant sending such runs cannot decide a canary every tenant shares. A run lost
 * with its host (`E_SANDBOX_CRASHED`) still counts: the candidate may be what brings its hosts down.
 */
export const CANARY_IGNORED_CODES: ReadonlySet<string> = new Set(['E_INPUT_INVALID', 'E_DISPOSED', 'E_UNAVAILABLE']);

/** The samples of one version's arm, without the outcomes that say nothing about it. */
export function canaryArm(runs: ReadonlyArray<{ version: string; outcome: 'ok' | 'error'; errorCode?: string; runMs: number }>, version: string): ArmSample[] {
  const arm: ArmSample[] = [];
  for (const run of runs) {
    if (run.version !== version || (run.errorCode !== undefined && CANARY_IGNORED_CODES.has(run.errorCode))) continue;
    arm.push({ outcome: run.outcome, runMs: run.runMs });
  }
  return arm;
}

export interface CanaryAnalysisOptions {
  /** Runs each arm needs before a decision. @default 200 */
  minRuns?: number;
  /** Significance level of each one-sided test. @default 0.05 */
  alpha?: number;
  /** The candidate's median run time may exceed the stable one's by this share before slowness counts. @default 0.1 */
  slowdown?: number;
}

export interface CanaryDecision {
  action: 'wait' | 'promote' | 'rollback';
  reason: string;
  stable: { runs: number; errorRate: number; medianMs: number };
  candidate: { runs: number; errorRate: number; medianMs: number };
  /** p-value that the candidate errs more often. */
  errorsPValue: number;
  /** p-value that the candidate is slower. */
  latencyPValue: number;
}

/** Standard normal upper-tail probability, by the Abramowitz–Stegun 7.1.26 erfc approximation. */
export function upperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** One-sided p-value that proportion 2 exceeds proportion 1 (pooled two-proportion z-test). */
export function proportionGreaterPValue(errors1: number, n1: number, errors2: number, n2: number): number {
  const pooled = (errors1 + errors2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return errors2 / n2 > errors1 / n1 ? 0 : 1;
  return upperTail((errors2 / n2 - errors1 / n1) / se);
}

/** One-sided p-value that sample b tends to be larger than sample a (Mann–Whitney U, normal approximation with tie correction). */
export function mannWhitneyGreaterPValue(a: readonly number[], b: readonly number[]): number {
  const all = [...a.map((value) => ({ value, fromB: false })), ...b.map((value) => ({ value, fromB: true }))].sort((x, y) => x.value - y.value);
  let rankSumB = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { value: number }).value === (all[i] as { value: number }).value) j++;
    const averageRank = (i + j) / 2 + 1;
    const ties = j - i + 1;
    tieTerm += ties ** 3 - ties;
    for (let k = i; k <= j; k++) if ((all[k] as { fromB: boolean }).fromB) rankSumB += averageRank;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const u = rankSumB - (n2 * (n2 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return 1;
  return upperTail((u - mean) / Math.sqrt(variance));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
}

/** Compares the candidate with the stable version: roll back on more errors or a meaningful slowdown, promote otherwise. */
export function analyseCanary(stable: readonly ArmSample[], candidate: readonly ArmSample[], options: CanaryAnalysisOptions = {}): CanaryDecision {
  const minRuns = options.minRuns ?? 200;
  const alpha = options.alpha ?? 0.05;
  const slowdown = options.slowdown ?? 0.1;
  const errorsOf = (arm: readonly ArmSample[]) => arm.filter((sample) => sample.outcome === 'error').length;
  const timesOf = (arm: readonly ArmSample[]) => arm.filter((sample) => sample.outcome === 'ok').map((sample) => sample.runMs);
  const summary = (arm: readonly ArmSample[]) => ({ runs: arm.length, errorRate: arm.length ? errorsOf(arm) / arm.length : 0, medianMs: median(timesOf(arm)) });
  const base = { stable: summary(stable), candidate: summary(candidate) };
  if (stable.length < minRuns || candidate.length < minRuns) {
    return { action: 'wait', reason: `waiting for ${minRuns} runs on each version`, ...base, errorsPValue: Number.NaN, latencyPValue: Number.NaN };
  }
  const errorsPValue = proportionGreaterPValue(errorsOf(stable), stable.length, errorsOf(candidate), candidate.length);
  const stableTimes = timesOf(stable);
  const candidateTimes = timesOf(candidate);
  const latencyPValue = stableTimes.length > 0 && candidateTimes.length > 0 ? mannWhitneyGreaterPValue(stableTimes, candidateTimes) : 1;
  const decision = { ...base, errorsPValue, latencyPValue };
  if (errorsPValue < alpha) {
    return { action: 'rollback', reason: `the candidate fails more often (${pct(base.candidate.errorRate)} vs ${pct(base.stable.errorRate)}, p = ${errorsPValue.toFixed(4)})`, ...decision };
  }
  if (latencyPValue < alpha && base.candidate.medianMs > base.stable.medianMs * (1 + slowdown)) {
    return { action: 'rollback', reason: `the candidate is slower (median ${base.candidate.medianMs.toFixed(2)} ms vs ${base.stable.medianMs.toFixed(2)} ms, p = ${latencyPValue.toFixed(4)})`, ...decision };
  }
  return { action: 'promote', reason: `no worse on errors (p = ${errorsPValue.toFixed(3)}) or run time (p = ${latencyPValue.toFixed(3)}) over ${candidate.length} runs`, ...decision };
}

function pct(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}
