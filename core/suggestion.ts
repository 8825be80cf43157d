/** @module core/suggestion — what the learner proposes: a JSON Patch to a template with its evidence, and the states it goes through. */

export const SUGGESTION_KINDS = ['right-sizing', 'least-privilege', 'failure-pattern', 'pre-warming'] as const;
export type SuggestionKind = (typeof SUGGESTION_KINDS)[number];

export const SUGGESTION_STATES = ['open', 'accepted', 'rejected', 'canary', 'promoted', 'rolled_back'] as const;
export type SuggestionState = (typeof SUGGESTION_STATES)[number];

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

/** A proposed change to one template's `agent.json`. */
export interface Suggestion {
  id: string;
  kind: SuggestionKind;
  template: string;
  /** Tenant whose runs are the evidence; `*` when drawn from every tenant. */
  tenant: string;
  /** Version and digest the patch applies to. */
  baseVersion: string;
  baseDigest: string;
  patch: JsonPatchOperation[];
  /** The numbers behind it: counts, percentiles, the model's prediction, the baseline's. */
  evidence: Record<string, unknown>;
  /** What accepting it should change, in words and numbers. */
  expectedImpact: { summary: string } & Record<string, unknown>;
  /** 0..1. */
  confidence: number;
  state: SuggestionState;
  createdAt: number;
  /** Fingerprint of the evidence: a rejected suggestion returns only when this changes materially. */
  evidenceKey: string;
  decidedAt?: number;
  decidedBy?: string;
  reason?: string;
  /** The version created by accepting it. */
  candidateVersion?: string;
}
