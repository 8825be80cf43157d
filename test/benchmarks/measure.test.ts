// The statistics every benchmark figure goes through, with exact expected values, and the suite runner's --quick
// output format.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs benchmark helpers, no type declarations
import * as measure from '../../benchmarks/lib/measure.mjs';

const { formatNumber, markdownTable, median, medianOfRounds, metric, percentile, ratio, sample, scaleStats, single, summarise, toMs } = measure;
const ROOT = path.resolve(import.meta.dirname, '../..');

describe('percentile (nearest rank)', () => {
  const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it('picks the nearest-rank element', () => {
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 95)).toBe(10);
    expect(percentile(sorted, 90)).toBe(9);
    expect(percentile(sorted, 10)).toBe(1);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 100)).toBe(10);
  });
  it('works on 100 and 1000 samples', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99)]).toEqual([50, 95, 99]);
    const thousand = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect([percentile(thousand, 50), percentile(thousand, 95), percentile(thousand, 99)]).toEqual([500, 950, 990]);
  });
  it('is NaN for no samples and the value for one', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('summarise', () => {
  it('sorts a copy and reports n, percentiles, mean, min and max', () => {
    const samples = [5, 1, 4, 2, 3];
    expect(summarise(samples)).toEqual({ n: 5, p50: 3, p95: 5, p99: 5, mean: 3, min: 1, max: 5 });
    expect(samples).toEqual([5, 1, 4, 2, 3]);
  });
  it('keeps a long tail out of p50 but in p99', () => {
    const samples = [...Array.from({ length: 99 }, () => 1), 1000];
    const stats = summarise(samples);
    expect(stats.p50).toBe(1);
    expect(stats.p95).toBe(1);
    expect(stats.p99).toBe(1);
    expect(stats.max).toBe(1000);
    expect(stats.mean).toBeCloseTo(10.99, 10);
  });
});

describe('median, ratio and derived figures', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
  it('medianOfRounds runs every round and picks the middle', async () => {
    const values = [9, 1, 5];
    const rounds: number[] = [];
    expect(await medianOfRounds(3, (i: number) => (rounds.push(i), values[i]))).toBe(5);
    expect(rounds).toEqual([0, 1, 2]);
  });
  it('ratio is NaN instead of infinite for a zero or missing denominator', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(1, Number.NaN)).toBeNaN();
    expect(ratio(Number.NaN, 1)).toBeNaN();
  });
  it('scaleStats and toMs scale every time-like field and leave n', () => {
    const stats = { n: 4, p50: 1000, p95: 2000, p99: 3000, mean: 1500, min: 500, max: 4000 };
    expect(toMs(stats)).toEqual({ n: 4, p50: 1, p95: 2, p99: 3, mean: 1.5, min: 0.5, max: 4 });
    expect(scaleStats(stats, 2)).toEqual({ n: 4, p50: 2000, p95: 4000, p99: 6000, mean: 3000, min: 1000, max: 8000 });
  });
  it('single makes a derived figure a row whose every percentile is the value', () => {
    expect(single(42, 3)).toEqual({ n: 3, p50: 42, p95: 42, p99: 42, mean: 42, min: 42, max: 42 });
  });
});

describe('sample', () => {
  it('runs warm-up then samples, calls before each, and hands the raw samples to keep', async () => {
    const calls: string[] = [];
    const keep: number[] = [];
    const stats = await sample((i: number) => calls.push(`run ${i}`), { warmup: 2, samples: 3, before: (i: number) => calls.push(`before ${i}`), keep });
    expect(calls).toEqual(['before 0', 'run 0', 'before 1', 'run 1', 'before 0', 'run 0', 'before 1', 'run 1', 'before 2', 'run 2']);
    expect(stats.n).toBe(3);
    expect(keep).toHaveLength(3);
    expect(keep.every((t) => t >= 0)).toBe(true);
    expect(stats.p99).toBe(Math.max(...keep));
  });
});

describe('metric and the report table', () => {
  const stats = { n: 10, p50: 0.5, p95: 2, p99: 3 };
  it('judges a maximum and a minimum target on the chosen statistic', () => {
    expect(metric('a', 'ms', stats, { stat: 'p95', max: 2 }).met).toBe(true);
    expect(metric('a', 'ms', stats, { stat: 'p95', max: 1.9 }).met).toBe(false);
    expect(metric('b', 'runs/s', stats, { stat: 'p50', min: 0.5 }).met).toBe(true);
    expect(metric('b', 'runs/s', stats, { stat: 'p50', min: 0.6 }).met).toBe(false);
    expect(metric('c', 'ms', stats)).toEqual({ name: 'c', unit: 'ms', n: 10, p50: 0.5, p95: 2, p99: 3 });
  });
  it('never meets a target with a NaN figure', () => {
    expect(metric('d', '×', single(Number.NaN), { stat: 'p50', min: 10 }).met).toBe(false);
    expect(metric('d', 'ms', single(Number.NaN), { stat: 'p50', max: 10 }).met).toBe(false);
  });
  it('formats numbers by magnitude', () => {
    expect([formatNumber(1234.5), formatNumber(12.345), formatNumber(1.2345), formatNumber(0.12345), formatNumber(Number.NaN)]).toEqual(['1235', '12.3', '1.23', '0.123', 'NaN']);
  });
  it('renders rows with targets', () => {
    const table = markdownTable([metric('warm createAgent', 'ms', stats, { stat: 'p95', max: 0.25 }), metric('plain', 'µs', stats)]);
    expect(table.split('\n')).toEqual([
      '| metric | unit | p50 | p95 | p99 | n | target | met |',
      '|---|---|---:|---:|---:|---:|---|---|',
      '| warm createAgent | ms | 0.500 | 2.00 | 3.00 | 10 | p95 ≤ 0.25 | **no** |',
      '| plain | µs | 0.500 | 2.00 | 3.00 | 10 |  |  |',
    ]);
  });
});

describe('benchmarks/run.mjs --quick', () => {
  it('writes a well-formed results/quick.json for one cheap benchmark', async () => {
    const file = path.join(ROOT, 'benchmarks/results/quick.json');
    const saved = existsSync(file) ? readFileSync(file) : undefined;
    try {
      await promisify(execFile)(process.execPath, ['--no-node-snapshot', 'benchmarks/run.mjs', '--quick', 'telemetry'], { cwd: ROOT, timeout: 90_000 });
      const written = JSON.parse(readFileSync(file, 'utf8'));
      expect(written.meta).toMatchObject({ quick: true, only: ['telemetry'], node: process.version });
      expect(typeof written.meta.commit).toBe('string');
      expect(Number.isNaN(Date.parse(written.meta.date))).toBe(false);
      expect(written.meta.cores).toBeGreaterThan(0);
      expect(written.results).toHaveLength(1);
      const [result] = written.results;
      expect(result).toMatchObject({ name: 'telemetry' });
      expect(result.skipped).toBeUndefined();
      expect(result.metrics.length).toBeGreaterThan(0);
      for (const row of result.metrics) {
        expect(typeof row.name).toBe('string');
        expect(typeof row.unit).toBe('string');
        for (const stat of ['p50', 'p95', 'p99']) expect(Number.isFinite(row[stat])).toBe(true);
        expect(row.p50).toBeLessThanOrEqual(row.p95);
        expect(row.p95).toBeLessThanOrEqual(row.p99);
        if (row.target) expect(typeof row.met).toBe('boolean');
      }
    } finally {
      if (saved) writeFileSync(file, saved);
      else rmSync(file, { force: true });
    }
  }, 120_000);
});
