/** @module learner/generators/least-privilege — proposes removing permissions that were granted but never used over enough runs to be confident. */
import type { Permissions } from '../../core/agent-spec.js';
import { type Candidate, ranRecords, round, type TemplateHistory } from './context.js';
import { removePermission } from './patch-helpers.js';

/**
 * The rule: a permission used in none of n runs that reached the agent is proposed for removal
 * when n ≥ 300. By the rule of three, zero uses in n runs bounds the per-run chance of needing it
 * below 3/n with 95% confidence — under 1% at 300 runs. A permission used even once is never
 * proposed. WebAssembly use cannot be observed from outside the isolate, so `wasm` is never proposed.
 */
export const MIN_RUNS = 300;

/** The tool calls that use each observable permission. */
const TOOLS_OF: Partial<Record<keyof Permissions, string[]>> = {
  read: ['readTextFile'],
  write: ['writeTextFile'],
  net: ['fetch'],
  env: ['env'],
  kv: ['kv'],
  spawn: ['spawn'],
};

export function leastPrivilege(history: TemplateHistory): Candidate[] {
  const runs = ranRecords(history.records);
  // Only runs of the current digest: an older version may have used what this one no longer does, or the reverse.
  const current = runs.filter((record) => record.digest === history.template.digest);
  const candidates: Candidate[] = [];
  const permissions = history.template.manifest.permissions;
  for (const [permission, tools] of Object.entries(TOOLS_OF) as Array<[keyof Permissions, string[]]>) {
    const granted = permissions[permission];
    if (granted === false || (Array.isArray(granted) && granted.length === 0)) continue;
    const uses = current.reduce((sum, record) => sum + tools.reduce((n, tool) => n + (record.tools[tool] ?? 0), 0), 0);
    if (uses > 0 || current.length < MIN_RUNS) continue;
    const upperBound = 3 / current.length;
    candidates.push({
      kind: 'least-privilege',
      slot: `permissions.${permission}`,
      template: history.template.name,
      tenant: '*',
      baseVersion: history.template.version,
      baseDigest: history.template.digest,
      patch: removePermission(history.raw as unknown as Record<string, unknown>, permission, history.hasParent),
      evidence: {
        permission,
        granted,
        runs: current.length,
        uses: 0,
        tools,
        rule: `unused in ${current.length} runs of this version: by the rule of three, the chance a run needs it is below ${round(upperBound * 100, 2)}% (95% confidence); proposed from ${MIN_RUNS} runs`,
      },
      expectedImpact: { summary: `drop permissions.${permission}: nothing it grants was used in ${current.length} runs`, grantsRemoved: Array.isArray(granted) ? granted : [permission] },
      confidence: round(1 - upperBound),
      // Proposed again after a rejection only when the evidence has doubled.
      evidenceKey: `least-privilege:${permission}:${Math.floor(Math.log2(current.length))}`,
    });
  }
  return candidates;
}
