/** @module store/postgres/trust-store — keys, revocations and retirements in PostgreSQL, read from a cache that every node keeps fresh within a stated bound. */
import type { Clock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import { CachedTrustRecords, type KeyRecord, type Revocation, type VersionRetirement } from '../../core/trust-records.js';
import { diffTrustState, retirementId, type TrustChange, type TrustRowIds, type TrustState } from '../../core/trust-state.js';
import type { StoreTrust } from '../contract.js';
import type { TrustSeal } from '../trust-seal.js';
import type { PgDatabase, Statement } from './connection.js';

/** How often (ms) a node asks whether the trust data changed, by default. */
export const TRUST_REFRESH_MS = 1000;

export interface PgTrustStoreOptions {
  clock: Clock;
  /** What vouches for the trust tables (store/trust-seal in the keys folder). @default none (scratch stores, tests) */
  seal?: TrustSeal;
  /** How often (ms) to read `trust_generation` and reload when it moved. @default {@link TRUST_REFRESH_MS} */
  refreshMs?: number;
}

interface Loaded {
  generation: number;
  keys: Array<{ id: string; role: 'root' | 'signer'; name: string; certificate_pem: string; not_before: number; not_after: number; created_at: number }>;
  revocations: Array<{ id: string; revoked_at: number; reason: string }>;
  retirements: Array<{ name: string; version: string; retired_at: number; reason: string; retired_by: string }>;
}

// Everything in one statement, so one snapshot: a load is never torn by a commit between reads. JSON numbers are
// safe for these BIGINTs (epoch milliseconds).
const LOAD: Statement = {
  name: 'af_trust_load',
  text: `SELECT (SELECT generation FROM trust_generation WHERE id = 1) AS generation,
      (SELECT coalesce(json_agg(k ORDER BY k.created_at, k.id), '[]') FROM keys k) AS keys,
      (SELECT coalesce(json_agg(r ORDER BY r.revoked_at, r.id), '[]') FROM revocations r) AS revocations,
      (SELECT coalesce(json_agg(v ORDER BY v.retired_at, v.name, v.version), '[]') FROM retired_versions v) AS retirements`,
};
// What every node asks each refresh interval: one row by its primary key.
const GENERATION: Statement = { name: 'af_trust_generation', text: 'SELECT generation FROM trust_generation WHERE id = 1' };
// The first statement of every change: it moves the generation and holds the row's lock until commit, so trust
// writers on every node take turns (what SQLite's immediate transaction does) and a seal is written in commit order.
const BUMP = 'UPDATE trust_generation SET generation = generation + 1 WHERE id = 1';
// Waits for a writer that holds the lock (it seals before it commits).
const WAIT_FOR_WRITERS = 'SELECT generation FROM trust_generation WHERE id = 1 FOR UPDATE';
const PUT_KEY = `INSERT INTO keys (id, role, name, certificate_pem, not_before, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (id) DO UPDATE SET role = excluded.role, name = excluded.name, certificate_pem = excluded.certificate_pem, not_before = excluded.not_before, not_after = excluded.not_after, created_at = excluded.created_at`;
const HAS_KEY = 'SELECT 1 FROM keys WHERE id = $1';
const ADD_REVOCATION = 'INSERT INTO revocations (id, revoked_at, reason) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING';
const ADD_RETIREMENT = 'INSERT INTO retired_versions (name, version, retired_at, reason, retired_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, version) DO NOTHING';

/**
 * Trust data in PostgreSQL, read synchronously from memory: the trust gate asks `isRevoked` and `retirement` on every
 * run, so reads never wait on the network.
 *
 * Freshness across nodes: every change (on any node, and any SQL edit, through triggers) moves
 * `trust_generation.generation` in its own transaction. Each node reads that one row every `refreshMs` and reloads
 * when it moved; a node's own changes are reloaded before the call returns. So a revocation made on one node is
 * enforced by every node within `refreshMs` plus one load (a poll and a reload: two short queries), 1 s and a few
 * milliseconds by default. While the database cannot be reached, a node keeps what it loaded last.
 *
 * With a seal, each load is compared with what the keys folder vouches for, as `SqliteTrustStore` does (every
 * node needs the same keys folder for that: a node with another folder sees the others' changes as unsealed).
 */
export class PgTrustStore extends CachedTrustRecords implements StoreTrust {
  readonly #db: PgDatabase;
  readonly #sealer: TrustSeal | undefined;
  readonly #refreshMs: number;
  #seenGeneration = -1;
  #timer: ReturnType<typeof setInterval> | undefined;
  #isPolling = false;
  /** Loads outside a change, one at a time, so a slow one never lands after a newer one. */
  #loads: Promise<void> = Promise.resolve();

  private constructor(db: PgDatabase, options: PgTrustStoreOptions) {
    super(options.seal);
    this.#db = db;
    this.#sealer = options.seal;
    this.#refreshMs = options.refreshMs ?? TRUST_REFRESH_MS;
  }

  /** Loads the trust data, then keeps it fresh until {@link close}. @throws FactoryError `E_STORE` when the database cannot be read. */
  static async open(db: PgDatabase, options: PgTrustStoreOptions): Promise<PgTrustStore> {
    const store = new PgTrustStore(db, options);
    await store.#reload();
    if (store.#refreshMs > 0 && Number.isFinite(store.#refreshMs)) {
      store.#timer = setInterval(() => void store.#poll(), store.#refreshMs);
      // Keeping trust fresh is no reason for the process to stay alive.
      store.#timer.unref();
    }
    return store;
  }

  /** How often (ms) this node looks for changes made elsewhere: the bound on how stale its trust data can be, plus one load. */
  get refreshMs(): number {
    return this.#refreshMs;
  }

  /** Stops looking for changes. Idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async addKey(record: KeyRecord): Promise<void> {
    await this.#change({ keys: [record.id] }, () => this.#putKey(record));
  }

  async revoke(id: string, reason: string, at: number): Promise<void> {
    await this.#change({ revocations: [id] }, async () => {
      // Asked of the database, not the cache: the key may have been added on another node a moment ago.
      if (!(await this.#db.row(HAS_KEY, [id]))) throw new FactoryError('E_KEY_NOT_FOUND', `no key with id ${id}; run \`af keys list\``);
      await this.#db.query(ADD_REVOCATION, [id, at, reason]);
    });
  }

  /** Retires a template version; retiring it again keeps the first record. Other nodes see it within {@link refreshMs} and one load. */
  async retire(retirement: VersionRetirement): Promise<void> {
    await this.#change({ retirements: [retirementId(retirement)] }, async () => {
      await this.#db.query(ADD_RETIREMENT, [retirement.name, retirement.version, retirement.retiredAt, retirement.reason, retirement.by]);
    });
  }

  /** Imports keys and revocations from another trust store (the JSON file used before the store existed). */
  async importFrom(source: { keys(): KeyRecord[]; revocation(id: string): Revocation | undefined }): Promise<number> {
    const keys = source.keys();
    const revoked = keys.filter((key) => source.revocation(key.id)).map((key) => key.id);
    await this.#change({ keys: keys.map((key) => key.id), revocations: revoked }, async () => {
      for (const key of keys) {
        await this.#putKey(key);
        const revocation = source.revocation(key.id);
        if (revocation) await this.#db.query(ADD_REVOCATION, [key.id, revocation.revokedAt, revocation.reason]);
      }
    });
    return keys.length;
  }

  /**
   * How the trust tables differ from the seal, every row (restrictions added without the keys folder included).
   * @throws FactoryError `E_TRUST_STATE` when there is no seal or it cannot be read; `E_USAGE` when this store has none.
   */
  async sealChanges(): Promise<TrustChange[]> {
    const seal = this.#requireSeal();
    const changes = seal.changes(await this.#loaded());
    if (changes instanceof FactoryError) throw changes;
    return changes;
  }

  /** Seals the restrictions added without the keys folder (and nothing else). */
  async takeIn(): Promise<void> {
    // Without a seal there is nothing to take restrictions into: nothing to do, as on SQLite.
    if (!this.#sealer) return;
    await this.#change({}, async () => {});
  }

  /**
   * Puts the sealed rows back: keys the seal does not know are deleted (with their revocations), keys, revocations and
   * retirements it holds are restored as sealed. Restrictions added since are kept. @returns what was undone.
   */
  async repair(): Promise<TrustChange[]> {
    const seal = this.#requireSeal();
    const sealed = seal.read();
    if (sealed.kind !== 'ok') throw this.trustProblem() ?? new FactoryError('E_TRUST_STATE', `the trust seal ${seal.location} cannot be used (${sealed.kind}); restore the keys folder from a backup`);
    const undone = diffTrustState(sealed.state, await this.#loaded()).filter((change) => !(change.change === 'added' && change.table !== 'keys'));
    const known = sealed.state.keys.map((key) => key.id);
    await this.#change({}, async () => {
      await this.#db.query('DELETE FROM revocations WHERE NOT (id = ANY($1::text[]))', [known]);
      await this.#db.query('DELETE FROM keys WHERE NOT (id = ANY($1::text[]))', [known]);
      for (const key of sealed.state.keys) await this.#putKey(key);
      for (const revocation of sealed.state.revocations) {
        await this.#db.query('INSERT INTO revocations (id, revoked_at, reason) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET revoked_at = excluded.revoked_at, reason = excluded.reason', [revocation.id, revocation.revokedAt, revocation.reason]);
      }
      for (const retirement of sealed.state.retirements) {
        await this.#db.query(
          'INSERT INTO retired_versions (name, version, retired_at, reason, retired_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, version) DO UPDATE SET retired_at = excluded.retired_at, reason = excluded.reason, retired_by = excluded.retired_by',
          [retirement.name, retirement.version, retirement.retiredAt, retirement.reason, retirement.by],
        );
      }
    });
    return undone;
  }

  /** Seals the trust tables as they are now, whatever the seal said: after a person reviewed them (a restored backup). */
  async adoptAsIs(): Promise<TrustState> {
    const seal = this.#requireSeal();
    try {
      await this.#db.transaction(async () => {
        // Moves the generation too: the data is unchanged, but every node's verdict on it changes.
        await this.#db.query(BUMP);
        await this.#load(() => seal.adopt(this.state));
      });
    } finally {
      await this.#reloadAfterChange();
    }
    return this.state;
  }

  /** Reads are served from memory: the timer keeps it fresh, so there is nothing to do before a read. */
  protected refresh(): void {}

  #requireSeal(): TrustSeal {
    if (!this.#sealer) throw new FactoryError('E_USAGE', 'this store has no trust seal: open it with the project configuration (`af` does)');
    return this.#sealer;
  }

  async #loaded(): Promise<TrustState> {
    await this.#reload();
    return this.state;
  }

  async #putKey(key: KeyRecord): Promise<void> {
    await this.#db.query(PUT_KEY, [key.id, key.role, key.name, key.certificatePem, key.notBefore, key.notAfter, key.createdAt]);
  }

  /**
   * Writes a change and reseals the rows it wrote, in one transaction, as `SqliteTrustStore` does: if the seal cannot
   * be written, a new key is not added; a revocation or retirement is kept all the same (it only refuses more).
   */
  async #change(touched: TrustRowIds, write: () => Promise<void>): Promise<void> {
    const isRestriction = touched.keys === undefined && (touched.revocations !== undefined || touched.retirements !== undefined);
    let before: { bytes: Buffer | null } | undefined;
    try {
      await this.#db.transaction(async () => {
        await this.#db.query(BUMP);
        // Taken under the lock, so that it is not another node's seal that a rollback puts back.
        if (this.#sealer) before = { bytes: this.#sealer.snapshot() };
        await write();
        await this.#load(() => {
          try {
            this.sealChange(touched);
          } catch (error) {
            if (!isRestriction) throw error;
          }
        });
      });
    } catch (error) {
      // The rows were not committed: a seal that names them would read as rows deleted.
      if (before) this.#sealer?.restore(before.bytes);
      throw error;
    } finally {
      await this.#reloadAfterChange();
    }
  }

  /** After a change, committed or not: what was loaded inside the transaction is not necessarily what is stored. */
  async #reloadAfterChange(): Promise<void> {
    try {
      await this.#reload();
    } catch {
      // The database went away after the change: the next poll reloads (the generation seen is forgotten).
      this.#seenGeneration = -1;
    }
  }

  async #poll(): Promise<void> {
    if (this.#isPolling) return;
    this.#isPolling = true;
    try {
      const row = await this.#db.row<{ generation: number }>(GENERATION);
      if (row && row.generation !== this.#seenGeneration) await this.#reload();
    } catch {
      // The database cannot be reached (a restart, a failover): keep what was loaded, and look again next time.
    } finally {
      this.#isPolling = false;
    }
  }

  /** Loads outside a change, one at a time. */
  #reload(): Promise<void> {
    // Inside a caller's transaction, at once: queued behind a load that waits for writers, it would wait for itself.
    if (this.#db.inTransaction) return this.#load();
    const next = this.#loads.then(async () => {
      await this.#load();
      // A writer on another node seals before it commits: a difference seen between the two is confirmed once that
      // writer is done (its lock on the generation row is released at commit). Only when there is one.
      if (this.hasTrustProblem && !this.#db.inTransaction) {
        await this.#db.transaction(async () => {
          await this.#db.query(WAIT_FOR_WRITERS);
          await this.#load();
        });
      }
    });
    this.#loads = next.catch(() => {});
    return next;
  }

  /** @param then runs right after the records are replaced, before any other load can replace them again. */
  async #load(then?: () => void): Promise<void> {
    const loaded = await this.#db.row<Loaded>(LOAD);
    if (!loaded) return;
    this.#seenGeneration = loaded.generation;
    this.replaceRecords(
      loaded.keys.map((row) => ({ id: row.id, role: row.role, name: row.name, certificatePem: row.certificate_pem, notBefore: row.not_before, notAfter: row.not_after, createdAt: row.created_at })),
      loaded.revocations.map((row) => ({ id: row.id, revokedAt: row.revoked_at, reason: row.reason })),
      loaded.retirements.map((row) => ({ name: row.name, version: row.version, retiredAt: row.retired_at, reason: row.reason, by: row.retired_by })),
    );
    then?.();
  }
}
