// Sampling and percentiles shared by every benchmark: warm-up, many samples, p50/p95/p99 rather than means.

/** Percentile `p` (0..100) of sorted numbers, nearest-rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Summary of samples in the unit they were taken in. */
export function summarise(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean: sum / sorted.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

/**
 * Times `fn` (sync or async) `samples` times after `warmup` calls, in microseconds.
 * `before` runs untimed ahead of each sample (to reset state for cold measurements). `keep`, an array, receives
 * the raw samples, so rounds can be pooled before taking percentiles.
 */
export async function sample(fn, { warmup = 100, samples = 1000, before, keep } = {}) {
  for (let i = 0; i < warmup; i++) {
    if (before) await before(i);
    await fn(i);
  }
  const times = new Array(samples);
  for (let i = 0; i < samples; i++) {
    if (before) await before(i);
    const start = process.hrtime.bigint();
    await fn(i);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  if (keep) keep.push(...times);
  return summarise(times);
}

/** Median of repeated rounds of a number-returning measurement, to damp a noisy machine. */
export async function medianOfRounds(rounds, measure) {
  const values = [];
  for (let i = 0; i < rounds; i++) values.push(await measure(i));
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)];
}

/** Median of numbers (the mean of the middle two for an even count); NaN for none. */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Stats with every time-like field multiplied by `factor` (n untouched): µs → ms is scaleStats(stats, 1e-3). */
export function scaleStats(stats, factor) {
  const out = { ...stats };
  for (const key of ['p50', 'p95', 'p99', 'mean', 'min', 'max']) if (typeof out[key] === 'number') out[key] = stats[key] * factor;
  return out;
}

/** Microsecond stats (what sample() returns) in milliseconds. */
export function toMs(stats) {
  return scaleStats(stats, 1 / 1000);
}

/**
 * Stats for one derived figure (a ratio, a throughput) so it fits a metric row: every percentile is the value.
 * `n` says how many rounds it is the median of.
 */
export function single(value, n = 1) {
  return { ...summarise([value]), n };
}

/** a ÷ b, NaN when b is not a positive finite number (so a broken peer never reads as an infinite advantage). */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN;
}

/** A metric row for the report: value in `unit`, with the target it is judged against. */
export function metric(name, unit, stats, target) {
  const row = { name, unit, ...stats };
  if (target) {
    const value = stats[target.stat];
    row.target = target;
    row.met = target.max !== undefined ? value <= target.max : value >= target.min;
  }
  return row;
}

export function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** A Markdown table of metric rows. */
export function markdownTable(rows) {
  const lines = ['| metric | unit | p50 | p95 | p99 | n | target | met |', '|---|---|---:|---:|---:|---:|---|---|'];
  for (const row of rows) {
    const target = row.target ? `${row.target.stat} ${row.target.max !== undefined ? '≤' : '≥'} ${row.target.max ?? row.target.min}` : '';
    const met = row.target ? (row.met ? 'yes' : '**no**') : '';
    lines.push(`| ${row.name} | ${row.unit} | ${formatNumber(row.p50)} | ${formatNumber(row.p95)} | ${formatNumber(row.p99)} | ${row.n ?? ''} | ${target} | ${met} |`);
  }
  return lines.join('\n');
}

/** Runs a benchmark module's default export when the file is executed directly. */
export async function runStandalone(importMetaUrl, bench) {
  const { fileURLToPath } = await import('node:url');
  if (process.argv[1] !== fileURLToPath(importMetaUrl)) return;
  const quick = process.argv.includes('--quick');
  const result = await bench({ quick });
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`## ${result.title}\n\n${markdownTable(result.metrics)}\n${result.notes ? `\n${result.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`);
}
