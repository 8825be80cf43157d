/** @module store/contract — the store as every backend offers it (SQLite, PostgreSQL): what the runtime, learner, API, UI and CLI may call. */
import type { Awaitable } from '../core/awaitable.js';
import type { KvStore } from '../core/kv.js';
import type { RunRecord, RunSink } from '../core/run-record.js';
import type { Suggestion, SuggestionState } from '../core/suggestion.js';
import type { TrustStore } from '../core/trust-records.js';
import type { AuditEntry, AuditInput, AuditVerification } from './audit-log.js';
import type { ExportCounts } from './data-ops.js';
import type { Rollout } from './rollouts.js';
import type { RunFilter, SequencedRun, StoredCapture, TemplateStats } from './run-queries.js';
import type { SuggestionFilter } from './suggestions.js';
import type { ApiKeyRecord, Principal, Role } from './tenants.js';
import type { TrustChange, TrustState } from '../core/trust-state.js';
import type { TemplateVersion, TemplateVersionInput, TemplateVersionSummary, VersionReadOptions } from './template-versions.js';

/*
 * Every method may answer with a promise, so callers always `await`: PostgreSQL answers over the network, SQLite
 * answers at once (a `better-sqlite3` call), and awaiting a value that is not a promise costs SQLite's hot path one
 * microtask and nothing else. Reads the run path makes on every run (trust data, active rollouts) are synchronous on
 * both backends: PostgreSQL serves them from a cache it keeps fresh within a stated bound.
 */

/** Run records on their way in: batched, so `write` never waits for the database. */
export interface RunRecordWriter extends RunSink {
  /** Records waiting for the next batch. */
  readonly queueDepth: number;
  /** Records the database refused for good (they are counted, not retried). */
  readonly dropped: number;
}

/** Reading runs back. */
export interface RunQueryStore {
  get(id: string): Awaitable<RunRecord | undefined>;
  /** Newest first. */
  list(filter?: RunFilter): Awaitable<RunRecord[]>;
  /** Oldest first, every matching run (no limit), without holding them all in memory. */
  iterate(filter?: RunFilter): Iterable<RunRecord> | AsyncIterable<RunRecord>;
  count(): Awaitable<number>;
  stats(filter?: RunFilter): Awaitable<TemplateStats[]>;
  capture(id: string): Awaitable<StoredCapture | undefined>;
  children(id: string): Awaitable<RunRecord[]>;
  /** The full id of a run from a unique prefix or suffix. @throws FactoryError `E_NOT_FOUND`/`E_USAGE` */
  resolveId(text: string): Awaitable<string>;
  /** Runs written after `seq`, in the order they were written: what following the record walks. */
  after(seq: number, filter?: RunFilter): Awaitable<SequencedRun[]>;
  /** The newest runs written at or before `seq`, newest first. */
  upTo(seq: number, filter?: RunFilter): Awaitable<SequencedRun[]>;
  maxSeq(): Awaitable<number>;
  /** Moves whenever any process commits a change to the runs: a cheap "has anything changed" for pollers. */
  dataVersion(): Awaitable<number>;
}

export interface TemplateVersionStore {
  /** True when rows carry seals that the keys folder vouches for. */
  readonly isSealed: boolean;
  record(input: TemplateVersionInput): Awaitable<void>;
  get(name: string, version: string, options?: VersionReadOptions): Awaitable<TemplateVersion | undefined>;
  byDigest(name: string, digest: string, options?: VersionReadOptions): Awaitable<TemplateVersion | undefined>;
  list(name: string): Awaitable<TemplateVersionSummary[]>;
  /** Seals rows recorded before sealing that `voucher` vouches for. @returns how many were sealed. */
  sealVouched(voucher: () => (version: TemplateVersion) => boolean): Awaitable<number>;
}

export interface AuditStore {
  append(input: AuditInput): Awaitable<AuditEntry>;
  /** Starts a new anchor from the log as it is, saying why (after a reviewed repair). */
  reanchor(options: { reason: string; actor?: string }): Awaitable<AuditEntry>;
  list(filter?: { type?: string; subject?: string; afterSeq?: number; limit?: number }): Awaitable<AuditEntry[]>;
  verify(): Awaitable<AuditVerification>;
}

export interface TenantStore {
  ensureTenant(id: string, name?: string): Awaitable<void>;
  tenants(): Awaitable<Array<{ id: string; name: string; createdAt: number }>>;
  createApiKey(tenant: string, role: Role, label?: string): Awaitable<{ record: ApiKeyRecord; key: string }>;
  listApiKeys(tenant?: string): Awaitable<ApiKeyRecord[]>;
  revokeApiKey(id: string): Awaitable<ApiKeyRecord>;
  /** @returns the principal, or undefined for a malformed, unknown or revoked key. */
  authenticate(presented: string): Awaitable<Principal | undefined>;
}

export interface SuggestionStore {
  add(suggestion: Suggestion): Awaitable<void>;
  get(id: string): Awaitable<Suggestion | undefined>;
  list(filter?: SuggestionFilter): Awaitable<Suggestion[]>;
  history(template: string, kind: Suggestion['kind']): Awaitable<Suggestion[]>;
  decide(id: string, state: SuggestionState, decision: { by?: string; reason?: string; at: number; candidateVersion?: string }): Awaitable<Suggestion | undefined>;
  withdraw(id: string): Awaitable<boolean>;
  acceptanceByKind(): Awaitable<Record<string, { accepted: number; rejected: number }>>;
}

export interface RolloutStore {
  start(rollout: Omit<Rollout, 'state' | 'decidedAt' | 'decision'>): Awaitable<Rollout>;
  get(template: string): Awaitable<Rollout | undefined>;
  active(): Awaitable<Rollout[]>;
  /** @returns false when the rollout was already decided (by another process). */
  decide(template: string, state: 'promoted' | 'rolled_back', at: number, decision: Record<string, unknown>): Awaitable<boolean>;
}

export interface LearnerModelStore {
  save(template: string, target: string, state: unknown, trainedAt: number, samples: number): Awaitable<void>;
  load<T>(template: string, target: string): Awaitable<{ state: T; trainedAt: number; samples: number } | undefined>;
}

/**
 * The trust data a store keeps: reads are synchronous (the trust gate makes them on every run), writes may not be.
 * The seal operations compare the trust tables with what the keys folder vouches for (store/trust-seal); a store
 * opened without a keys folder throws `E_USAGE` from `sealChanges`, `repair` and `adoptAsIs`, and `takeIn` does
 * nothing there.
 */
export interface StoreTrust extends TrustStore {
  trustProblem(): ReturnType<NonNullable<TrustStore['trustProblem']>>;
  /** How the trust tables differ from the seal. */
  sealChanges(): Awaitable<TrustChange[]>;
  /** Seals the restrictions (revocations, retirements) added without the keys folder, and nothing else. */
  takeIn(): Awaitable<void>;
  /** Puts the sealed rows back. @returns what was undone. */
  repair(): Awaitable<TrustChange[]>;
  /** Seals the trust tables as they are, after a person reviewed them. */
  adoptAsIs(): Awaitable<TrustState>;
}

/** Which backend a store is, and where (a URL without its password). */
export type StoreKind = 'sqlite' | 'postgres';

/**
 * Everything Agent Factory keeps, on one backend. `test/contracts/` runs the same suites against every backend in
 * its `STORES` table.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Where the data is: a file path for SQLite, a URL without credentials for PostgreSQL. */
  readonly location: string;
  readonly isClosed: boolean;
  readonly runs: RunRecordWriter;
  readonly queries: RunQueryStore;
  readonly kv: KvStore;
  readonly audit: AuditStore;
  readonly versions: TemplateVersionStore;
  readonly trust: StoreTrust;
  readonly tenants: TenantStore;
  readonly suggestions: SuggestionStore;
  readonly rollouts: RolloutStore;
  readonly models: LearnerModelStore;
  /**
   * Runs `work` so that every store call it makes commits together, or none does when it throws (then the error is
   * rethrown). Nested calls join the outer transaction.
   */
  transaction<T>(work: () => Promise<T> | T): Promise<T>;
  /** Proves the database answers, cheaply: what readiness probes call. @throws FactoryError `E_STORE` */
  ping(): Awaitable<void>;
  /** Deletes runs older than `olderThanMs` and audits it. @returns how many runs were deleted. */
  prune(olderThanMs: number, now?: number): Awaitable<number>;
  /** Deletes old runs with their captures, and old captures alone; audits it. */
  pruneData(options: { runsOlderThanMs?: number; capturesOlderThanMs?: number }, now?: number): Awaitable<{ runs: number; captures: number }>;
  /** Runs and audit log as JSON lines, zstd-compressed unless `compress` is false. */
  export(file: string, options?: { compress?: boolean }): Promise<ExportCounts>;
  /** What is damaged in the database, in words; empty when it is sound. */
  integrityProblems(): Awaitable<string[]>;
  /** Flushes queued run records and closes the connection(s). Idempotent. */
  close(): Promise<void>;
}
