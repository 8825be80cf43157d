// The walk-forward evaluation on crafted records with known answers: slack, hits and censoring, limit churn,
// that each recommender is handed only the past, and the precision of permission suggestions.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM benchmark module without type declarations
import { evaluate, permissionPrecision, removalsOf, scoreWindow } from '../../benchmarks/learner/index.mjs';
import type { Limits } from '../../core/agent-spec.js';
import type { RunRecord } from '../../core/run-record.js';
import { AutopilotRecommender, StaticRecommender } from '../../learner/baselines.js';
import type { LimitRecommender, Observation, RecommendContext } from '../../learner/recommender.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 6);
const MB = 1024 * 1024;
const LIMITS: Limits = { memoryMb: 20, timeoutMs: 1000, cpuMs: 500, outputKb: 16, logKb: 64, kvKb: 1024, spawnDepth: 3, spawnFanOut: 16 };

function record(template: string, at: number, heapMb: number, errorCode?: RunRecord['errorCode']): RunRecord {
  return {
    id: `${template}-${at}`,
    template,
    version: '1.0.0',
    digest: `digest-${template}`,
    env: 'dev',
    tenant: 'default',
    startedAt: at,
    createMs: 0,
    runMs: 5,
    cpuMs: 2,
    heapUsedAtEndBytes: heapMb * MB,
    inputBytes: 10,
    outputBytes: 10,
    outcome: errorCode ? 'error' : 'ok',
    ...(errorCode ? { errorCode } : {}),
    tools: {},
    denials: [],
    logsDropped: 0,
    depth: 0,
  };
}

/** One run per hour for `hours` hours, each with the heap `heapAt(hour)`. */
function hourly(template: string, hours: number, heapAt: (hour: number) => number): RunRecord[] {
  return Array.from({ length: hours }, (_, h) => record(template, T0 + h * HOUR, heapAt(h)));
}

const limitsOf = () => LIMITS;

describe('scoreWindow', () => {
  it('counts peaks over the limit, censored runs at or above it, and censored runs under it as unknown hits', () => {
    const next = [
      { value: 5, censored: false },
      { value: 12, censored: false },
      { value: 10, censored: true },
      { value: 8, censored: true },
    ];
    expect(scoreWindow(10, next)).toEqual({ limit: 10, p95: 12, slack: 0, rawSlack: -0.2, runs: 4, hits: 3, unknown: 1 });
  });

  it('does not count a peak equal to the limit as a hit', () => {
    expect(scoreWindow(10, [{ value: 10, censored: false }])).toMatchObject({ hits: 0, slack: 0 });
  });
});

describe('evaluate', () => {
  it('gives slack 0.5 and no hits for a constant peak of 10 MB under a 20 MB limit', async () => {
    const result = await evaluate({ records: hourly('flat', 24, () => 10), recommenders: [new StaticRecommender()], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
    expect(result.boundaries).toEqual([T0 + 6 * HOUR, T0 + 12 * HOUR, T0 + 18 * HOUR]);
    expect(result.overall).toEqual([
      { recommender: 'static', template: '*', resource: 'memoryMb', windows: 3, runs: 18, slack: 0.5, hitRate: 0, unknownRate: 0, changeRate: 0, meanLimit: 20 },
    ]);
  });

  it('hands each recommender exactly the observations before the boundary, and now = the boundary', async () => {
    const calls: Array<{ now: number; ats: number[] }> = [];
    const spy: LimitRecommender = {
      name: 'spy',
      recommend(history: readonly Observation[], context: RecommendContext) {
        calls.push({ now: context.now, ats: history.map((o) => o.at) });
        return 20;
      },
    };
    await evaluate({ records: hourly('flat', 24, () => 10), recommenders: [spy], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
    expect(calls.map((c) => c.now)).toEqual([T0 + 6 * HOUR, T0 + 12 * HOUR, T0 + 18 * HOUR]);
    expect(calls.map((c) => c.ats.length)).toEqual([6, 12, 18]);
    for (const call of calls) expect(Math.max(...call.ats)).toBe(call.now - HOUR);
  });

  it('makes peeking impossible: a spike counts against the window it falls in and informs only later ones', async () => {
    // 10 MB every hour, except 50 MB at hour 14 (inside the third 6-hour window).
    const records = hourly('spiky', 24, (h) => (h === 14 ? 50 : 10));
    const result = await evaluate({ records, recommenders: [new AutopilotRecommender({ windowMs: 48 * HOUR })], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
    expect(result.cells.map((c: { limit: number; hits: number }) => [c.limit, c.hits])).toEqual([
      [12, 0],
      [12, 1],
      [58, 0],
    ]);
    const [row] = result.overall;
    expect(row.hitRate).toBeCloseTo(1 / 18, 12);
    // One change over two transitions.
    expect(row.changeRate).toBe(0.5);
  });

  it('cannot be reached through the history array: it is a frozen copy', async () => {
    const mutator: LimitRecommender = {
      name: 'mutator',
      recommend(history) {
        expect(Object.isFrozen(history)).toBe(true);
        return 20;
      },
    };
    await evaluate({ records: hourly('flat', 12, () => 10), recommenders: [mutator], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
  });

  it('counts a censored run as a hit for every recommender, unknown where the limit went above the one it broke', async () => {
    const records = [...hourly('oom', 12, () => 10), record('oom', T0 + 9 * HOUR + 1, 0, 'E_MEMORY_LIMIT')];
    const result = await evaluate({ records, recommenders: [new StaticRecommender(), new AutopilotRecommender()], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
    const byName = Object.fromEntries(result.overall.map((row: { recommender: string }) => [row.recommender, row]));
    expect(byName.static).toMatchObject({ runs: 7, hitRate: 1 / 7, unknownRate: 0, meanLimit: 20 });
    // Autopilot saw only 10 MB peaks: limit 12, under the 20 MB the run broke, so a known hit.
    expect(byName.autopilot).toMatchObject({ runs: 7, hitRate: 1 / 7, unknownRate: 0, meanLimit: 12 });
    const raised: LimitRecommender = { name: 'raised', recommend: () => 30 };
    const again = await evaluate({ records, recommenders: [raised], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
    expect(again.overall[0]).toMatchObject({ hitRate: 1 / 7, unknownRate: 1 / 7 });
  });

  it('reports per template and refuses duplicate recommender names', async () => {
    const records = [...hourly('a', 12, () => 10), ...hourly('b', 12, () => 15)];
    const result = await evaluate({ records, recommenders: [new StaticRecommender()], windowMs: 6 * HOUR, resources: ['memoryMb'], limitsOf });
    expect(result.byTemplate.map((row: { template: string; slack: number }) => [row.template, row.slack])).toEqual([
      ['a', 0.5],
      ['b', 0.25],
    ]);
    expect(result.overall[0].slack).toBe(0.375);
    await expect(evaluate({ records, recommenders: [new StaticRecommender(), new StaticRecommender()], windowMs: HOUR, limitsOf })).rejects.toThrow(/two recommenders are named "static"/);
  });
});

describe('permissionPrecision', () => {
  const truth = {
    unneeded: { 'word-stats': ['env:LOG_LEVEL'], 'csv-table': ['env:LOG_LEVEL', 'kv'], checksum: ['net:hashes.example.com'], hello: [] },
    needed: { 'word-stats': [], 'csv-table': [], checksum: ['env:CHECKSUM_SALT'], hello: ['kv'] },
  };

  it('scores keys and whole kinds against the ground truth', () => {
    const result = permissionPrecision(
      [
        { template: 'csv-table', permission: 'kv' },
        { template: 'csv-table', permission: 'env' },
        { template: 'checksum', permission: 'env' },
        { template: 'hello', permission: 'kv' },
        { template: 'csv-table', permission: 'kv' },
      ],
      truth,
    );
    expect(result).toEqual({
      suggested: 4,
      correct: 2,
      unneeded: 4,
      found: 2,
      precision: 0.5,
      recall: 0.5,
      wrong: [
        { template: 'checksum', permission: 'env' },
        { template: 'hello', permission: 'kv' },
      ],
      missed: [
        { template: 'word-stats', permission: 'env:LOG_LEVEL' },
        { template: 'checksum', permission: 'net:hashes.example.com' },
      ],
    });
  });

  it('is NaN with no suggestions', () => {
    expect(permissionPrecision([], truth).precision).toBeNaN();
  });

  it('reads removals from least-privilege suggestions', () => {
    const suggestions = [
      { kind: 'least-privilege', template: 'csv-table', patch: [{ op: 'remove', path: '/permissions/kv' }] },
      { kind: 'least-privilege', template: 'word-stats', patch: [{ op: 'add', path: '/permissions/env', value: null }] },
      // What the generator writes for a child template without a permissions object of its own.
      { kind: 'least-privilege', template: 'log-triage', patch: [{ op: 'add', path: '/permissions', value: { env: null, kv: true } }] },
      { kind: 'right-sizing', template: 'csv-table', patch: [{ op: 'replace', path: '/limits/memoryMb', value: 16 }] },
      { kind: 'least-privilege', template: 'checksum', patch: [{ op: 'replace', path: '/permissions/env', value: ['CHECKSUM_SALT'] }], evidence: { permission: 'env', entries: ['LOG_LEVEL'] } },
    ];
    expect(removalsOf(suggestions)).toEqual([
      { template: 'csv-table', permission: 'kv' },
      { template: 'word-stats', permission: 'env' },
      { template: 'log-triage', permission: 'env' },
      { template: 'checksum', permission: 'env:LOG_LEVEL' },
    ]);
  });
});
