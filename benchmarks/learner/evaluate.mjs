/** @module benchmarks/learner/evaluate — walk-forward evaluation of limit recommenders on run records: at each window boundary a recommender sees only the past and is scored on the next window. */
import { observationsOf } from '../../dist/learner/features.js';
import { RESOURCES } from '../../dist/learner/recommender.js';

/** Nearest-rank percentile of ascending numbers, as `benchmarks/lib/measure.mjs` computes it (q in [0, 1]). */
export function nearestRank(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Scores one recommended limit on the runs of the window it would have governed.
 *
 * - `slack` = max(0, (limit − p95 of the window's peaks) / limit), the issue's definition. Censored peaks enter the
 *   p95 at their censored value, a lower bound of their need, so with censored runs the slack is an upper bound.
 *   Clamped at 0 as slack is unused capacity (Autopilot's sense, and `learner/backtest.ts`'s): a limit under the p95
 *   has none, and what it costs shows in the hit rate. Clamping also keeps one badly under-sized window from
 *   cancelling the over-sizing of others in a mean; `rawSlack` keeps the signed value.
 * - hits: an uncensored run is a hit when its peak is over the limit. A censored run (it was stopped at the limit in
 *   force `v`, so its need is ≥ v, by how much unknown) is a known hit when `v ≥ limit`; when `v < limit` whether it
 *   would have fitted is unknown. Unknown cases are COUNTED AS HITS (a limit earns credit only where the record proves
 *   it fits) and also counted in `unknown`, so `hits − unknown` is the optimistic bound. In effect every censored run
 *   is a hit for every recommender: nobody can be shown to have fixed it, and no one is rewarded for guessing.
 * @param {number} limit
 * @param {Array<{ value: number, censored: boolean }>} next the next window's observations
 */
export function scoreWindow(limit, next) {
  const peaks = next.map((o) => o.value).sort((a, b) => a - b);
  const p95 = nearestRank(peaks, 0.95);
  let hits = 0;
  let unknown = 0;
  for (const o of next) {
    if (!o.censored) {
      if (o.value > limit) hits++;
    } else if (o.value >= limit) hits++;
    else {
      hits++;
      unknown++;
    }
  }
  const rawSlack = (limit - p95) / limit;
  return { limit, p95, slack: Math.max(0, rawSlack), rawSlack, runs: next.length, hits, unknown };
}

/**
 * Walk-forward evaluation. Time from `startAt` is cut into consecutive windows of `windowMs`; at each boundary `b`
 * (from the first one on), every recommender gets, per template and resource, only the observations with `at < b`
 * and `now = b`, and its limit is scored ({@link scoreWindow}) on the observations in [b, b + windowMs). A window
 * is scored when the template has history before `b` and runs inside it. No random splits: time only moves forward.
 * The limit in force (`currentLimit`) is `limitsOf` of the template's latest record before `b`. Records are the
 * fixed history: a recommended limit is not fed back into later runs (an offline, counterfactual evaluation).
 *
 * Aggregates (per template and resource, and overall per resource): `slack` is the mean over scored windows (each
 * template-window counts once); `hitRate` and `unknownRate` are pooled over runs; `changeRate` is the share of
 * consecutive scored windows whose recommended limit differs from the one before.
 *
 * @param {{
 *   records: import('../../dist/index.js').RunRecord[],
 *   recommenders: import('../../dist/learner/recommender.js').LimitRecommender[],
 *   windowMs: number,
 *   resources?: Array<'memoryMb' | 'timeoutMs' | 'cpuMs'>,
 *   limitsOf: (record: import('../../dist/index.js').RunRecord) => import('../../dist/index.js').Limits | undefined,
 *   startAt?: number,
 *   endAt?: number,
 *   permissionSuggestions?: Array<{ template: string, permission: string }>,
 *   permissionTruth?: { unneeded: Record<string, string[]>, needed?: Record<string, string[]> },
 * }} options `resources` @default all three; `startAt` @default the earliest record; `endAt` @default just after the latest
 */
export async function evaluate(options) {
  const { records, recommenders, windowMs, limitsOf } = options;
  const resources = options.resources ?? [...RESOURCES];
  if (!(windowMs > 0)) throw new TypeError(`evaluate: option "windowMs" must be positive, got ${windowMs}`);
  if (typeof limitsOf !== 'function') throw new TypeError('evaluate: option "limitsOf" must be a function from a record to its limits');
  const names = new Set();
  for (const r of recommenders) {
    if (names.has(r.name)) throw new TypeError(`evaluate: two recommenders are named "${r.name}"; names key the results`);
    names.add(r.name);
  }
  const sorted = [...records].sort((a, b) => a.startedAt - b.startedAt);
  const startAt = options.startAt ?? sorted[0]?.startedAt ?? 0;
  const endAt = options.endAt ?? (sorted.length > 0 ? sorted[sorted.length - 1].startedAt + 1 : startAt);
  const boundaries = [];
  for (let b = startAt + windowMs; b < endAt; b += windowMs) boundaries.push(b);

  const byTemplate = new Map();
  for (const record of sorted) {
    if (!byTemplate.has(record.template)) byTemplate.set(record.template, []);
    byTemplate.get(record.template).push(record);
  }

  const cells = [];
  const seconds = Object.fromEntries(recommenders.map((r) => [r.name, 0]));
  for (const [template, templateRecords] of [...byTemplate].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    for (const resource of resources) {
      const observations = observationsOf(templateRecords, resource, limitsOf).sort((a, b) => a.at - b.at);
      for (const boundary of boundaries) {
        const cut = firstAtOrAfter(observations, boundary);
        const end = firstAtOrAfter(observations, boundary + windowMs);
        const history = observations.slice(0, cut);
        const next = observations.slice(cut, end);
        if (history.length === 0 || next.length === 0) continue;
        const inForce = latestBefore(templateRecords, boundary);
        const currentLimit = inForce ? limitsOf(inForce)?.[resource] : undefined;
        if (currentLimit === undefined) continue;
        for (const recommender of recommenders) {
          const started = performance.now();
          // A frozen copy: a recommender cannot reach the next window through the array it was handed, nor alter it for the others.
          const limit = await recommender.recommend(Object.freeze(history.slice()), { resource, currentLimit, now: boundary });
          seconds[recommender.name] += (performance.now() - started) / 1000;
          if (!(limit > 0)) throw new TypeError(`evaluate: recommender "${recommender.name}" returned ${limit} for ${template}/${resource}; limits must be positive`);
          cells.push({ recommender: recommender.name, template, resource, windowStart: boundary, currentLimit, historyRuns: history.length, ...scoreWindow(limit, next) });
        }
      }
    }
  }

  const result = {
    windowMs,
    startAt,
    boundaries,
    cells,
    byTemplate: aggregate(cells, (c) => `${c.recommender}\u0000${c.template}\u0000${c.resource}`),
    overall: aggregate(cells, (c) => `${c.recommender}\u0000*\u0000${c.resource}`),
    seconds,
  };
  if (options.permissionSuggestions && options.permissionTruth) result.permissions = permissionPrecision(options.permissionSuggestions, options.permissionTruth);
  return result;
}

/** Index of the first observation at or after `at` (observations sorted by `at`). */
function firstAtOrAfter(observations, at) {
  let lo = 0;
  let hi = observations.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (observations[mid].at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function latestBefore(sortedRecords, at) {
  let found;
  for (const record of sortedRecords) {
    if (record.startedAt >= at) break;
    found = record;
  }
  return found;
}

function aggregate(cells, keyOf) {
  const groups = new Map();
  for (const cell of cells) {
    const key = keyOf(cell);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(cell);
  }
  const rows = [];
  for (const [key, group] of groups) {
    const [recommender, template, resource] = key.split('\u0000');
    const runs = group.reduce((s, c) => s + c.runs, 0);
    // Changes are counted along each template's own sequence of windows, never across templates.
    let changes = 0;
    let transitions = 0;
    const byTemplate = new Map();
    for (const cell of group) {
      const previous = byTemplate.get(cell.template);
      if (previous !== undefined) {
        transitions++;
        if (previous !== cell.limit) changes++;
      }
      byTemplate.set(cell.template, cell.limit);
    }
    rows.push({
      recommender,
      template,
      resource,
      windows: group.length,
      runs,
      slack: group.reduce((s, c) => s + c.slack, 0) / group.length,
      hitRate: group.reduce((s, c) => s + c.hits, 0) / runs,
      unknownRate: group.reduce((s, c) => s + c.unknown, 0) / runs,
      changeRate: transitions > 0 ? changes / transitions : 0,
      meanLimit: group.reduce((s, c) => s + c.limit, 0) / group.length,
    });
  }
  return rows;
}

/** The kind of a permission key: `env` of `env:LOG_LEVEL`, `kv` of `kv`. */
function kindOf(key) {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

/**
 * Precision (and recall) of least-privilege suggestions against the ground truth.
 * A suggestion names one permission key (`env:LOG_LEVEL`, `kv`) or a whole kind (`env`, `net`: remove every entry).
 * A key is correct when the template truly does not need it; a whole kind is correct when the template has an
 * unneeded entry of that kind and needs none of it (removing it breaks nothing and removes something).
 * Duplicate suggestions count once.
 * @param {Array<{ template: string, permission: string }>} suggestions
 * @param {{ unneeded: Record<string, string[]>, needed?: Record<string, string[]> }} groundTruth as `generateWorkload` returns it
 * @returns {{ suggested: number, correct: number, unneeded: number, found: number, precision: number, recall: number, wrong: Array<{ template: string, permission: string }>, missed: Array<{ template: string, permission: string }> }}
 *   precision = correct / suggested (NaN with no suggestion); recall = unneeded keys covered by correct suggestions / all unneeded keys;
 *   `missed` lists the unneeded keys no correct suggestion removes.
 */
export function permissionPrecision(suggestions, groundTruth) {
  const seen = new Set();
  const covered = new Set();
  const wrong = [];
  let correct = 0;
  for (const { template, permission } of suggestions) {
    const id = `${template}\u0000${permission}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const unneeded = groundTruth.unneeded[template] ?? [];
    const needed = groundTruth.needed?.[template] ?? [];
    let ok;
    let removes;
    if (permission.includes(':') || unneeded.includes(permission) || needed.includes(permission)) {
      ok = unneeded.includes(permission);
      removes = [permission];
    } else {
      removes = unneeded.filter((key) => kindOf(key) === permission);
      ok = removes.length > 0 && !needed.some((key) => kindOf(key) === permission);
    }
    if (ok) {
      correct++;
      for (const key of removes) covered.add(`${template}\u0000${key}`);
    } else wrong.push({ template, permission });
  }
  const unneededCount = Object.values(groundTruth.unneeded).reduce((s, keys) => s + keys.length, 0);
  const missed = Object.entries(groundTruth.unneeded).flatMap(([template, keys]) =>
    keys.filter((key) => !covered.has(`${template}\u0000${key}`)).map((permission) => ({ template, permission })),
  );
  return {
    suggested: seen.size,
    correct,
    unneeded: unneededCount,
    found: covered.size,
    precision: seen.size > 0 ? correct / seen.size : Number.NaN,
    recall: unneededCount > 0 ? covered.size / unneededCount : Number.NaN,
    wrong,
    missed,
  };
}

/**
 * The permission removals a list of learner suggestions proposes, as `{ template, permission }` for
 * {@link permissionPrecision}: every `least-privilege` patch operation on `/permissions/<kind>` that removes it or
 * sets it to null, false or [] (whole kind), every such kind in an object added at `/permissions`, and the single
 * entries a suggestion names in `evidence.entries` (`env:REGION`).
 * @param {Array<{ kind: string, template: string, patch: Array<{ op: string, path: string, value?: unknown }>, evidence?: { permission?: string, entries?: string[] } }>} suggestions
 */
export function removalsOf(suggestions) {
  const out = [];
  for (const suggestion of suggestions) {
    if (suggestion.kind !== 'least-privilege') continue;
    // Single entries of a list that stays: the evidence names them (the patch only shows what is kept).
    if (Array.isArray(suggestion.evidence?.entries)) {
      for (const entry of suggestion.evidence.entries) out.push({ template: suggestion.template, permission: `${suggestion.evidence.permission}:${entry}` });
      continue;
    }
    for (const op of suggestion.patch) {
      // A template without its own `permissions` object gets one: `add /permissions {"env": null}` empties env.
      if (op.path === '/permissions' && op.op !== 'remove' && op.value !== null && typeof op.value === 'object') {
        for (const [kind, value] of Object.entries(op.value)) if (isEmptied(value)) out.push({ template: suggestion.template, permission: kind });
        continue;
      }
      const match = /^\/permissions\/([^/]+)$/.exec(op.path);
      if (!match) continue;
      if (op.op === 'remove' || isEmptied(op.value)) out.push({ template: suggestion.template, permission: match[1].replace(/~1/g, '/').replace(/~0/g, '~') });
    }
  }
  return out;
}

/** A permission value that grants nothing. */
function isEmptied(value) {
  return value === null || value === false || (Array.isArray(value) && value.length === 0);
}

function pct(value) {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : 'n/a';
}

/**
 * A Markdown table of an evaluation: one row per recommender and resource, overall, then (with `perTemplate`) one
 * row per recommender, template and resource.
 */
export function formatEvaluation(result, { perTemplate = false } = {}) {
  const lines = ['| recommender | template | resource | windows | runs | slack (mean) | limit-hit rate | of which unknown | limit changes / window | mean limit |', '|---|---|---|---:|---:|---:|---:|---:|---:|---:|'];
  const rows = perTemplate ? [...result.overall, ...result.byTemplate] : result.overall;
  for (const row of rows) {
    lines.push(
      `| ${row.recommender} | ${row.template === '*' ? 'all' : row.template} | ${row.resource} | ${row.windows} | ${row.runs} | ${pct(row.slack)} | ${pct(row.hitRate)} | ${pct(row.unknownRate)} | ${pct(row.changeRate)} | ${row.meanLimit.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Precision and recall of failure-pattern suggestions against known patterns: a suggestion is correct when its template
 * has a pattern on the same input property and its threshold lies in the pattern's [lo, hi] (it refuses the failing
 * inputs and few workable ones). Recall: patterns with a correct suggestion / patterns.
 * @param {Array<{ kind: string, template: string, evidence?: { property?: string, threshold?: number } }>} suggestions
 * @param {Record<string, { property: string, lo: number, hi: number }>} patterns
 */
export function failurePatternPrecision(suggestions, patterns) {
  const own = suggestions.filter((s) => s.kind === 'failure-pattern');
  const found = new Set();
  const wrong = [];
  let correct = 0;
  for (const s of own) {
    const truth = patterns[s.template];
    const threshold = s.evidence?.threshold;
    if (truth && s.evidence?.property === truth.property && threshold >= truth.lo && threshold <= truth.hi) {
      correct++;
      found.add(s.template);
    } else wrong.push({ template: s.template, property: s.evidence?.property, threshold });
  }
  const total = Object.keys(patterns).length;
  return {
    suggested: own.length,
    correct,
    patterns: total,
    found: found.size,
    precision: own.length > 0 ? correct / own.length : Number.NaN,
    recall: total > 0 ? found.size / total : Number.NaN,
    wrong,
    missed: Object.keys(patterns).filter((template) => !found.has(template)),
  };
}
