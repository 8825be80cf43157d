/** @module store/trust-store — trusted roots, signer certificates and revocations in SQLite; the same contract as the templates' TrustStore. */
import type Database from 'better-sqlite3';
import { type Clock, systemClock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import { CachedTrustRecords, type KeyRecord, type Revocation, type TrustStore, type VersionRetirement } from '../core/trust-records.js';
import { diffTrustState, retirementId, type TrustChange, type TrustRowIds, type TrustState, type TrustStateSeal } from '../core/trust-state.js';
import type { TrustSeal } from './trust-seal.js';

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
 *
 * With a seal (store/trust-seal, in the keys folder), each reload is checked against it, and each change of this store
 * reseals the rows it wrote, inside its transaction, so writers of other processes seal in order.
 */
export class SqliteTrustStore extends CachedTrustRecords implements TrustStore {
  readonly #db: Database.Database;
  readonly #dataVersion: Database.Statement<[], { data_version: number }>;
  readonly #insertKey: Database.Statement;
  readonly #insertRevocation: Database.Statement;
  readonly #insertRetirement: Database.Statement;
  readonly #selectKeys: Database.Statement<[], KeyRow>;
  readonly #selectRevocations: Database.Statement<[], { id: string; revoked_at: number; reason: string }>;
  readonly #selectRetirements: Database.Statement<[], { name: string; version: string; retired_at: number; reason: string; retired_by: string }>;
  readonly #clock: Clock;
  #seenDataVersion = -1;
  #checkedAt = -Infinity;

  readonly #sealer: TrustSeal | undefined;

  /**
   * @param options.seal what vouches for the trust tables (store/trust-seal in the keys folder). @default none (scratch stores, tests)
   * @param options.clock when to ask SQLite again whether another connection changed the data (its monotonic time). @default systemClock
   */
  constructor(db: Database.Database, options: { seal?: TrustSeal; clock?: Clock } = {}) {
    super(options.seal);
    this.#sealer = options.seal;
    this.#clock = options.clock ?? systemClock;
    this.#db = db;
    this.#dataVersion = db.prepare('PRAGMA data_version');
    this.#insertKey = db.prepare('INSERT OR REPLACE INTO keys (id, role, name, certificate_pem, not_before, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#insertRevocation = db.prepare('INSERT OR IGNORE INTO revocations (id, revoked_at, reason) VALUES (?, ?, ?)');
    this.#insertRetirement = db.prepare('INSERT OR IGNORE INTO retired_versions (name, version, retired_at, reason, retired_by) VALUES (?, ?, ?, ?, ?)');
    this.#selectKeys = db.prepare('SELECT * FROM keys');
    this.#selectRevocations = db.prepare('SELECT * FROM revocations');
    this.#selectRetirements = db.prepare('SELECT * FROM retired_versions');
    this.#reload();
  }

  addKey(record: KeyRecord): void {
    this.#change({ keys: [record.id] }, () => {
      this.#insertKey.run(record.id, record.role, record.name, record.certificatePem, record.notBefore, record.notAfter, record.createdAt);
    });
  }

  revoke(id: string, reason: string, at: number): void {
    if (!this.key(id)) throw new FactoryError('E_KEY_NOT_FOUND', `no key with id ${id}; run \`af keys list\``);
    this.#change({ revocations: [id] }, () => {
      this.#insertRevocation.run(id, at, reason);
    });
  }

  /** Retires a template version; retiring it again keeps the first record. Other connections see it within {@link RECHECK_MS}. */
  retire(retirement: VersionRetirement): void {
    this.#change({ retirements: [retirementId(retirement)] }, () => {
      this.#insertRetirement.run(retirement.name, retirement.version, retirement.retiredAt, retirement.reason, retirement.by);
    });
  }

  /** Imports keys and revocations from another trust store (the JSON file used before the store existed). */
  importFrom(source: { keys(): KeyRecord[]; revocation(id: string): Revocation | undefined }): number {
    const keys = source.keys();
    const revoked = keys.filter((key) => source.revocation(key.id)).map((key) => key.id);
    this.#change({ keys: keys.map((key) => key.id), revocations: revoked }, () => {
      for (const key of keys) {
        this.#insertKey.run(key.id, key.role, key.name, key.certificatePem, key.notBefore, key.notAfter, key.createdAt);
        const revocation = source.revocation(key.id);
        if (revocation) this.#insertRevocation.run(key.id, revocation.revokedAt, revocation.reason);
      }
    });
    return keys.length;
  }

  /**
   * How the trust tables differ from the seal, every row (revocations and retirements added without the keys folder
   * included: they are accepted, and sealed by the next change or by {@link takeIn}).
   * @throws FactoryError `E_TRUST_STATE` when there is no seal or it cannot be read; `E_USAGE` when this store has none.
   */
  sealChanges(): TrustChange[] {
    const changes = this.#requireSeal().changes(this.#loaded());
    if (changes instanceof FactoryError) throw changes;
    return changes;
  }

  /** Seals the restrictions added without the keys folder (and nothing else). */
  takeIn(): void {
    this.#change({}, () => {});
  }

  /**
   * Puts the sealed rows back: keys the seal does not know are deleted (with their revocations), keys, revocations and
   * retirements it holds are restored as sealed. Restrictions added since are kept. @returns what was undone.
   */
  repair(): TrustChange[] {
    const seal = this.#requireSeal();
    const sealed = seal.read();
    if (sealed.kind !== 'ok') throw this.trustProblem() ?? new FactoryError('E_TRUST_STATE', `the trust seal ${seal.location} cannot be used (${sealed.kind}); restore the keys folder from a backup`);
    const undone = diffTrustState(sealed.state, this.#loaded()).filter((change) => !(change.change === 'added' && change.table !== 'keys'));
    const known = new Set(sealed.state.keys.map((key) => key.id));
    this.#change({}, () => {
      for (const row of this.#db.prepare<[], { id: string }>('SELECT id FROM keys').all()) {
        if (known.has(row.id)) continue;
        this.#db.prepare('DELETE FROM revocations WHERE id = ?').run(row.id);
        this.#db.prepare('DELETE FROM keys WHERE id = ?').run(row.id);
      }
      const update = this.#db.prepare('UPDATE keys SET role = ?, name = ?, certificate_pem = ?, not_before = ?, not_after = ?, created_at = ? WHERE id = ?');
      for (const key of sealed.state.keys) {
        if (update.run(key.role, key.name, key.certificatePem, key.notBefore, key.notAfter, key.createdAt, key.id).changes === 0) {
          this.#insertKey.run(key.id, key.role, key.name, key.certificatePem, key.notBefore, key.notAfter, key.createdAt);
        }
      }
      const putRevocation = this.#db.prepare('INSERT OR REPLACE INTO revocations (id, revoked_at, reason) VALUES (?, ?, ?)');
      for (const revocation of sealed.state.revocations) putRevocation.run(revocation.id, revocation.revokedAt, revocation.reason);
      const putRetirement = this.#db.prepare('INSERT OR REPLACE INTO retired_versions (name, version, retired_at, reason, retired_by) VALUES (?, ?, ?, ?, ?)');
      for (const retirement of sealed.state.retirements) putRetirement.run(retirement.name, retirement.version, retirement.retiredAt, retirement.reason, retirement.by);
    });
    return undone;
  }

  /** Seals the trust tables as they are now, whatever the seal said: after a person reviewed them (a restored backup). */
  adoptAsIs(): TrustState {
    const seal = this.#requireSeal();
    this.#db.transaction(() => {
      this.#reload();
      seal.adopt(this.#loaded());
    }).immediate();
    this.#reload();
    return this.#loaded();
  }

  #requireSeal(): TrustSeal {
    if (!this.#sealer) throw new FactoryError('E_USAGE', 'this store has no trust seal: open it with the project configuration (`af` does)');
    return this.#sealer;
  }

  #loaded(): TrustState {
    this.#reload();
    return this.state;
  }

  /**
   * Writes a change and reseals the rows it wrote, in one transaction: if the seal cannot be written, a new key is not
   * added. A revocation or retirement is kept all the same: it only refuses more, so it needs no voucher (a process
   * that may not write the keys folder, an API server run as another user, can still revoke), and the next change
   * from one that can seals it.
   */
  #change(touched: TrustRowIds, write: () => void): void {
    const isRestriction = touched.keys === undefined && (touched.revocations !== undefined || touched.retirements !== undefined);
    // Taken under the write lock, so that it is not another process's seal that a rollback puts back.
    let before: { bytes: Buffer | null } | undefined;
    try {
      this.#db.transaction(() => {
        if (this.#sealer) before = { bytes: this.#sealer.snapshot() };
        write();
        this.#reload();
        try {
          this.sealChange(touched);
        } catch (error) {
          if (!isRestriction) throw error;
        }
      }).immediate();
    } catch (error) {
      // The rows were not committed: a seal that names them would read as rows deleted.
      if (before) this.#sealer?.restore(before.bytes);
      throw error;
    } finally {
      // After a rollback too: what was loaded inside the transaction is not what is stored.
      this.#reload();
    }
  }

  protected refresh(): void {
    const now = this.#clock.monotonic();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    if (this.#dataVersion.get()?.data_version !== this.#seenDataVersion) this.#reload();
  }

  #reload(): void {
    this.#load();
    // A writer in another process seals before it commits: a difference seen between the two is confirmed under the
    // write lock before it stands. Only when there is one, so a sound state never waits on the lock.
    if (this.hasTrustProblem && !this.#db.inTransaction) {
      try {
        this.#db.transaction(() => this.#load()).immediate();
      } catch {
        // Busy: the verdict stands (closed), and the next reload looks again.
      }
    }
  }

  #load(): void {
    this.#seenDataVersion = this.#dataVersion.get()?.data_version ?? -1;
    // Three reads, not one transaction: a state torn by another process's commit between them shows as a problem,
    // which #reload confirms under the write lock; a sound state costs no BEGIN/COMMIT.
    const keys = this.#selectKeys.all();
    const revocations = this.#selectRevocations.all();
    const retirements = this.#selectRetirements.all();
    // Any commit (a run record) moves data_version; only a change of trust data moves the generation.
    this.replaceRecords(
      keys.map((row) => ({ id: row.id, role: row.role, name: row.name, certificatePem: row.certificate_pem, notBefore: row.not_before, notAfter: row.not_after, createdAt: row.created_at })),
      revocations.map((row) => ({ id: row.id, revokedAt: row.revoked_at, reason: row.reason })),
      retirements.map((row) => ({ name: row.name, version: row.version, retiredAt: row.retired_at, reason: row.reason, by: row.retired_by })),
    );
  }
}
