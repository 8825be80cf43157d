/** @module store/trust-store — trusted roots, signer certificates and revocations in SQLite; the same contract as the templates' TrustStore. */
import type Database from 'better-sqlite3';
import { FactoryError } from '../core/errors.js';
import { CachedTrustRecords, type KeyRecord, type Revocation, type VersionRetirement } from '../core/trust-records.js';

export type { KeyRecord, Revocation, VersionRetirement } from '../core/trust-records.js';

interface KeyRow {
  id: string;
  role: 'root' | 'signer';
  name: string;
  certificate_pem: string;
  not_before: number;
  not_after: number;
  created_at: number;
}

/** How often (ms) the cache asks SQLite whether another connection changed the data. */
const RECHECK_MS = 100;

/**
 * Keeps keys and revocations in memory and reloads them when the database changes: `PRAGMA
 * data_version` moves when any other connection commits, and reading it touches no disk. So
 * `isRevoked` on the hot path is a Set lookup, and a revocation by another process (the CLI) is
 * seen within {@link RECHECK_MS}.
 */
export class SqliteTrustStore extends CachedTrustRecords {
  readonly #db: Database.Database;
  readonly #dataVersion: Database.Statement<[], { data_version: number }>;
  readonly #insertKey: Database.Statement;
  readonly #insertRevocation: Database.Statement;
  readonly #insertRetirement: Database.Statement;
  #seenDataVersion = -1;
  #checkedAt = 0;

  constructor(db: Database.Database) {
    super();
    this.#db = db;
    this.#dataVersion = db.prepare('PRAGMA data_version');
    this.#insertKey = db.prepare('INSERT OR REPLACE INTO keys (id, role, name, certificate_pem, not_before, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#insertRevocation = db.prepare('INSERT OR IGNORE INTO revocations (id, revoked_at, reason) VALUES (?, ?, ?)');
    this.#insertRetirement = db.prepare('INSERT OR IGNORE INTO retired_versions (name, version, retired_at, reason, retired_by) VALUES (?, ?, ?, ?, ?)');
    this.#reload();
  }

  addKey(record: KeyRecord): void {
    this.#insertKey.run(record.id, record.role, record.name, record.certificatePem, record.notBefore, record.notAfter, record.createdAt);
    this.#reload();
  }

  revoke(id: string, reason: string, at: number): void {
    if (!this.key(id)) throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no key with id ${id}; run \`af keys list\``);
    this.#insertRevocation.run(id, at, reason);
    this.#reload();
  }

  /** Retires a template version; retiring it again keeps the first record. Other connections see it within {@link RECHECK_MS}. */
  retire(retirement: VersionRetirement): void {
    this.#insertRetirement.run(retirement.name, retirement.version, retirement.retiredAt, retirement.reason, retirement.by);
    this.#reload();
  }

  /** Imports keys and revocations from another trust store (the JSON file used before the store existed). */
  importFrom(source: { keys(): KeyRecord[]; revocation(id: string): Revocation | undefined }): number {
    const keys = source.keys();
    this.#db.transaction(() => {
      for (const key of keys) {
        this.#insertKey.run(key.id, key.role, key.name, key.certificatePem, key.notBefore, key.notAfter, key.createdAt);
        const revoked = source.revocation(key.id);
        if (revoked) this.#insertRevocation.run(key.id, revoked.revokedAt, revoked.reason);
      }
    }).immediate();
    this.#reload();
    return keys.length;
  }

  protected refresh(): void {
    const now = Date.now();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    if (this.#dataVersion.get()?.data_version !== this.#seenDataVersion) this.#reload();
  }

  #reload(): void {
    this.#seenDataVersion = this.#dataVersion.get()?.data_version ?? -1;
    const keys = this.#db.prepare<[], KeyRow>('SELECT * FROM keys').all();
    const revocations = this.#db.prepare<[], { id: string; revoked_at: number; reason: string }>('SELECT * FROM revocations').all();
    const retirements = this.#db.prepare<[], { name: string; version: string; retired_at: number; reason: string; retired_by: string }>('SELECT * FROM retired_versions').all();
    // Any commit (a run record) moves data_version; only a change of trust data moves the generation.
    this.replaceRecords(
      keys.map((row) => ({ id: row.id, role: row.role, name: row.name, certificatePem: row.certificate_pem, notBefore: row.not_before, notAfter: row.not_after, createdAt: row.created_at })),
      revocations.map((row) => ({ id: row.id, revokedAt: row.revoked_at, reason: row.reason })),
      retirements.map((row) => ({ name: row.name, version: row.version, retiredAt: row.retired_at, reason: row.reason, by: row.retired_by })),
    );
  }
}
