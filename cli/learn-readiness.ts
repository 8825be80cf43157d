/** @module cli/learn-readiness — what `af learn` tells a user whose record is too small for any suggestion: how many runs it needs, and has. */
import { plural } from '../core/plural.js';
import { LEAST_PRIVILEGE_MIN_RUNS as LEAST_PRIVILEGE_RUNS, RIGHT_SIZING_MIN_RUNS as FEWEST_RUNS } from '../learner/index.js';
import type { Store } from '../store/index.js';

/**
 * One line naming every template (of `only`, when given) below the fewest runs any suggestion needs, with its count;
 * undefined when every template has enough. No runs at all says so, with the ways to get some.
 */
export async function tooFewRunsNote(store: Store, only?: readonly string[]): Promise<string | undefined> {
  const counts = (await store.queries.stats()).filter((entry) => !only || only.includes(entry.template));
  const needs = `the learner needs at least ${plural(FEWEST_RUNS, 'run')} of a template to suggest a change (${LEAST_PRIVILEGE_RUNS} to drop a permission)`;
  if (counts.length === 0) return `no runs recorded${only ? ` of ${only.join(', ')}` : ''} yet: ${needs}; run agents (\`af run NAME\`, \`af serve\`) or see it work on demo data with \`af demo\``;
  const short = counts.filter((entry) => entry.runs < FEWEST_RUNS).sort((a, b) => b.runs - a.runs);
  if (short.length === 0) return undefined;
  return `too few runs: ${needs}; ${short.map((entry) => `${entry.template} has ${entry.runs} (${FEWEST_RUNS - entry.runs} to go)`).join(', ')}`;
}
