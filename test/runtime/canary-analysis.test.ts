// The canary's statistics: the normal tail, the two-proportion test, Mann–Whitney U, and the decisions they lead to.
import { describe, expect, it } from 'vitest';
import { analyseCanary, canaryArm, mannWhitneyGreaterPValue, proportionGreaterPValue, upperTail } from '../../runtime/canary-analysis.js';

const arm = (runs: number, errors: number, ms: (i: number) => number) =>
  Array.from({ length: runs }, (_, i) => ({ outcome: (i < errors ? 'error' : 'ok') as 'ok' | 'error', runMs: ms(i) }));

describe('statistics', () => {
  it('computes the standard normal upper tail', () => {
    expect(upperTail(0)).toBeCloseTo(0.5, 6);
    expect(upperTail(1.6449)).toBeCloseTo(0.05, 4);
    expect(upperTail(2.3263)).toBeCloseTo(0.01, 4);
    expect(upperTail(-1.96)).toBeCloseTo(0.975, 4);
  });

  it('tests whether a proportion is greater', () => {
    // 10/200 vs 30/200: z ≈ 3.35.
    expect(proportionGreaterPValue(10, 200, 30, 200)).toBeCloseTo(0.0004, 3);
    expect(proportionGreaterPValue(30, 200, 10, 200)).toBeGreaterThan(0.99);
    expect(proportionGreaterPValue(0, 200, 0, 200)).toBe(1);
  });

  it('tests whether one sample tends to be larger (Mann–Whitney U)', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    expect(mannWhitneyGreaterPValue(a, a.map((x) => x + 25))).toBeLessThan(0.001);
    expect(mannWhitneyGreaterPValue(a, a)).toBeCloseTo(0.5, 2);
    expect(mannWhitneyGreaterPValue(a.map((x) => x + 25), a)).toBeGreaterThan(0.999);
  });
});

describe('analyseCanary', () => {
  it('waits until both versions have enough runs', () => {
    expect(analyseCanary(arm(199, 0, () => 1), arm(500, 0, () => 1)).action).toBe('wait');
  });

  it('rolls back a candidate that fails more often', () => {
    const decision = analyseCanary(arm(300, 3, () => 1), arm(300, 30, () => 1));
    expect(decision.action).toBe('rollback');
    expect(decision.reason).toMatch(/^the candidate fails more often \(10\.00% vs 1\.00%, p = 0\.0000\)$/);
  });

  it('rolls back a candidate that is meaningfully slower, but not one that is slower by a hair', () => {
    expect(analyseCanary(arm(300, 0, (i) => 10 + (i % 5)), arm(300, 0, (i) => 14 + (i % 5))).action).toBe('rollback');
    expect(analyseCanary(arm(300, 0, (i) => 10 + (i % 5)), arm(300, 0, (i) => 10.5 + (i % 5))).action).toBe('promote');
  });

  it('promotes a candidate that is no worse', () => {
    const decision = analyseCanary(arm(300, 6, (i) => 10 + (i % 7)), arm(250, 4, (i) => 9 + (i % 7)));
    expect(decision).toMatchObject({ action: 'promote', stable: { runs: 300, errorRate: 0.02 }, candidate: { runs: 250, errorRate: 0.016 } });
  });
});

describe('canaryArm', () => {
  type Run = { version: string; outcome: 'ok' | 'error'; errorCode?: string; runMs: number };
  const runs = (version: string, n: number, failure?: string): Run[] =>
    Array.from({ length: n }, () => (failure ? { version, outcome: 'error', errorCode: failure, runMs: 1 } : { version, outcome: 'ok', runMs: 1 }));

  it('leaves out runs that say nothing about the version, so a caller cannot roll a shared canary back with them', () => {
    // One tenant's refused inputs, cancellations and runs that found no room all landing on the candidate.
    const all = [...runs('1.0.0', 300), ...runs('1.0.1', 300), ...runs('1.0.1', 60, 'E_INPUT_INVALID'), ...runs('1.0.1', 40, 'E_DISPOSED'), ...runs('1.0.1', 40, 'E_UNAVAILABLE')];
    const decision = analyseCanary(canaryArm(all, '1.0.0'), canaryArm(all, '1.0.1'));
    expect(decision.candidate.runs).toBe(300);
    expect(decision.action).toBe('promote');
  });

  it('still counts what the candidate itself did wrong, a lost host included', () => {
    const all = [...runs('1.0.0', 300), ...runs('1.0.1', 270), ...runs('1.0.1', 30, 'E_SANDBOX_CRASHED')];
    expect(analyseCanary(canaryArm(all, '1.0.0'), canaryArm(all, '1.0.1')).action).toBe('rollback');
  });
});
