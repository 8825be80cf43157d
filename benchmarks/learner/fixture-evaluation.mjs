/** @module benchmarks/learner/fixture-evaluation — the learner's evaluation on the frozen fixtures: every seed's fleet, methods compared at equal budgets, and the precision of least-privilege and failure-pattern suggestions; a JSON result and a Markdown section, identical on every run. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareMethods, formatComparison } from './compare.mjs';
import { failurePatternPrecision, permissionPrecision, removalsOf } from './evaluate.mjs';
import { FIXTURE_SEEDS, FIXTURE_TEMPLATES, fixtureDigest, fixtureTemplate, generateFixture } from './fixtures.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The committed digests of the fixtures (`fixtures/SHA256SUMS`): seed → sha256. */
export function frozenDigests() {
  const text = readFileSync(path.join(HERE, 'fixtures', 'SHA256SUMS'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [digest, name] = line.trim().split(/\s+/);
        return [Number(name.replace('seed-', '')), digest];
      }),
  );
}

/**
 * Evaluates `methods` on each seed's fixture, and the suggestion generators given (the product's, from dist/learner).
 * @param {{
 *   methods: import('../../dist/learner/recommender.js').LimitRecommender[] | ((seed: number) => import('../../dist/learner/recommender.js').LimitRecommender[]),
 *   seeds?: number[],
 *   fixture?: { days?: number, runsPerDay?: number },
 *   resamples?: number,
 *   closedLoopBudgets?: number[],
 *   generators?: { leastPrivilege?: (history: object) => object[], failurePattern?: (history: object) => object[] },
 *   onSeed?: (seed: number) => void,
 * }} options `methods`: a list, or the list for each seed (slow methods on fewer seeds); `seeds` @default FIXTURE_SEEDS; `fixture`: generator options (the frozen ones when absent)
 * @returns {Promise<{ result: object, seconds: Record<string, number> }>} `result` is deterministic; `seconds` (recommend time per method) is not
 */
export async function evaluateFixtures(options) {
  const seeds = options.seeds ?? [...FIXTURE_SEEDS];
  const frozen = options.fixture ? {} : frozenDigests();
  const seconds = {};
  const perSeed = [];
  for (const seed of seeds) {
    options.onSeed?.(seed);
    const fixture = generateFixture({ ...options.fixture, seed });
    const digest = fixtureDigest(fixture);
    const { result, seconds: spent } = await compareMethods({
      records: fixture.records,
      needs: fixture.needs,
      methods: typeof options.methods === 'function' ? options.methods(seed) : options.methods,
      startAt: fixture.options.startAt,
      tuneDays: (fixture.options.days * 4) / 7,
      testDays: (fixture.options.days * 3) / 7,
      seed,
      ...(options.resamples !== undefined ? { resamples: options.resamples } : {}),
      ...(options.closedLoopBudgets !== undefined ? { closedLoopBudgets: options.closedLoopBudgets } : {}),
    });
    for (const [name, s] of Object.entries(spent)) seconds[name] = (seconds[name] ?? 0) + s;
    const kills = {};
    for (const record of fixture.records) if (record.censoredBy) kills[record.censoredBy] = (kills[record.censoredBy] ?? 0) + 1;
    const entry = {
      seed,
      digest,
      frozen: frozen[seed] === undefined ? null : frozen[seed] === digest,
      runs: fixture.records.length,
      errors: fixture.records.filter((r) => r.outcome === 'error').length,
      killed: kills,
      incidents: fixture.incidents.length,
      comparison: result,
    };
    if (options.generators) Object.assign(entry, scoreGenerators(fixture, options.generators));
    perSeed.push(entry);
  }
  return { result: { seeds: perSeed }, seconds };
}

/** The product's suggestion generators on one fixture, scored against its truth. */
function scoreGenerators(fixture, generators) {
  const lp = [];
  const fp = [];
  for (const name of Object.keys(FIXTURE_TEMPLATES)) {
    const records = fixture.records.filter((record) => record.template === name);
    const { template, raw } = fixtureTemplate(name, fixture.records);
    const history = { template, raw, hasParent: false, isExtended: false, records, limitsOf: (record) => record.limits, now: (records.at(-1)?.startedAt ?? 0) + 1 };
    if (generators.leastPrivilege) lp.push(...generators.leastPrivilege(history));
    if (generators.failurePattern) fp.push(...generators.failurePattern(history));
  }
  const out = {};
  if (generators.leastPrivilege) out.leastPrivilege = permissionPrecision(removalsOf(lp), fixture.truth.permissions);
  if (generators.failurePattern) out.failurePattern = failurePatternPrecision(fp, fixture.truth.failurePatterns);
  return out;
}

function pct(value, digits = 1) {
  return Number.isFinite(value) ? (value * 100).toFixed(digits) : 'n/a';
}

/** The Markdown section: the fixtures, the first seed in full, every seed's capacity slack and hit rate, the generators' scores. */
export function formatFixtureEvaluation(result) {
  const lines = [];
  const seeds = result.seeds;
  lines.push(
    `Fixtures: ${seeds.map((s) => `seed ${s.seed}: ${s.runs} runs, ${s.errors} errors, killed at a limit ${Object.entries(s.killed).map(([r, n]) => `${n} ${r}`).join(', ') || 'none'}, ${s.incidents} incidents, sha256 ${s.digest.slice(0, 12)}${s.frozen === false ? ' (**differs from fixtures/SHA256SUMS**)' : ''}`).join('; ')}.`,
    '',
  );
  const first = seeds[0];
  lines.push(`### Seed ${first.seed}`, '', formatComparison(first.comparison), '');
  if (seeds.length > 1) {
    const budgets = first.comparison.budgets;
    lines.push('### Every seed: capacity slack % (hit rate %) on the test days', '');
    lines.push(`| method | resource | ${budgets.map((b) => `budget ${pct(b)} %: ${seeds.map((s) => `seed ${s.seed}`).join(' / ')}`).join(' | ')} |`);
    lines.push(`|---|---|${budgets.map(() => '---:').join('|')}|`);
    for (const row of first.comparison.rows.filter((r) => r.budget === budgets[0])) {
      const cells = budgets.map((budget) =>
        seeds
          .map((s) => s.comparison.rows.find((r) => r.method === row.method && r.resource === row.resource && r.budget === budget))
          .map((r) => (r ? `${pct(r.capacitySlack)} (${pct(r.hitRate, 2)})` : '—'))
          .join(' / '),
      );
      lines.push(`| ${row.method} | ${row.resource} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  if (first.leastPrivilege || first.failurePattern) {
    lines.push('### Suggestions on the fixtures', '', '| seed | least privilege: precision / recall | failure patterns: precision / recall |', '|---|---:|---:|');
    for (const s of seeds) {
      const lp = s.leastPrivilege ? `${pct(s.leastPrivilege.precision, 0)} % / ${pct(s.leastPrivilege.recall, 0)} % (${s.leastPrivilege.correct} of ${s.leastPrivilege.suggested} right, ${s.leastPrivilege.found} of ${s.leastPrivilege.unneeded} found)` : '—';
      const fp = s.failurePattern ? `${pct(s.failurePattern.precision, 0)} % / ${pct(s.failurePattern.recall, 0)} % (${s.failurePattern.correct} of ${s.failurePattern.suggested} right, ${s.failurePattern.found} of ${s.failurePattern.patterns} found)` : '—';
      lines.push(`| ${s.seed} | ${lp} | ${fp} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
