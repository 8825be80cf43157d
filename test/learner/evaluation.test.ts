// The limit comparison's walk-forward on crafted records with known answers (each method is handed only the past, a
// spike counts against its own window, censored runs are scored apart), and the precision of permission suggestions.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM benchmark module without type declarations
import { compareMethods, permissionPrecision, removalsOf } from '../../benchmarks/learner/index.mjs';
import type { RunRecord } from '../../core/run-record.js';
import { AutopilotRecommender, StaticRecommender } from '../../learner/baselines.js';
import type { LimitRecommender, Observation, RecommendContext } from '../../learner/recommender.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 0, 6);
const TUNE_END = T0 + 96 * HOUR;
const LIMITS = { cpuMs: 100, timeoutMs: 1000, memoryMb: 20 };

function record(at: number, cpuMs: number, censoredBy?: 'cpuMs'): RunRecord {
  return {
    id: `run-${at}`,
    template: 'flat',
    version: '1.0.0',
    digest: 'digest-flat',
    env: 'dev',
    tenant: 'default',
    startedAt: at,
    createMs: 0,
    runMs: cpuMs + 1,
    cpuMs: censoredBy ? LIMITS.cpuMs : cpuMs,
    heapUsedAtEndBytes: 1,
    ...(censoredBy ? { censoredBy, outcome: 'error' as const, errorCode: 'E_CPU_LIMIT' as const } : { heapGrowthBytes: 1024 * 1024, outcome: 'ok' as const }),
    limits: { ...LIMITS },
    inputBytes: 10,
    outputBytes: 10,
    tools: {},
    denials: [],
    logsDropped: 0,
    depth: 0,
  };
}

/** One run an hour for 7 days, CPU 10 ms, except where `cpuAt` says otherwise. */
function week(cpuAt: (hour: number) => number | 'killed' = () => 10): RunRecord[] {
  return Array.from({ length: 168 }, (_, h) => {
    const cpu = cpuAt(h);
    return cpu === 'killed' ? record(T0 + h * HOUR, 0, 'cpuMs') : record(T0 + h * HOUR, cpu);
  });
}

const options = { startAt: T0, resources: ['cpuMs'], budgets: [0.01], resamples: 20 };

interface Row {
  method: string;
  hits: number;
  hitRate: number;
  censoredHits: number;
  censoredUnknown: number;
}

describe('compareMethods', () => {
  it('hands each method exactly the runs before each window start, frozen, with now = the start', async () => {
    const calls: Array<{ now: number; count: number; latest: number; frozen: boolean }> = [];
    const spy: LimitRecommender = {
      name: 'spy',
      recommend(history: readonly Observation[], context: RecommendContext) {
        calls.push({ now: context.now, count: history.length, latest: Math.max(...history.map((o) => o.at)), frozen: Object.isFrozen(history) });
        return 20;
      },
    };
    await compareMethods({ records: week(), methods: [spy], ...options });
    // Tuning: a window every 12 h from 12 h to 84 h; test: from 96 h (day 5) to 156 h.
    expect(calls.map((c) => (c.now - T0) / HOUR)).toEqual([12, 24, 36, 48, 60, 72, 84, 96, 108, 120, 132, 144, 156]);
    for (const call of calls) {
      expect(call.count).toBe((call.now - T0) / HOUR);
      expect(call.latest).toBe(call.now - HOUR);
      expect(call.frozen).toBe(true);
    }
  });

  it('counts a spike against the window it falls in, at the scale calibrated on the tuning days', async () => {
    // 10 ms every hour; 50 ms at hour 100 (the first test window). Autopilot says 20 on the tuning days (max 10 × 1.15,
    // rounded up to 10 ms), calibrated to × 0.5; the spike is a hit, and the next window's limit covers it.
    const { result } = await compareMethods({ records: week((h) => (h === 100 ? 50 : 10)), methods: [new AutopilotRecommender()], ...options });
    const [row] = result.rows as Row[];
    expect(row).toMatchObject({ hits: 1, hitRate: Number((1 / 72).toFixed(5)) });
    expect(result.rows[0].perTemplate.flat.scale).toBe(0.5);
  });

  it('scores censored runs apart: a known hit at or under the limit they broke, unknown above it', async () => {
    const records = week((h) => (h === 120 ? 'killed' : 10));
    // Says 100 on the tuning days (scale 0.1), then `later`: 10 or 200 after scaling, around the 100 ms the run broke.
    const saying = (name: string, later: number): LimitRecommender => ({ name, recommend: (_h, context) => (context.now < TUNE_END ? 100 : later) });
    const { result } = await compareMethods({ records, methods: [saying('under', 100), saying('over', 2000)], ...options });
    const byName = Object.fromEntries((result.rows as Row[]).map((row) => [row.method, row]));
    expect(byName.under).toMatchObject({ censoredHits: 1, censoredUnknown: 0, hits: 0 });
    expect(byName.over).toMatchObject({ censoredHits: 0, censoredUnknown: 1, hits: 0 });
  });

  it('refuses two methods of one name', async () => {
    await expect(compareMethods({ records: week(), methods: [new StaticRecommender(), new StaticRecommender()], ...options })).rejects.toThrow(/two methods are named "static"/);
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
