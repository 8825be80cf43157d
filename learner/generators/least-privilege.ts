/** @module learner/generators/least-privilege — proposes removing permissions that were granted but never used over enough runs to be confident. */
import { LISTED_PERMISSIONS, type ListedPermission, type Permissions } from '../../core/agent-spec.js';
import type { RunRecord } from '../../core/run-record.js';
import { type Candidate, ranRecords, round, type TemplateHistory } from './context.js';
import { removePermission } from './patch-helpers.js';

/**
 * The rule: a permission used in none of n runs that reached the agent is proposed for removal
 * when n ≥ 300. By the rule of three, zero uses in n runs bounds the per-run chance of needing it
 * below 3/n with 95% confidence — under 1% at 300 runs. A permission used even once is never
 * proposed. WebAssembly use cannot be observed from outside the isolate, so `wasm` is never proposed. Nothing is
 * proposed for a template that others extend: they inherit its grants, and their runs are not counted here.
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
  // Its children inherit its grants and their runs are not counted here: what they use is unknown.
  if (history.isExtended) return [];
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
  candidates.push(...unusedEntries(history, current, candidates));
  return candidates;
}

/**
 * The same rule for single entries of a list that is in use (`env: ["LOG_LEVEL", "REGION"]` where only
 * LOG_LEVEL is ever read), counted over the runs that recorded the grants they used. Only entries the
 * template lists itself, in no environment overlay, and only without a parent: lists are unioned down the
 * `extends` chain, so an entry a parent also grants could not be taken away here.
 */
function unusedEntries(history: TemplateHistory, current: readonly RunRecord[], wholeKinds: readonly Candidate[]): Candidate[] {
  if (history.hasParent) return [];
  const recorded = current.filter((record) => record.grantsUsed !== undefined);
  if (recorded.length < MIN_RUNS) return [];
  const used = new Set(recorded.flatMap((record) => record.grantsUsed ?? []));
  const own = (history.raw.permissions ?? {}) as Partial<Record<ListedPermission, unknown>>;
  const overlays = Object.values(history.raw.environments ?? {}).map((overlay) => (overlay?.permissions ?? {}) as Partial<Record<ListedPermission, unknown>>);
  const candidates: Candidate[] = [];
  for (const kind of LISTED_PERMISSIONS) {
    const list = own[kind];
    if (!Array.isArray(list) || wholeKinds.some((candidate) => candidate.evidence.permission === kind)) continue;
    const entries = list.filter((entry): entry is string => typeof entry === 'string');
    const unused = entries.filter((entry) => !used.has(`${kind}:${entry}`) && !overlays.some((overlay) => Array.isArray(overlay[kind]) && (overlay[kind] as unknown[]).includes(entry)));
    // Every entry unused means the kind was never used either: the whole-kind rule above speaks for it.
    if (unused.length === 0 || unused.length === entries.length) continue;
    const kept = entries.filter((entry) => !unused.includes(entry));
    const upperBound = 3 / recorded.length;
    candidates.push({
      kind: 'least-privilege',
      slot: `permissions.${kind}.entries`,
      template: history.template.name,
      tenant: '*',
      baseVersion: history.template.version,
      baseDigest: history.template.digest,
      patch: [{ op: 'replace', path: `/permissions/${kind}`, value: kept }],
      evidence: {
        permission: kind,
        entries: unused,
        kept,
        runs: recorded.length,
        uses: 0,
        rule: `${unused.map((entry) => JSON.stringify(entry)).join(', ')} unused in ${recorded.length} runs of this version that recorded their grants, while other ${kind} entries were used: by the rule of three, the chance a run needs ${unused.length === 1 ? 'it' : 'one of them'} is below ${round(upperBound * 100, 2)}% (95% confidence); proposed from ${MIN_RUNS} runs`,
      },
      expectedImpact: { summary: `drop ${unused.map((entry) => `${kind}:${entry}`).join(', ')}: never used in ${recorded.length} runs`, grantsRemoved: unused },
      confidence: round(1 - upperBound),
      evidenceKey: `least-privilege:${kind}:${[...unused].sort().join(',')}:${Math.floor(Math.log2(recorded.length))}`,
    });
  }
  return candidates;
}
