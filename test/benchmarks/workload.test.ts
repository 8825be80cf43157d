// The workload generator: the planned sequence is fixed by the seed, and a real run yields records of the
// expected templates at the planned simulated times, with the ground truth matching the resolved templates.
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/run-record.js';
// @ts-expect-error plain ESM benchmark module without type declarations
import { createRandom, generateWorkload, inputOf, PERMISSION_GROUND_TRUTH, planWorkload } from '../../benchmarks/workload/index.mjs';

const DAY = 86_400_000;
const START = Date.UTC(2025, 0, 6);

interface PlannedRun {
  at: number;
  template: string;
  tenant: string;
  size: number;
  oversize: boolean;
  inputSeed: number;
}

describe('createRandom', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const a = createRandom(7);
    const b = createRandom(7);
    const c = createRandom(8);
    const first = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(first);
    expect(c.next()).not.toBe(first[0]);
    for (const x of first) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('planWorkload', () => {
  it('plans the same times, templates, tenants and inputs for the same seed', () => {
    const one = planWorkload({ runs: 200, seed: 3 });
    const two = planWorkload({ runs: 200, seed: 3 });
    expect(two.runs).toEqual(one.runs);
    for (const index of [0, 57, 199]) expect(inputOf(two.runs[index], two.corpus)).toEqual(inputOf(one.runs[index], one.corpus));
    const other = planWorkload({ runs: 200, seed: 4 });
    expect(other.runs.map((r: PlannedRun) => r.size)).not.toEqual(one.runs.map((r: PlannedRun) => r.size));
  });

  it('spreads runs in time order over the span, busier at the peak hour than twelve hours away', () => {
    const { runs } = planWorkload({ runs: 4000, seed: 1, spanMs: 7 * DAY });
    const ats = runs.map((r: PlannedRun) => r.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(ats[0]).toBeGreaterThanOrEqual(START);
    expect(ats[ats.length - 1]).toBeLessThan(START + 7 * DAY);
    const hourOf = (at: number) => new Date(at).getUTCHours();
    const peak = ats.filter((at: number) => [13, 14, 15].includes(hourOf(at))).length;
    const trough = ats.filter((at: number) => [1, 2, 3].includes(hourOf(at))).length;
    // Intensity 1.6 against 0.4 (amplitude 0.6): about 4 : 1.
    expect(peak / trough).toBeGreaterThan(2.5);
  });

  it('draws oversize inputs only for templates that have an oversize range, at about the set rate', () => {
    const { runs } = planWorkload({ runs: 3000, seed: 5, oversizeRate: 0.1 });
    const oversize = runs.filter((r: PlannedRun) => r.oversize);
    expect(new Set(oversize.map((r: PlannedRun) => r.template))).toEqual(new Set(['csv-table', 'checksum']));
    const eligible = runs.filter((r: PlannedRun) => r.template === 'csv-table' || r.template === 'checksum').length;
    expect(oversize.length / eligible).toBeGreaterThan(0.07);
    expect(oversize.length / eligible).toBeLessThan(0.13);
  });

  it('refuses a template it has no input recipe for', () => {
    expect(() => planWorkload({ templates: ['nope'] })).toThrow(/option "templates" names "nope"/);
  });
});

describe('generateWorkload (real agents)', () => {
  let workload: {
    records: RunRecord[];
    plan: { runs: PlannedRun[] };
    limits: Record<string, { memoryMb: number }>;
    limitsOf(record: RunRecord): { memoryMb: number } | undefined;
    permissions: Record<string, string[]>;
    groundTruth: { unneeded: Record<string, string[]> };
    summary: { runs: number; byTemplate: Record<string, { runs: number }> };
  };

  beforeAll(async () => {
    workload = await generateWorkload({ runs: 50, seed: 11, spanMs: DAY, oversizeRate: 0.2 });
  }, 120_000);


  it('records every planned run, in order, at its simulated time, for its template and tenant', () => {
    expect(workload.records).toHaveLength(50);
    expect(workload.records.map((r) => [r.startedAt, r.template, r.tenant])).toEqual(workload.plan.runs.map((r) => [r.at, r.template, r.tenant]));
    expect(new Set(workload.records.map((r) => r.template))).toEqual(new Set(['hello', 'word-stats', 'cpu-burn', 'csv-table', 'checksum']));
    for (const r of workload.records) expect(r.startedAt >= START && r.startedAt < START + DAY).toBe(true);
  });

  it('measures real resources: successful runs use CPU and heap, and only oversize inputs hit limits', () => {
    const planned = workload.plan.runs;
    const failed = workload.records.flatMap((r, index) => (r.outcome === 'error' ? [index] : []));
    expect(failed.length).toBeGreaterThan(0);
    for (const index of failed) {
      expect(planned[index]?.oversize).toBe(true);
      expect(['E_MEMORY_LIMIT', 'E_CPU_LIMIT', 'E_TIMEOUT']).toContain(workload.records[index]?.errorCode);
    }
    for (const r of workload.records.filter((r) => r.outcome === 'ok')) {
      expect(r.heapUsedAtEndBytes).toBeGreaterThan(0);
      expect(r.runMs).toBeGreaterThan(0);
    }
  });

  it('exposes the limits in force and a ground truth that matches the resolved permissions', () => {
    expect(workload.limits['csv-table']?.memoryMb).toBe(24);
    const csv = workload.records.find((r) => r.template === 'csv-table') as RunRecord;
    expect(workload.limitsOf(csv)?.memoryMb).toBe(24);
    for (const [name, granted] of Object.entries(workload.permissions)) expect(granted).toEqual(PERMISSION_GROUND_TRUTH[name].granted);
    expect(workload.groundTruth.unneeded).toEqual({
      hello: [],
      'word-stats': ['env:LOG_LEVEL'],
      'cpu-burn': [],
      'csv-table': ['env:LOG_LEVEL', 'kv'],
      checksum: ['env:LOG_LEVEL', 'net:hashes.example.com'],
    });
  });
});
