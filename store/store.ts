/** @module store/store — the SQLite store as one object: the database file and everything kept in it, opened and closed together. */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { type Clock, systemClock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import { AuditLog } from './audit-log.js';
import { backupDatabase, exportJsonl, type ExportCounts, pruneCaptures, pruneRuns } from './data-ops.js';
import { integrityProblems, openDatabase } from './database.js';
import { SqliteKvStore } from './kv-store.js';
import { RunQueries } from './run-queries.js';
import { RunWriter, type RunWriterOptions } from './run-writer.js';
import { LearnerModels } from './learner-models.js';
import { Rollouts } from './rollouts.js';
import { Suggestions } from './suggestions.js';
import { Tenants } from './tenants.js';
import { TemplateVersions } from './template-versions.js';
import { type KeyRecord, type Revocation, SqliteTrustStore } from './trust-store.js';
import { TrustSeal } from './trust-seal.js';
import { VersionSeal } from './version-seal.js';
import type { Store, StoreKind } from './contract.js';

export interface StoreOptions {
  /** The database file, or `':memory:'`. */
  path: string;
  clock?: Clock;
  writer?: RunWriterOptions;
  /**
   * A `trust.json` from before the store existed: imported once when the store has no keys, then
   * renamed to `trust.json.migrated`.
   */
  migrateTrustFrom?: string;
  busyTimeoutMs?: number;
  /**
   * Where the audit log's anchor lives: the project's keys folder (`ResolvedConfig.keysDir`), which those who may
   * write the database may not write. Without it the log is hash-chained but not anchored (entries cut from its end
   * do not show), which suits `:memory:` and scratch stores.
   */
  auditAnchorDir?: string;
  /**
   * Where the seal of the trust tables (store/trust-seal) and the key of the version rows' seals (store/version-seal)
   * live: the project's keys folder. Without it nothing vouches for the keys, revocations, retirements and template
   * versions in the database, which suits `:memory:` and scratch stores only.
   * @default auditAnchorDir
   */
  trustSealDir?: string;
}

/**
 * Everything Agent Factory keeps: runs (batched writer and queries), kv, template versions,
 * keys and revocations, the audit log, tenants and API keys. Statements are prepared once, when a component is made
 * (a query with optional filters once per combination of filters, on first use: store/filtered-statement); operations
 * that run rarely (prune, export, a trust repair) prepare theirs when they run. Every component reads time from
 * `options.clock`. Its public interface is what `test/contracts/store.contract.test.ts` checks, for every backend.
 */
export class SqliteStore implements Store {
  readonly kind: StoreKind = 'sqlite';
  readonly path: string;
  readonly db: Database.Database;
  readonly runs: RunWriter;
  readonly queries: RunQueries;
  readonly kv: SqliteKvStore;
  readonly audit: AuditLog;
  readonly versions: TemplateVersions;
  readonly trust: SqliteTrustStore;
  readonly tenants: Tenants;
  readonly suggestions: Suggestions;
  readonly rollouts: Rollouts;
  readonly models: LearnerModels;
  readonly #ping: Database.Statement<[], number>;
  readonly #clock: Clock;
  #isClosed = false;

  constructor(options: StoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') throw new TypeError('Store: option "path" must be a file path or ":memory:"');
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.path = options.path;
    this.db = openDatabase(options.path, options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {});
    this.runs = new RunWriter(this.db, options.writer);
    this.queries = new RunQueries(this.db);
    this.kv = new SqliteKvStore(this.db, clock);
    this.audit = new AuditLog(this.db, clock, options.auditAnchorDir !== undefined ? { anchorDir: options.auditAnchorDir } : {});
    const sealDir = options.trustSealDir ?? options.auditAnchorDir;
    // Version rows are restored into the project and run: the keys folder vouches for each, as for the trust tables.
    this.versions = new TemplateVersions(this.db, clock, sealDir !== undefined ? new VersionSeal(sealDir) : undefined);
    const seal = sealDir !== undefined
      ? new TrustSeal(sealDir, {
          subject: options.path,
          // Trust on first use: a database from before seals is taken as found, and that is recorded (a fresh one, empty,
          // adopts nothing worth an entry).
          onAdopt: (state) => state.keys.length + state.revocations.length + state.retirements.length > 0 && this.audit.append({ type: 'trust.sealed', subject: 'trust', data: { adopted: true, keys: state.keys.map((key) => `${key.id} ${key.role}`), revocations: state.revocations.length, retirements: state.retirements.length } }),
        })
      : undefined;
    // Read before the first load adopts: a trust.json is imported only into trust data that was never sealed.
    const wasSealed = seal?.exists() ?? false;
    this.trust = new SqliteTrustStore(this.db, seal ? { seal, clock } : { clock });
    this.tenants = new Tenants(this.db, clock);
    this.suggestions = new Suggestions(this.db);
    this.rollouts = new Rollouts(this.db);
    this.models = new LearnerModels(this.db);
    // Reading the schema cookie runs a read transaction on the database (`SELECT 1` would not touch it at all), so the
    // connection is open and takes its read lock; in WAL mode readers do not wait for a writer.
    this.#ping = this.db.prepare<[], number>('PRAGMA schema_version').pluck();
    // `.af/trust.json` is as writable as the database: once the trust data is sealed, it is never imported again.
    if (options.migrateTrustFrom && !wasSealed) this.#migrateTrust(options.migrateTrustFrom);
  }

  get location(): string {
    return this.path;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /**
   * Proves the database answers, cheaply (one statement prepared once): what readiness probes call.
   * @throws FactoryError `E_STORE` when the store is closed or the database does not answer.
   */
  ping(): void {
    if (this.#isClosed) throw new FactoryError('E_STORE', `the store at ${this.path} is closed`);
    try {
      this.#ping.get();
    } catch (error) {
      throw new FactoryError('E_STORE', `the store at ${this.path} does not answer: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Runs `work` inside one SQLite transaction (`BEGIN IMMEDIATE`; a savepoint when one is open). SQLite has one
   * connection per store, so this gives atomicity, not isolation: `work` should call only this store, which answers
   * at once, and not wait on anything else while the transaction is open.
   */
  async transaction<T>(work: () => Promise<T> | T): Promise<T> {
    if (this.db.inTransaction) return work();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** A consistent copy of the live database (SQLite online backup). */
  backup(file: string): Promise<{ pages: number }> {
    return backupDatabase(this.db, file);
  }

  /**
   * Deletes runs older than `olderThanMs` (and their captures) and audits it. @returns how many runs were deleted.
   * @param now what "older" is measured from. @default the store's clock
   */
  prune(olderThanMs: number, now = this.#clock.now()): number {
    return this.pruneData({ runsOlderThanMs: olderThanMs }, now).runs;
  }

  /**
   * Deletes runs older than `runsOlderThanMs` with their captured data, and captured data alone older than
   * `capturesOlderThanMs` (inputs may hold secrets, so they may be kept for less time than the runs); audits it.
   */
  pruneData(options: { runsOlderThanMs?: number; capturesOlderThanMs?: number }, now = this.#clock.now()): { runs: number; captures: number } {
    this.runs.flushNow();
    const runsBefore = options.runsOlderThanMs !== undefined ? now - options.runsOlderThanMs : undefined;
    const capturesBefore = Math.max(runsBefore ?? -Infinity, options.capturesOlderThanMs !== undefined ? now - options.capturesOlderThanMs : -Infinity);
    const runs = runsBefore !== undefined ? pruneRuns(this.db, runsBefore) : 0;
    const captures = Number.isFinite(capturesBefore) ? pruneCaptures(this.db, capturesBefore) : 0;
    if (runsBefore !== undefined) this.audit.append({ type: 'store.pruned', subject: 'runs', data: { before: new Date(runsBefore).toISOString(), deleted: runs, captures } });
    else this.audit.append({ type: 'store.pruned', subject: 'run_captures', data: { before: new Date(capturesBefore).toISOString(), deleted: captures } });
    return { runs, captures };
  }

  /** Runs and audit log as JSON lines, zstd-compressed unless `compress` is false. */
  export(file: string, options: { compress?: boolean } = {}): Promise<ExportCounts> {
    this.runs.flushNow();
    return exportJsonl(this.db, file, options.compress ?? true);
  }

  integrityProblems(): string[] {
    return integrityProblems(this.db);
  }

  /** Flushes queued run records and closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    await this.runs.close();
    this.#isClosed = true;
    this.db.close();
  }

  #migrateTrust(file: string): void {
    if (!existsSync(file) || this.trust.keys().length > 0) return;
    let data: { keys?: KeyRecord[]; revocations?: Revocation[] };
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as typeof data;
    } catch (error) {
      throw new FactoryError('E_STORE', `${file} is not valid trust data and cannot be migrated into the store: ${(error as Error).message}`, { cause: error });
    }
    const revocations = new Map((data.revocations ?? []).map((revocation) => [revocation.id, revocation]));
    const count = this.trust.importFrom({ keys: () => data.keys ?? [], revocation: (id) => revocations.get(id) });
    this.audit.append({ type: 'key.migrated', subject: 'trust', data: { keys: count, from: file } });
    renameSync(file, `${file}.migrated`);
  }
}

export function openStore(options: StoreOptions): SqliteStore {
  return new SqliteStore(options);
}
