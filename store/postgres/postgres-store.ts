/** @module store/postgres/postgres-store — the PostgreSQL store as one object: a connection pool and everything kept in the database, opened and closed together. */
import { type Clock, systemClock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import type { Store, StoreKind } from '../contract.js';
import type { ExportCounts } from '../data-ops.js';
import type { RunWriterOptions } from '../run-writer.js';
import { TrustSeal } from '../trust-seal.js';
import { VersionSeal } from '../version-seal.js';
import { PgAuditLog } from './audit-log.js';
import { PgDatabase } from './connection.js';
import { exportPostgresJsonl, postgresIntegrityProblems, prunePostgresCaptures, prunePostgresRuns } from './data-ops.js';
import { PgKvStore } from './kv-store.js';
import { PgLearnerModels } from './learner-models.js';
import { checkPostgresSchema, migratePostgres } from './migrations.js';
import { PgNotifications } from './notifications.js';
import { PgRollouts } from './rollouts.js';
import { PgRunQueries } from './run-queries.js';
import { RunKv } from './run-kv.js';
import { PgRunQueue, RunResultWaiter, type RunQueueOptions } from './run-queue.js';
import { PgRunWriter } from './run-writer.js';
import { PgSuggestions } from './suggestions.js';
import { PgTemplateVersions } from './template-versions.js';
import { PgTenants } from './tenants.js';
import { PgTrustStore } from './trust-store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (or `postgresql://`). */
  url: string;
  clock?: Clock;
  writer?: RunWriterOptions;
  /**
   * Bring the schema up to date when it is older (under an advisory lock, so nodes starting together wait for one
   * another). Off: an older schema is refused with what to run (`af migrate`). @default true
   */
  migrate?: boolean;
  /** Connections in this process's pool. @default 10 */
  maxConnections?: number;
  /** How often cached trust data (keys, revocations, retirements) checks for changes made by other nodes. @default 1000 */
  trustRefreshMs?: number;
  /** The run queue's leases and caps. */
  queue?: RunQueueOptions;
  /** As for SQLite (store/store): the keys folder that anchors the audit log. */
  auditAnchorDir?: string;
  /** As for SQLite: the keys folder that seals the trust tables and version rows. @default auditAnchorDir */
  trustSealDir?: string;
}

/**
 * Everything Agent Factory keeps, in one PostgreSQL database shared by every node (API servers, runners, the CLI).
 * The same contract as the SQLite store (`store/contract.ts`), checked by the same suites in `test/contracts/`.
 */
export class PostgresStore implements Store {
  readonly kind: StoreKind = 'postgres';
  readonly db: PgDatabase;
  readonly runs: PgRunWriter;
  readonly queries: PgRunQueries;
  readonly kv: PgKvStore;
  readonly audit: PgAuditLog;
  readonly versions: PgTemplateVersions;
  readonly trust: PgTrustStore;
  readonly tenants: PgTenants;
  readonly suggestions: PgSuggestions;
  readonly rollouts: PgRollouts;
  readonly models: PgLearnerModels;
  /** The run queue (store/postgres/run-queue): only a store several processes share has one. */
  readonly queue: PgRunQueue;
  /** This process's LISTEN connection, opened on first subscription. */
  readonly notifications: PgNotifications;
  readonly #clock: Clock;
  #results: RunResultWaiter | undefined;
  #isClosed = false;

  private constructor(db: PgDatabase, trust: PgTrustStore, audit: PgAuditLog, options: PostgresStoreOptions, clock: Clock, versionSeal: VersionSeal | undefined) {
    this.db = db;
    this.#clock = clock;
    this.trust = trust;
    this.audit = audit;
    this.runs = new PgRunWriter(db, options.writer);
    this.queries = new PgRunQueries(db);
    this.kv = new PgKvStore(db, clock);
    this.versions = new PgTemplateVersions(db, clock, versionSeal);
    this.tenants = new PgTenants(db, clock);
    this.suggestions = new PgSuggestions(db);
    this.rollouts = new PgRollouts(db);
    this.models = new PgLearnerModels(db);
    this.queue = new PgRunQueue(db, options.queue);
    this.notifications = new PgNotifications(db);
  }

  /** Waits for the results of runs this process queued (made on first use). */
  get results(): RunResultWaiter {
    this.#results ??= new RunResultWaiter(this.queue, this.notifications);
    return this.#results;
  }

  /** A kv for one queued run: its writes wait for `apply`, inside the run's completion (store/postgres/run-kv). */
  openRunKv(): RunKv {
    return new RunKv(this.db, this.kv);
  }

  /**
   * Connects, checks (or brings up to date) the schema and loads the trust data.
   * @throws FactoryError `E_STORE` when the server cannot be reached or its schema is one this code cannot use.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const clock = options.clock ?? systemClock;
    const db = new PgDatabase(options.url, options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {});
    try {
      if (options.migrate ?? true) await migratePostgres(db);
      else await checkPostgresSchema(db);
      const audit = new PgAuditLog(db, clock, options.auditAnchorDir !== undefined ? { anchorDir: options.auditAnchorDir } : {});
      const sealDir = options.trustSealDir ?? options.auditAnchorDir;
      const seal = sealDir !== undefined
        ? new TrustSeal(sealDir, {
            subject: db.label,
            // Trust on first use, as for SQLite; the entry is written in the background (the seal's callback is synchronous).
            onAdopt: (state) => {
              if (state.keys.length + state.revocations.length + state.retirements.length === 0) return;
              void Promise.resolve(audit.append({ type: 'trust.sealed', subject: 'trust', data: { adopted: true, keys: state.keys.map((key) => `${key.id} ${key.role}`), revocations: state.revocations.length, retirements: state.retirements.length } })).catch(() => {});
            },
          })
        : undefined;
      const trust = await PgTrustStore.open(db, { clock, ...(seal ? { seal } : {}), ...(options.trustRefreshMs !== undefined ? { refreshMs: options.trustRefreshMs } : {}) });
      return new PostgresStore(db, trust, audit, options, clock, sealDir !== undefined ? new VersionSeal(sealDir) : undefined);
    } catch (error) {
      await db.close().catch(() => {});
      throw error instanceof FactoryError ? error : db.storeError(error);
    }
  }

  get location(): string {
    return this.db.label;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  transaction<T>(work: () => Promise<T> | T): Promise<T> {
    return this.db.transaction(work);
  }

  async ping(): Promise<void> {
    if (this.#isClosed) throw new FactoryError('E_STORE', `the store at ${this.location} is closed`);
    await this.db.query({ name: 'af_ping', text: 'SELECT 1' });
  }

  async prune(olderThanMs: number, now = this.#clock.now()): Promise<number> {
    return (await this.pruneData({ runsOlderThanMs: olderThanMs }, now)).runs;
  }

  async pruneData(options: { runsOlderThanMs?: number; capturesOlderThanMs?: number }, now = this.#clock.now()): Promise<{ runs: number; captures: number }> {
    await this.runs.flush();
    const runsBefore = options.runsOlderThanMs !== undefined ? now - options.runsOlderThanMs : undefined;
    const capturesBefore = Math.max(runsBefore ?? -Infinity, options.capturesOlderThanMs !== undefined ? now - options.capturesOlderThanMs : -Infinity);
    return this.db.transaction(async () => {
      const runs = runsBefore !== undefined ? await prunePostgresRuns(this.db, runsBefore) : 0;
      const captures = Number.isFinite(capturesBefore) ? await prunePostgresCaptures(this.db, capturesBefore) : 0;
      if (runsBefore !== undefined) await this.audit.append({ type: 'store.pruned', subject: 'runs', data: { before: new Date(runsBefore).toISOString(), deleted: runs, captures } });
      else await this.audit.append({ type: 'store.pruned', subject: 'run_captures', data: { before: new Date(capturesBefore).toISOString(), deleted: captures } });
      return { runs, captures };
    });
  }

  async export(file: string, options: { compress?: boolean } = {}): Promise<ExportCounts> {
    await this.runs.flush();
    return exportPostgresJsonl(this.db, file, options.compress ?? true);
  }

  integrityProblems(): Promise<string[]> {
    return postgresIntegrityProblems(this.db);
  }

  /** Flushes queued run records, stops the trust refresh and closes the pool. Idempotent. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      await this.runs.close();
    } finally {
      this.trust.close();
      this.#results?.close();
      await this.notifications.close();
      await this.db.close();
    }
  }
}
