// The learner's frozen fixtures and the evaluation on them: the same bytes for a seed (and the committed digests), the
// structure the generator promises, an output identical on two runs, and an evaluation that can tell methods apart.
import { describe, expect, it } from 'vitest';
import {
  compareMethods,
  evaluateFixtures,
  failurePatternPrecision,
  fixtureDigest,
  fixtureJsonl,
  formatFixtureEvaluation,
  generateFixture,
  recordObservations,
  // @ts-expect-error plain ESM benchmark module without type declarations
} from '../../benchmarks/learner/index.mjs';
// @ts-expect-error plain ESM benchmark module without type declarations
import { frozenDigests } from '../../benchmarks/learner/fixture-evaluation.mjs';
import type { RunRecord } from '../../core/run-record.js';
import { AutopilotRecommender, StaticRecommender, VpaRecommender } from '../../learner/baselines.js';
import { leastPrivilege } from '../../learner/generators/least-privilege.js';
import { flatRule, type LimitRecommender, type LimitRule, type Observation, type RecommendContext, type RuleRecommender } from '../../learner/recommender.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Fixture {
  options: { startAt: number };
  records: RunRecord[];
  needs: Array<{ cpuMs: number; timeoutMs: number; memoryMb: number }>;
  incidents: Array<{ from: number; to: number }>;
}

interface Row {
  method: string;
  resource: string;
  budget: number;
  capacitySlack: number;
  capacitySlackCi: [number, number];
  hitRate: number;
  slackDifferenceCi: Record<string, [number, number]>;
  closedLoop?: { hitRate: number; capacitySlack: number; runs: number };
}

/**
 * An oracle-free conditional stand-in (tests only): least squares of log need on log input size over the uncensored
 * past, the limit at the 95th percentile of the residuals: a rule `base · x^b` no flat method can express.
 */
class LogLogStandIn implements RuleRecommender {
  readonly name = 'loglog-standin';

  recommend(history: readonly Observation[], context: RecommendContext): number {
    return this.recommendRule(history, context).max;
  }

  recommendRule(history: readonly Observation[], context: RecommendContext): LimitRule {
    const past = history.filter((o) => !o.censored && o.value > 0 && o.at < context.now).slice(-3000);
    if (past.length < 30) return flatRule(context.currentLimit);
    const xs = past.map((o) => Math.log(o.size));
    const ys = past.map((o) => Math.log(o.value));
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < xs.length; i++) {
      sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
      sxx += ((xs[i] as number) - mx) ** 2;
    }
    const b = Math.min(2, Math.max(0, sxx > 0 ? sxy / sxx : 0));
    const a = my - b * mx;
    const residuals = xs.map((x, i) => (ys[i] as number) - a - b * x).sort((p, q) => p - q);
    const q95 = residuals[Math.ceil(0.95 * residuals.length) - 1] as number;
    return { base: Math.exp(a + q95), exponent: b, max: 1e12 };
  }
}

describe('generateFixture', () => {
  it('gives the same bytes for a seed, other bytes for another seed, and the committed digests', () => {
    const one = fixtureJsonl(generateFixture({ seed: 1 }));
    const two = fixtureJsonl(generateFixture({ seed: 1 }));
    expect(two === one).toBe(true);
    expect(fixtureJsonl(generateFixture({ seed: 2 })) === one).toBe(false);
    const frozen = frozenDigests() as Record<number, string>;
    expect(Object.keys(frozen).map(Number)).toEqual([1, 2, 3]);
    for (const [seed, digest] of Object.entries(frozen)) expect(fixtureDigest(generateFixture({ seed: Number(seed) }))).toBe(digest);
  });

  const fixture = generateFixture({ seed: 1 }) as Fixture;
  const ok = (name: string) => fixture.records.filter((r) => r.template === name && r.outcome === 'ok');

  it('spans 7 days, with the limits each run ran under on every record', () => {
    const { records } = fixture;
    expect(records.length).toBe(4900);
    expect(records.at(-1)!.startedAt - records[0]!.startedAt).toBeGreaterThan(6.9 * DAY);
    for (const r of records) expect(r.limits && r.limits.cpuMs > 0 && r.limits.timeoutMs > 0 && r.limits.memoryMb > 0).toBe(true);
  });

  it('records killed runs as censored at the limit in force, with no heap figure', () => {
    const killed = fixture.records.filter((r) => r.censoredBy !== undefined);
    expect(killed.length).toBeGreaterThan(10);
    for (const r of killed) {
      expect(r.heapGrowthBytes).toBeUndefined();
      expect(r.outcome).toBe('error');
      if (r.censoredBy === 'cpuMs') expect([r.cpuMs, r.errorCode]).toEqual([r.limits!.cpuMs, 'E_CPU_LIMIT']);
      if (r.censoredBy === 'timeoutMs') expect([r.runMs, r.errorCode]).toEqual([r.limits!.timeoutMs, 'E_TIMEOUT']);
      if (r.censoredBy === 'memoryMb') expect(r.errorCode).toBe('E_MEMORY_LIMIT');
    }
    for (const r of fixture.records.filter((r) => r.censoredBy === undefined)) expect(r.heapGrowthBytes).toBeGreaterThan(0);
    // The observations read those fields: censored at the limit, absent for memory.
    const cpu = recordObservations(fixture.records, 'cpuMs').observations as Observation[];
    expect(cpu.filter((o) => o.censored && o.value === 2000).length).toBeGreaterThan(0);
    const memory = recordObservations(fixture.records, 'memoryMb').observations as Observation[];
    expect(memory.length).toBe(fixture.records.filter((r) => r.censoredBy === undefined || r.censoredBy === 'memoryMb').length);
    expect(memory.filter((o) => o.censored).map((o) => o.value)).toEqual(fixture.records.filter((r) => r.censoredBy === 'memoryMb').map((r) => r.limits!.memoryMb));
  });

  it('has CPU that grows with input as a power law, and a 40 % step at the version bump', () => {
    const slope = (runs: RunRecord[]) => {
      const xs = runs.map((r) => Math.log(r.inputBytes));
      const ys = runs.map((r) => Math.log(r.cpuMs));
      const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
      const my = ys.reduce((a, b) => a + b, 0) / ys.length;
      return xs.reduce((s, x, i) => s + (x - mx) * ((ys[i] as number) - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    };
    expect(slope(ok('hash-files'))).toBeGreaterThan(0.95);
    expect(slope(ok('hash-files'))).toBeLessThan(1.15);
    expect(slope(ok('ping'))).toBeLessThan(0.2);
    const perByte = (version: string) => {
      const runs = ok('hash-files').filter((r) => r.version === version);
      const ratios = runs.map((r) => r.cpuMs / r.inputBytes ** 1.05).sort((a, b) => a - b);
      return ratios[Math.floor(ratios.length / 2)] as number;
    };
    expect(perByte('1.1.0') / perByte('1.0.0')).toBeGreaterThan(1.25);
    expect(perByte('1.1.0') / perByte('1.0.0')).toBeLessThan(1.55);
  });

  it('has tenants with different input sizes, contention at the peak hour and failure bursts in incidents', () => {
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const sizes = (tenant: string) => median(ok('ingest-csv').filter((r) => r.tenant === tenant).map((r) => r.inputBytes));
    expect(sizes('globex') / sizes('acme')).toBeGreaterThan(5);
    expect(fixture.records.filter((r) => r.tenant === 'umbrella' && r.startedAt - fixture.options.startAt < 2 * DAY)).toEqual([]);
    const hour = (r: RunRecord) => new Date(r.startedAt).getUTCHours();
    const wallPerCpu = (hours: number[]) => median(ok('hash-files').filter((r) => hours.includes(hour(r))).map((r) => r.runMs / r.cpuMs));
    expect(wallPerCpu([13, 14, 15]) / wallPerCpu([1, 2, 3])).toBeGreaterThan(1.3);
    const inIncident = (r: RunRecord) => fixture.incidents.some((i) => r.startedAt >= i.from && r.startedAt < i.to);
    const threwRate = (runs: RunRecord[]) => runs.filter((r) => r.errorCode === 'E_AGENT_THREW' && r.template !== 'tokenize').length / runs.length;
    expect(threwRate(fixture.records.filter(inIncident))).toBeGreaterThan(0.15);
    expect(threwRate(fixture.records.filter((r) => !inIncident(r)))).toBe(0);
  });

  it('keeps the permission truth the least-privilege generator is scored against', () => {
    // @ts-expect-error plain ESM benchmark module without type declarations
    return import('../../benchmarks/learner/fixtures.mjs').then(({ fixtureTemplate, FIXTURE_TRUTH }) => {
      const names = Object.keys(FIXTURE_TRUTH.permissions.unneeded);
      const removed = names.flatMap((name) => {
        const records = fixture.records.filter((r) => r.template === name);
        const { template, raw } = fixtureTemplate(name, fixture.records);
        return leastPrivilege({ template, raw, hasParent: false, records, limitsOf: (r: RunRecord) => r.limits as never, now: records.at(-1)!.startedAt + 1 }).map((s) => `${s.template} ${s.slot}`);
      });
      expect(removed.sort()).toEqual(['hash-files permissions.env.entries', 'hash-files permissions.net', 'ingest-csv permissions.env.entries', 'render-report permissions.kv', 'tokenize permissions.env']);
    });
  });
});

describe('failurePatternPrecision', () => {
  it('counts a suggestion right only on the true property with a threshold in range', () => {
    const patterns = { tokenize: { property: 'text', lo: 64_000, hi: 80_000 } };
    const result = failurePatternPrecision(
      [
        { kind: 'failure-pattern', template: 'tokenize', evidence: { property: 'text', threshold: 79_000 } },
        { kind: 'failure-pattern', template: 'tokenize', evidence: { property: 'text', threshold: 20_000 } },
        { kind: 'failure-pattern', template: 'ingest-csv', evidence: { property: 'csv', threshold: 500_000 } },
        { kind: 'least-privilege', template: 'tokenize', evidence: {} },
      ],
      patterns,
    );
    expect(result).toMatchObject({ suggested: 3, correct: 1, found: 1, patterns: 1, precision: 1 / 3, recall: 1, missed: [] });
  });
});

describe('compareMethods on a fixture', () => {
  const fixture = generateFixture({ seed: 1 }) as Fixture;
  const methods = () => [new StaticRecommender(), new VpaRecommender(), new AutopilotRecommender(), new AutopilotRecommender({ statistic: 0.98 }), new LogLogStandIn()];

  it('tells a conditional rule from VPA and Autopilot: less CPU and wall slack at every budget, intervals apart', async () => {
    const { result } = await compareMethods({ records: fixture.records, needs: fixture.needs, methods: methods(), resources: ['cpuMs', 'timeoutMs'], startAt: fixture.options.startAt, resamples: 300, closedLoopBudgets: [] });
    for (const resource of ['cpuMs', 'timeoutMs']) {
      for (const budget of [0.005, 0.01, 0.02]) {
        const row = (method: string) => result.rows.find((r: Row) => r.method === method && r.resource === resource && r.budget === budget) as Row;
        const standIn = row('loglog-standin');
        for (const baseline of ['vpa', 'autopilot', 'autopilot-p98']) {
          expect(standIn.capacitySlackCi[1]).toBeLessThan(row(baseline).capacitySlackCi[0]);
          // Paired: the difference's interval is below 0.
          expect(standIn.slackDifferenceCi[baseline]![1]).toBeLessThan(0);
        }
        // Calibrated on days 1–4, its test-day hit rate may differ from VPA's (the fleet drifts); at one test-day hit
        // rate (the curve, in hindsight) it still leaves less slack.
        const curve = (method: string) => result.curves.find((c: { method: string; resource: string }) => c.method === method && c.resource === resource).hindsight[budget];
        for (const baseline of ['vpa', 'autopilot', 'autopilot-p98']) expect(curve('loglog-standin').capacitySlack).toBeLessThan(curve(baseline).capacitySlack - 0.1);
      }
    }
  }, 60_000);

  it('replays the closed loop: runs over the applied limit are censored at it and later windows see that', async () => {
    const seen: Observation[][] = [];
    const tuneEnd = fixture.options.startAt + 4 * DAY;
    // Sized right on the tuning days, far too small on the test days.
    const shrinking: LimitRecommender = {
      name: 'shrinking',
      recommend(history, context) {
        if (context.now >= tuneEnd) seen.push(history.filter((o) => o.at >= tuneEnd));
        return context.now < tuneEnd ? 2000 : 1;
      },
    };
    const records = fixture.records.filter((r) => r.template === 'hash-files');
    const needs = fixture.needs.filter((_, i) => fixture.records[i]!.template === 'hash-files');
    const { result } = await compareMethods({ records, needs, methods: [shrinking], resources: ['cpuMs'], budgets: [0.01], startAt: fixture.options.startAt, resamples: 10 });
    const [row] = result.rows as Row[];
    expect(row!.closedLoop!.hitRate).toBe(1);
    const later = seen.at(-1)!;
    expect(later.length).toBeGreaterThan(50);
    const scale = result.rows[0].perTemplate['hash-files'].scale;
    for (const o of later) expect([o.censored, o.value]).toEqual([true, expect.closeTo(scale * 1, 6)]);
  });

  it('gives byte-identical output on two runs with the same seed', async () => {
    const run = async () => {
      const { result } = await evaluateFixtures({
        methods: [new StaticRecommender(), new VpaRecommender(), new AutopilotRecommender()],
        seeds: [5, 6],
        fixture: { runsPerDay: 120 },
        resamples: 100,
        generators: { leastPrivilege },
      });
      return { json: JSON.stringify(result), markdown: formatFixtureEvaluation(result) };
    };
    const one = await run();
    const two = await run();
    expect(two.json === one.json).toBe(true);
    expect(two.markdown === one.markdown).toBe(true);
    expect(one.markdown).toContain('| vpa | cpuMs |');
  }, 60_000);
});
