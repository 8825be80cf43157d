/** @module api/types — what travels over the wire: the request and response bodies of `/v1`, shared by the server's schemas and the SDK. */
import type { ErrorCode } from '../core/errors.js';
import type { RunRecord } from '../core/run-record.js';
import type { Suggestion, SuggestionState } from '../core/suggestion.js';
import type { RunStats } from '../runtime/index.js';
import type { AuditEntry } from '../store/index.js';

/** One template as `GET /v1/templates` lists it. */
export interface TemplateSummary {
  name: string;
  version: string | null;
  description: string | null;
  /** `invalid`: it does not load; `refused`: it loads but the trust gate refuses it in this environment. */
  status: 'valid' | 'abstract' | 'invalid' | 'refused';
  digest: string | null;
  /** How the trust gate admitted it; null when it did not. */
  signature: 'signed' | 'waived' | null;
  error?: { code: ErrorCode; message: string };
}

export interface TemplateSignature {
  /** `signed`: a valid signature; `waived`: unsigned but allowed in a development environment; `refused`: the trust gate refused it. */
  status: 'signed' | 'waived' | 'refused';
  keyId?: string;
  signer?: string;
  signedAt?: number;
  /** Why it was waived or refused. */
  reason?: string;
  /** The refusal's code (`E_SIGNATURE_MISSING`, `E_KEY_REVOKED`, `E_POLICY_DENIED`, …). */
  code?: ErrorCode;
}

/** `GET /v1/templates/:name`. */
export interface TemplateDetail {
  name: string;
  version: string;
  env: string;
  abstract: boolean;
  description: string | null;
  /** Null for abstract templates, which have no code. */
  digest: string | null;
  chain: string[];
  /** The manifest after `extends` and the environment overlay: what runs. */
  manifest: Record<string, unknown>;
  signature: TemplateSignature;
  /** Versions recorded in the store, oldest first. */
  /** `unsealed`: the keys folder does not vouch for the row (store/version-seal); it is never restored, routed to or run. */
  versions: Array<{ version: string; digest: string; signed: boolean; recordedAt: number; retired?: true; unsealed?: true }>;
}

export interface RunLogEntryView {
  level: string;
  message: string;
  fields?: unknown;
}

/** What a run cost and did: exactly the runtime's `RunStats`. */
export type RunStatsView = RunStats;

/** Body of `POST /v1/agents/:name/runs`. */
export interface RunRequest {
  input: unknown;
  /**
   * Environment whose overlay and trust rules apply: the server's, or one it was started to allow (`af serve
   * --allow-env`); any other answers 403 E_FORBIDDEN. @default the server's
   */
  env?: string;
}

/** 200 answer of `POST /v1/agents/:name/runs`. A failed run answers with an {@link ApiErrorResponse} carrying `runId` and `stats`. */
export interface RunResult {
  runId: string;
  template: string;
  version: string;
  /** The digest of the code that ran. */
  digest?: string;
  /** Where it came from: the template folder, a stored version, or a canary's candidate. */
  source?: 'on-disk' | 'stored' | 'canary';
  /** False for a dev run of unsigned or edited code. */
  signed?: boolean;
  output: unknown;
  stats: RunStatsView;
}

/**
 * A recorded run (`GET /v1/runs`, `GET /v1/runs/:id`): the run record without the input's shape and a failed run's
 * captured values, which stay internal (the answer is serialised by schema, so neither can leak).
 */
export type RunView = Omit<RunRecord, 'inputShape' | 'capture'>;

export interface RunListQuery {
  template?: string;
  outcome?: 'ok' | 'error';
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  /** @default 100, at most 1000 */
  limit?: number;
}

/** A suggestion as the API returns it: exactly the learner's record. */
export type SuggestionView = Suggestion;

export interface SuggestionListQuery {
  template?: string;
  state?: SuggestionState;
}

/** An audit entry as the API returns it: exactly the stored entry. */
export type AuditEntryView = AuditEntry;

export interface AuditQuery {
  type?: string;
  subject?: string;
  afterSeq?: number;
  /** @default 100, at most 1000 */
  limit?: number;
}

/** The body of every error answer; a failed run adds `runId` and `stats`. */
export interface ApiErrorResponse {
  error: { code: ErrorCode; message: string; problems?: Array<{ pointer?: string; message: string }> };
  runId?: string;
  stats?: RunStatsView;
}

export interface ReadinessView {
  ready: boolean;
  checks: { store: 'ok' | 'failed' | 'closed'; sandbox: 'ok' | 'failed'; server: 'ok' | 'closing' };
}
