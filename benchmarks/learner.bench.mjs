// The improvement loop's yardstick: a real workload, then a walk-forward evaluation of the hand-set limits, the VPA and
// Autopilot rules and (when it is built) the learner's recommender, reporting slack, limit hits and limit churn.
import path from 'node:path';
import { AutopilotRecommender, StaticRecommender, VpaRecommender } from '../dist/learner/baselines.js';
import { leastPrivilege } from '../dist/learner/generators/least-privilege.js';
import { loadTemplateFile, TemplateRegistry } from '../dist/templates/index.js';
import { evaluate, formatEvaluation, removalsOf } from './learner/index.mjs';
import { metric, runStandalone, single } from './lib/measure.mjs';
import { generateWorkload } from './workload/index.mjs';

const HOUR_MS = 3_600_000;

export default async function bench({ quick = false } = {}) {
  const runs = quick ? 300 : 2500;
  const spanMs = (quick ? 3 : 7) * 24 * HOUR_MS;
  const windowMs = 12 * HOUR_MS;
  const workload = await generateWorkload({ runs, seed: 42, spanMs });
  const recommenders = [new StaticRecommender(), new VpaRecommender(), new AutopilotRecommender(), new AutopilotRecommender({ statistic: 0.98 })];
  const learner = await loadLearner();
  if (learner.recommender) recommenders.push(learner.recommender, learner.selected);
  const proposals = await leastPrivilegeProposals(workload);
  const result = await evaluate({
    records: workload.records,
    recommenders,
    windowMs,
    limitsOf: workload.limitsOf,
    permissionSuggestions: removalsOf(proposals),
    permissionTruth: workload.groundTruth,
  });

  const metrics = [];
  for (const row of result.overall) {
    metrics.push(metric(`${row.recommender}: ${row.resource} slack, mean over template-windows`, '%', single(row.slack * 100)));
    metrics.push(metric(`${row.recommender}: ${row.resource} limit-hit rate`, '%', single(row.hitRate * 100)));
  }
  const permissions = result.permissions;
  metrics.push(metric('least-privilege suggestions: precision (removals the template truly does not need)', '%', single(permissions.precision * 100)));
  metrics.push(metric('least-privilege suggestions: recall (unneeded grants they remove)', '%', single(permissions.recall * 100)));
  const errors = Object.entries(workload.summary.byTemplate)
    .map(([name, t]) => `${name} ${t.runs}${Object.keys(t.errors).length ? ` (${Object.entries(t.errors).map(([code, n]) => `${n} ${code}`).join(', ')})` : ''}`)
    .join(', ');
  return {
    name: 'learner',
    title: 'Learner: walk-forward evaluation of limit recommenders on a real workload',
    metrics,
    notes: [
      `Workload: ${workload.summary.runs} real runs (seed 42) of ${errors}, at simulated times over ${spanMs / (24 * HOUR_MS)} days with a diurnal arrival pattern; generated in ${workload.summary.seconds.toFixed(1)} s.`,
      `Walk-forward: ${result.boundaries.length} boundaries ${windowMs / HOUR_MS} h apart; at each one a recommender sees only earlier runs and is scored on the next ${windowMs / HOUR_MS} h. Slack = (limit − p95 peak) / limit; a censored run (stopped at a limit) counts as a hit for every recommender, "of which unknown" is the part where the recommended limit was above the limit it broke.`,
      learner.recommender ? `Learner: createLearnedRecommender() from dist/learner/index.js (TensorFlow.js backend ${learner.backend}), ${result.seconds[learner.recommender.name].toFixed(1)} s of recommend() in total.` : `Learner: skipped — ${learner.reason}.`,
      `Least privilege: the product's generator over the whole workload, scored against the permissions each agent's source needs (benchmarks/workload/templates.mjs). ${permissions.suggested} removals proposed, ${permissions.correct} correct${permissions.wrong.length ? ` (wrong: ${permissions.wrong.map((w) => `${w.template} ${w.permission}`).join(', ')})` : ''}; ${permissions.found} of ${permissions.unneeded} unneeded grants removed${permissions.missed.length ? ` (missed: ${permissions.missed.map((m) => `${m.template} ${m.permission}`).join(', ')})` : ''}. It proposes only from ${'≥'} 300 runs of one version, so a short workload proposes nothing (precision n/a).`,
      `Recommend time (s): ${Object.entries(result.seconds).map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ')}.`,
      `Results, overall (per template: formatEvaluation(result, { perTemplate: true })):\n\n${formatEvaluation(result)}\n`,
    ],
  };
}

/** What the least-privilege generator proposes for each workload template, judged on every run of it. */
async function leastPrivilegeProposals(workload) {
  const agentsDir = path.join(workload.plan.options.root, 'agents');
  const registry = new TemplateRegistry({ agentsDir });
  const proposals = [];
  try {
    for (const name of Object.keys(workload.limits)) {
      const template = await registry.inspect(name);
      const raw = loadTemplateFile(template.dir, agentsDir).manifest;
      const records = workload.records.filter((record) => record.template === name);
      const now = (records.at(-1)?.startedAt ?? 0) + 1;
      proposals.push(...leastPrivilege({ template, raw, hasParent: raw.extends !== undefined, records, limitsOf: workload.limitsOf, now }));
    }
  } finally {
    registry.close();
  }
  return proposals;
}

async function loadLearner() {
  let module;
  try {
    module = await import('../dist/learner/index.js');
  } catch (error) {
    return { reason: `dist/learner/index.js could not be loaded (${error.code ?? error.message})` };
  }
  if (typeof module.createLearnedRecommender !== 'function') return { reason: 'dist/learner/index.js does not export createLearnedRecommender' };
  // The model needs a TensorFlow.js backend chosen before its first fit.
  const backend = typeof module.initTf === 'function' ? await module.initTf() : 'default';
  // The model alone, and what right-sizing actually proposes: the model where its own backtest beats the VPA rule, else the rule.
  return { recommender: module.createLearnedRecommender(), selected: new module.SelectedRecommender(), backend };
}

await runStandalone(import.meta.url, bench);
