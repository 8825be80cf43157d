/** @module learner/generators/context — what every suggestion generator is given about one template, and what it returns. */
import type { Limits } from '../../core/agent-spec.js';
import type { RunRecord } from '../../core/run-record.js';
import type { Suggestion } from '../../core/suggestion.js';
import type { RawManifest, ResolvedTemplate } from '../../templates/index.js';

export interface TemplateHistory {
  /** The template as it is now, resolved for the environment the runs are judged in. */
  template: ResolvedTemplate;
  /** The template's own agent.json, which patches apply to. */
  raw: RawManifest;
  hasParent: boolean;
  /** Other templates extend this one: a permission taken away here is taken from them too. @default false */
  isExtended?: boolean;
  /** Runs of this template (every version), oldest first. */
  records: readonly RunRecord[];
  /** The limits in force for a run (by its digest), to place censored samples. */
  limitsOf(record: RunRecord): Limits | undefined;
  now: number;
}

/** A suggestion before it is stored: `slot` names what it changes, so a newer one replaces an older one of the same slot. */
export type Candidate = Omit<Suggestion, 'id' | 'state' | 'createdAt'> & { slot: string };

/**
 * Runs that reached the agent: failures before it ran, and runs lost with their sandbox host (often to another
 * tenant's run), say nothing about what it needs.
 */
export function ranRecords(records: readonly RunRecord[]): RunRecord[] {
  return records.filter(
    (record) =>
      record.outcome === 'ok' ||
      !['E_INPUT_INVALID', 'E_DISPOSED', 'E_SIGNATURE_MISSING', 'E_SIGNATURE_INVALID', 'E_POLICY_DENIED', 'E_UNAVAILABLE', 'E_SANDBOX_CRASHED'].includes(record.errorCode ?? ''),
  );
}

export function quantileOf(sortedValues: readonly number[], q: number): number {
  if (sortedValues.length === 0) return 0;
  return sortedValues[Math.min(sortedValues.length - 1, Math.max(0, Math.ceil(q * sortedValues.length) - 1))] as number;
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
