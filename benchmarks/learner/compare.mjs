/** @module benchmarks/learner/compare — compares limit recommenders at equal hit-rate budgets: each is calibrated on the tuning days (a walk-forward backtest, learner/calibration.ts) and scored on the test days, with paired block-bootstrap intervals, the whole slack/hit-rate curve, Autopilot's cost and a closed-loop replay. */
import { limitedRuns, scoreLimits, walkForward } from '../../dist/learner/backtest.js';
import { scaleForBudget } from '../../dist/learner/calibration.js';
import { admissionFeaturesOf, peakOf } from '../../dist/learner/features.js';
import { limitFor, RESOURCES } from '../../dist/learner/recommender.js';
import { createRandom } from '../workload/random.mjs';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MB = 1024 * 1024;

/** Uncensored hit-rate budgets the methods are calibrated to. */
export const BUDGETS = Object.freeze([0.005, 0.01, 0.02]);
/** c_over of Autopilot's cost `c_over·hits + Σ(L−u)⁺/L`. */
export const COSTS = Object.freeze([10, 30, 100]);
/** Global scales of the slack/hit-rate curve: 0.2 … 5, geometric (41 points). */
export const CURVE_SCALES = Object.freeze(Array.from({ length: 41 }, (_, i) => Number((0.2 * 25 ** (i / 40)).toPrecision(6))));

/**
 * A run record as observations of one resource, reading the record's own fields: a run stopped by this resource's limit
 * is censored at the limit it ran under (`record.limits`); a run stopped by another limit has no memory figure (left out)
 * and its CPU and wall figures are lower bounds (censored at the figure); memory is the heap the run grew
 * (`heapGrowthBytes`), never the isolate's heap after it. Returns the observations and, per observation, the index of its
 * record in `records`.
 * @param {import('../../dist/index.js').RunRecord[]} records
 * @param {'cpuMs' | 'timeoutMs' | 'memoryMb'} resource
 */
export function recordObservations(records, resource) {
  const observations = [];
  const indices = [];
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const size = Math.max(1, record.limits?.measure?.value ?? record.inputBytes);
    let value;
    let censored = false;
    if (record.censoredBy === resource) {
      value = record.limits?.[resource];
      censored = true;
    } else if (resource === 'memoryMb') {
      // The isolate's own heap plus the run's growth, as the product's observations count it.
      value = peakOf(record, 'memoryMb');
      if (value === undefined) continue;
    } else {
      value = resource === 'cpuMs' ? record.cpuMs : record.runMs;
      censored = record.censoredBy !== undefined;
    }
    if (!(value >= 0)) continue;
    observations.push({ at: record.startedAt, value, censored, features: admissionFeaturesOf(record), size });
    indices.push(i);
  }
  return { observations, indices };
}

/** Nearest-rank quantile of ascending numbers. */
function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function ruleKey(rule) {
  return `${rule.base}/${rule.exponent}/${rule.max}`;
}

/**
 * Calibrates every method on the tuning days and scores it on the test days. Deterministic: the same records, needs,
 * methods and seed give the same result, key for key (no timings in it; `seconds` is returned apart).
 *
 * Per template and resource, each method is walked forward with one recommendation per window (`windowMs`) over the
 * tuning days; the scale that meets each budget there ({@link scaleForBudget}, exact) is then applied to the same
 * method's recommendations on the test days (history: everything before each test window). Scores pool the templates'
 * runs (sums, not means). The bootstrap resamples blocks of `blockMs` of the test days with replacement, the same
 * blocks for every method (paired), `resamples` times from `seed`.
 *
 * Closed loop (when `needs` are given): on the test days a run whose true need is above the limit the method applied is
 * recorded censored at that limit, and the method's later windows see that history instead of the recorded one; each
 * resource is replayed on its own.
 *
 * @param {{
 *   records: import('../../dist/index.js').RunRecord[],
 *   needs?: Array<{ cpuMs: number, timeoutMs: number, memoryMb: number }>,
 *   methods: import('../../dist/learner/recommender.js').LimitRecommender[],
 *   resources?: Array<'cpuMs' | 'timeoutMs' | 'memoryMb'>,
 *   startAt: number,
 *   tuneDays?: number, testDays?: number, windowMs?: number, blockMs?: number,
 *   budgets?: number[], costs?: number[], scales?: number[], seed?: number, resamples?: number,
 *   references?: string[], closedLoopBudgets?: number[],
 * }} options `tuneDays` @default 4; `testDays` @default 3; `windowMs` @default 12 h; `blockMs` @default 1 h;
 *   `resamples` @default 1000; `seed` @default 1; `references`: methods every other is compared with, paired @default ['vpa', 'autopilot', 'autopilot-p98'];
 *   `closedLoopBudgets`: the budgets replayed closed-loop (it asks every method again per window) @default every budget
 */
export async function compareMethods(options) {
  const { records, needs, methods } = options;
  const resources = options.resources ?? [...RESOURCES];
  const tuneDays = options.tuneDays ?? 4;
  const testDays = options.testDays ?? 3;
  const windowMs = options.windowMs ?? 12 * HOUR_MS;
  const blockMs = options.blockMs ?? HOUR_MS;
  const budgets = options.budgets ?? [...BUDGETS];
  const costs = options.costs ?? [...COSTS];
  const scales = options.scales ?? [...CURVE_SCALES];
  const resamples = options.resamples ?? 1000;
  const seed = options.seed ?? 1;
  const references = options.references ?? ['vpa', 'autopilot', 'autopilot-p98'];
  const closedBudgets = new Set(options.closedLoopBudgets ?? budgets);
  const names = new Set();
  for (const method of methods) {
    if (names.has(method.name)) throw new TypeError(`compareMethods: two methods are named "${method.name}"; names key the results`);
    names.add(method.name);
  }
  if (needs && needs.length !== records.length) throw new TypeError(`compareMethods: option "needs" has ${needs.length} entries for ${records.length} records`);
  const tuneEnd = options.startAt + tuneDays * DAY_MS;
  const testEnd = tuneEnd + testDays * DAY_MS;
  const tuneBoundaries = [];
  for (let b = options.startAt + windowMs; b < tuneEnd; b += windowMs) tuneBoundaries.push(b);
  const testBoundaries = [];
  for (let b = tuneEnd; b < testEnd; b += windowMs) testBoundaries.push(b);
  const blocks = Math.ceil((testEnd - tuneEnd) / blockMs);

  const byTemplate = new Map();
  records.forEach((record, index) => {
    if (record.startedAt >= testEnd) return;
    if (!byTemplate.has(record.template)) byTemplate.set(record.template, []);
    byTemplate.get(record.template).push(index);
  });
  const templates = [...byTemplate.keys()].sort();
  const seconds = Object.fromEntries(methods.map((m) => [m.name, 0]));

  // cells[method][resource] = per template: { scales per budget, test runs (at, value, censored, base), rule keys per window, closed loop per budget }
  const cells = new Map(methods.map((m) => [m.name, new Map(resources.map((r) => [r, []]))]));
  for (const template of templates) {
    const indices = byTemplate.get(template);
    const templateRecords = indices.map((i) => records[i]);
    for (const resource of resources) {
      const { observations, indices: local } = recordObservations(templateRecords, resource);
      if (observations.length === 0) continue;
      const currentLimit = templateRecords[0].limits?.[resource];
      if (!(currentLimit > 0)) continue;
      const tuning = observations.filter((o) => o.at < tuneEnd);
      for (const method of methods) {
        const started = performance.now();
        const tuneWindows = walkForward(method, tuning, { resource, currentLimit, boundaries: tuneBoundaries });
        const testWindows = walkForward(method, observations, { resource, currentLimit, boundaries: testBoundaries });
        const budgetScales = budgets.map((budget) => scaleForBudget(tuneWindows, budget));
        let closed;
        if (needs) {
          const truth = local.map((l) => needs[indices[l]][resource]);
          closed = budgetScales.map((scale, b) => (closedBudgets.has(budgets[b]) ? closedLoop(method, observations, truth, { resource, currentLimit, boundaries: testBoundaries, scale, tuneEnd }) : undefined));
        }
        seconds[method.name] += (performance.now() - started) / 1000;
        const runs = testWindows.flatMap((w) => w.runs.map((o, i) => ({ at: o.at, value: o.value, censored: o.censored, base: w.base[i] })));
        cells.get(method.name).get(resource).push({ template, budgetScales, runs, rules: testWindows.map((w) => ruleKey(w.rule)), closed, tuneRuns: tuneWindows.reduce((s, w) => s + w.runs.length, 0) });
      }
    }
  }

  // The bootstrap's draws: the same block indices for every method, resource and budget (paired).
  const random = createRandom(seed);
  const draws = Array.from({ length: resamples }, () => Array.from({ length: blocks }, () => Math.floor(random.next() * blocks)));

  const rows = [];
  const curves = [];
  for (const resource of resources) {
    for (let b = 0; b < budgets.length; b++) {
      const perMethod = new Map();
      for (const method of methods) {
        const templateCells = cells.get(method.name).get(resource);
        const limited = [];
        const blockSums = Array.from({ length: blocks }, () => ({ used: 0, reserved: 0, hits: 0, n: 0 }));
        let changes = 0;
        let transitions = 0;
        const perTemplate = {};
        for (const cell of templateCells) {
          const scale = cell.budgetScales[b];
          const own = [];
          for (const run of cell.runs) {
            const limit = scale * run.base;
            const entry = { value: run.value, censored: run.censored, limit };
            limited.push(entry);
            own.push(entry);
            if (!run.censored) {
              const sums = blockSums[Math.min(blocks - 1, Math.floor((run.at - tuneEnd) / blockMs))];
              sums.used += run.value;
              sums.reserved += limit;
              sums.n++;
              if (run.value > limit) sums.hits++;
            }
          }
          for (let w = 1; w < cell.rules.length; w++) {
            transitions++;
            if (cell.rules[w] !== cell.rules[w - 1]) changes++;
          }
          const s = scoreLimits(own);
          perTemplate[cell.template] = { scale: round(scale, 6), capacitySlack: round(s.capacitySlack), hitRate: round(s.hitRate), runs: s.runs };
        }
        const score = scoreLimits(limited);
        const boot = draws.map((draw) => {
          let used = 0;
          let reserved = 0;
          let hits = 0;
          let n = 0;
          for (const k of draw) {
            const sums = blockSums[k];
            used += sums.used;
            reserved += sums.reserved;
            hits += sums.hits;
            n += sums.n;
          }
          return { slack: reserved > 0 ? 1 - used / reserved : Number.NaN, hitRate: n > 0 ? hits / n : Number.NaN };
        });
        let closed;
        if (needs && closedBudgets.has(budgets[b])) {
          const sums = { runs: 0, hits: 0, used: 0, reserved: 0, underuse: 0 };
          for (const cell of templateCells) {
            const c = cell.closed[b];
            for (const key of Object.keys(sums)) sums[key] += c[key];
          }
          closed = { runs: sums.runs, hitRate: round(sums.runs > 0 ? sums.hits / sums.runs : Number.NaN), capacitySlack: round(sums.reserved > 0 ? 1 - sums.used / sums.reserved : Number.NaN) };
        }
        perMethod.set(method.name, { score, boot, changes, transitions, perTemplate, closed });
      }
      for (const method of methods) {
        const { score, boot, changes, transitions, perTemplate, closed } = perMethod.get(method.name);
        const n = score.uncensored;
        const vs = {};
        for (const ref of references) {
          if (ref === method.name || !perMethod.has(ref)) continue;
          const other = perMethod.get(ref).boot;
          vs[ref] = interval(boot.map((x, i) => x.slack - other[i].slack));
        }
        rows.push({
          method: method.name,
          resource,
          budget: budgets[b],
          runs: score.runs,
          uncensored: n,
          capacitySlack: round(score.capacitySlack),
          capacitySlackCi: interval(boot.map((x) => x.slack)),
          perRunSlack: round(score.perRunSlack),
          hitRate: round(score.hitRate),
          hitRateCi: interval(boot.map((x) => x.hitRate)),
          hits: score.hits,
          censored: score.censored,
          censoredHits: score.censoredHits,
          censoredUnknown: score.censoredUnknown,
          changesPerWindow: round(transitions > 0 ? changes / transitions : 0),
          cost: Object.fromEntries(costs.map((c) => [c, round(n > 0 ? (c * score.hits + score.underuse) / n : Number.NaN)])),
          slackDifferenceCi: vs,
          ...(closed ? { closedLoop: closed } : {}),
          perTemplate,
        });
      }
    }
    // The whole curve: one global scale on each method's raw recommendations, on the test days.
    for (const method of methods) {
      const templateCells = cells.get(method.name).get(resource);
      const points = scales.map((scale) => {
        const s = scoreLimits(templateCells.flatMap((cell) => cell.runs.map((run) => ({ value: run.value, censored: run.censored, limit: scale * run.base }))));
        return { scale, hitRate: round(s.hitRate), capacitySlack: round(s.capacitySlack) };
      });
      // In hindsight: the least slack any single scale reaches on the test days within each budget.
      const atBudget = Object.fromEntries(budgets.map((budget) => [budget, hindsight(templateCells, budget)]));
      curves.push({ method: method.name, resource, points, hindsight: atBudget });
    }
  }
  return {
    result: {
      tuneDays,
      testDays,
      windowMs,
      blockMs,
      resamples,
      seed,
      budgets,
      templates,
      tuneWindows: tuneBoundaries.length,
      testWindows: testBoundaries.length,
      rows,
      curves,
    },
    seconds,
  };
}

/** The capacity slack at the least global scale whose test-day hit rate is within `budget` (exact, as calibration is). */
function hindsight(templateCells, budget) {
  const windows = templateCells.map((cell) => ({ runs: cell.runs, base: cell.runs.map((r) => r.base) }));
  const scale = scaleForBudget(windows, budget);
  const s = scoreLimits(templateCells.flatMap((cell) => cell.runs.map((run) => ({ value: run.value, censored: run.censored, limit: scale * run.base }))));
  return { scale: round(scale, 6), capacitySlack: round(s.capacitySlack), hitRate: round(s.hitRate) };
}

/**
 * Replays the test days with the method's limits applied: a run whose true need is over its limit is censored at it,
 * and the method's later windows see that. Sums of the replay, scored against the true needs.
 */
function closedLoop(method, observations, truth, { resource, currentLimit, boundaries, scale, tuneEnd }) {
  const history = observations.filter((o) => o.at < tuneEnd);
  const sums = { runs: 0, hits: 0, used: 0, reserved: 0, underuse: 0 };
  let cursor = history.length;
  for (let w = 0; w < boundaries.length; w++) {
    const start = boundaries[w];
    const end = w + 1 < boundaries.length ? boundaries[w + 1] : Number.POSITIVE_INFINITY;
    const rule = typeof method.recommendRule === 'function' ? method.recommendRule(Object.freeze(history.slice()), { resource, currentLimit, now: start }) : undefined;
    const flat = rule === undefined ? method.recommend(Object.freeze(history.slice()), { resource, currentLimit, now: start }) : undefined;
    while (cursor < observations.length && observations[cursor].at < end) {
      const o = observations[cursor];
      const need = truth[cursor];
      cursor++;
      if (o.at < start) continue;
      const limit = scale * (rule ? limitFor(rule, o.size) : flat);
      sums.runs++;
      if (need > limit) {
        sums.hits++;
        history.push({ ...o, value: limit, censored: true });
      } else {
        sums.used += need;
        sums.reserved += limit;
        sums.underuse += (limit - need) / limit;
        history.push({ ...o, value: need, censored: false });
      }
    }
  }
  return sums;
}

function interval(values) {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return [Number.NaN, Number.NaN];
  return [round(quantile(finite, 0.025)), round(quantile(finite, 0.975))];
}

function round(value, digits = 5) {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function signed(value) {
  return Number.isFinite(value) ? `${value > 0 ? '+' : ''}${(value * 100).toFixed(1)}` : 'n/a';
}

function pct(value, digits = 1) {
  return Number.isFinite(value) ? (value * 100).toFixed(digits) : 'n/a';
}

/**
 * The comparison as Markdown: per budget, one row per method and resource; then the curve in hindsight. Deterministic
 * (no timings).
 * @param {Awaited<ReturnType<typeof compareMethods>>['result']} result
 */
export function formatComparison(result, { title } = {}) {
  const lines = [];
  if (title) lines.push(title, '');
  for (const budget of result.budgets) {
    lines.push(`Budget: uncensored hit rate ≤ ${pct(budget)} % on the tuning days (days 1–${result.tuneDays}); scores on the test days (days ${result.tuneDays + 1}–${result.tuneDays + result.testDays}).`, '');
    lines.push('| method | resource | capacity slack % [95% CI] | Δ slack vs vpa / autopilot, points [paired 95% CI] | per-run slack % | hit rate % [95% CI] | censored: known hit / unknown | limit changes / window | cost per run, c_over 10 / 30 / 100 | closed loop: slack % / hit rate % |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of result.rows.filter((r) => r.budget === budget)) {
      const closed = row.closedLoop ? `${pct(row.closedLoop.capacitySlack)} / ${pct(row.closedLoop.hitRate, 2)}` : '—';
      lines.push(
        `| ${row.method} | ${row.resource} | ${pct(row.capacitySlack)} [${pct(row.capacitySlackCi[0])}, ${pct(row.capacitySlackCi[1])}] | ${['vpa', 'autopilot'].map((ref) => (row.slackDifferenceCi[ref] ? `[${signed(row.slackDifferenceCi[ref][0])}, ${signed(row.slackDifferenceCi[ref][1])}]` : '—')).join(' / ')} | ${pct(row.perRunSlack)} | ${pct(row.hitRate, 2)} [${pct(row.hitRateCi[0], 2)}, ${pct(row.hitRateCi[1], 2)}] | ${row.censoredHits} / ${row.censoredUnknown} | ${row.changesPerWindow.toFixed(2)} | ${Object.values(row.cost).map((c) => (Number.isFinite(c) ? c.toFixed(3) : 'n/a')).join(' / ')} | ${closed} |`,
      );
    }
    lines.push('');
  }
  lines.push('The curve, in hindsight: capacity slack % at the least global scale of each method\'s limits whose test-day hit rate is within the budget (the best any one scale could do; the whole curve is in the JSON).', '');
  lines.push(`| method | resource | ${result.budgets.map((b) => `≤ ${pct(b)} %`).join(' | ')} |`);
  lines.push(`|---|---|${result.budgets.map(() => '---:').join('|')}|`);
  for (const curve of result.curves) lines.push(`| ${curve.method} | ${curve.resource} | ${result.budgets.map((b) => pct(curve.hindsight[b].capacitySlack)).join(' | ')} |`);
  return lines.join('\n');
}
