/** @module store/postgres/kv-store — the `ctx.kv` backend over PostgreSQL: the SQLite kv's contract, a quota that holds across nodes, and versions for compare-and-set. */
import type { Clock } from '../../core/clock.js';
import { FactoryError } from '../../core/errors.js';
import { KV_LIST_DEFAULT_LIMIT, type KvNamespace, type KvSetResult, type KvStore } from '../../core/kv.js';
import type { PgDatabase, Statement } from './connection.js';

/** A value with the version of the write that put it there (versions only grow, and are never reused). */
export interface VersionedValue {
  json: string;
  version: number;
}

/** The result of {@link PgKvStore.setIfVersion}: `conflict` when the key's version was not the one expected. */
export type KvCasResult = { ok: true; usedBytes: number; version: number } | { ok: false; usedBytes: number; conflict?: true };

const sizeOf = (key: string, json: string): number => Buffer.byteLength(key) + Buffer.byteLength(json);

// Everything a run's kv calls send, named: prepared once per connection.
const GET: Statement = { name: 'af_kv_get', text: 'SELECT value FROM kv WHERE template = $1 AND tenant = $2 AND key = $3' };
const GET_VERSIONED: Statement = { name: 'af_kv_get_versioned', text: 'SELECT value, version FROM kv WHERE template = $1 AND tenant = $2 AND key = $3' };
const LOCK_USAGE: Statement = { name: 'af_kv_lock_usage', text: 'SELECT bytes FROM kv_usage WHERE template = $1 AND tenant = $2 FOR UPDATE' };
const CREATE_USAGE: Statement = { name: 'af_kv_create_usage', text: 'INSERT INTO kv_usage (template, tenant, bytes) VALUES ($1, $2, 0) ON CONFLICT (template, tenant) DO NOTHING' };
const USAGE: Statement = { name: 'af_kv_usage', text: 'SELECT bytes FROM kv_usage WHERE template = $1 AND tenant = $2' };
const OLD: Statement = { name: 'af_kv_old', text: 'SELECT bytes, version FROM kv WHERE template = $1 AND tenant = $2 AND key = $3' };
// The value and the namespace's total in one statement (both CTEs run whatever the outer query reads).
const WRITE: Statement = {
  name: 'af_kv_write',
  text: `WITH written AS (
      INSERT INTO kv (template, tenant, key, value, bytes, version, updated_at) VALUES ($1, $2, $3, $4, $5, nextval('kv_versions'), $6)
      ON CONFLICT (template, tenant, key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes, version = excluded.version, updated_at = excluded.updated_at
      RETURNING version
    ), total AS (UPDATE kv_usage SET bytes = $7 WHERE template = $1 AND tenant = $2)
    SELECT version FROM written`,
};
const DELETE: Statement = {
  name: 'af_kv_delete',
  text: `WITH gone AS (DELETE FROM kv WHERE template = $1 AND tenant = $2 AND key = $3 RETURNING bytes)
    UPDATE kv_usage SET bytes = greatest(0, kv_usage.bytes - gone.bytes) FROM gone WHERE template = $1 AND tenant = $2 RETURNING gone.bytes`,
};
const LIST_ALL: Statement = { name: 'af_kv_list_all', text: 'SELECT key FROM kv WHERE template = $1 AND tenant = $2 ORDER BY key LIMIT $3' };
const LIST_FROM: Statement = { name: 'af_kv_list_from', text: 'SELECT key FROM kv WHERE template = $1 AND tenant = $2 AND key >= $3 ORDER BY key LIMIT $4' };
const LIST_RANGE: Statement = { name: 'af_kv_list_range', text: 'SELECT key FROM kv WHERE template = $1 AND tenant = $2 AND key >= $3 AND key < $4 ORDER BY key LIMIT $5' };

/**
 * The same contract as the SQLite kv, in the `kv` table with a running total per namespace in `kv_usage`. Every
 * write first locks the namespace's `kv_usage` row (`SELECT … FOR UPDATE`, creating it when missing), and reads the
 * key's old size only once it holds that lock: writers of one namespace, on any node, take turns, so none of them
 * can pass the quota on a total another is about to change. Namespaces never wait on one another.
 *
 * Every write gives the key a new version from the `kv_versions` sequence, which {@link setIfVersion} compares: what
 * the run queue uses to apply a run's kv writes exactly once.
 *
 * Where PostgreSQL differs: its text cannot hold the NUL character, so a key with one is refused with `E_USAGE`
 * (SQLite keeps it); no such key can exist, so reading or deleting one finds nothing.
 */
export class PgKvStore implements KvStore {
  readonly #db: PgDatabase;
  readonly #clock: Clock;

  constructor(db: PgDatabase, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async get(ns: KvNamespace, key: string): Promise<string | undefined> {
    if (hasNul(key)) return undefined;
    return (await this.#db.row<{ value: string }>(GET, [ns.template, ns.tenant, key]))?.value;
  }

  /** The value and its version, for a compare-and-set with {@link setIfVersion}. */
  async getVersioned(ns: KvNamespace, key: string): Promise<VersionedValue | undefined> {
    if (hasNul(key)) return undefined;
    const row = await this.#db.row<{ value: string; version: number }>(GET_VERSIONED, [ns.template, ns.tenant, key]);
    return row ? { json: row.value, version: row.version } : undefined;
  }

  async set(ns: KvNamespace, key: string, json: string, quotaBytes: number): Promise<KvSetResult> {
    const result = await this.#write(ns, key, json, quotaBytes, undefined);
    return { ok: result.ok, usedBytes: result.usedBytes };
  }

  /**
   * Writes only when the key is still at `expectedVersion` (0: the key must be absent), under the same quota as
   * {@link set}. @returns `conflict: true` when another write got there first (nothing written).
   */
  setIfVersion(ns: KvNamespace, key: string, json: string, quotaBytes: number, expectedVersion: number): Promise<KvCasResult> {
    return this.#write(ns, key, json, quotaBytes, expectedVersion);
  }

  /** The namespace's bytes in use (keys plus JSON text), as the quota counts them. */
  async usage(ns: KvNamespace): Promise<number> {
    return (await this.#db.row<{ bytes: number }>(USAGE, [ns.template, ns.tenant]))?.bytes ?? 0;
  }

  /**
   * Deletes the key only when it is still at `expectedVersion` (the compare-and-set form of {@link delete}).
   * @returns 'deleted', or 'conflict' when another write got there first (nothing deleted).
   */
  async deleteIfVersion(ns: KvNamespace, key: string, expectedVersion: number): Promise<'deleted' | 'conflict'> {
    if (hasNul(key)) return 'conflict';
    return this.#db.transaction(async () => {
      await this.#lockUsage(ns);
      const old = await this.#db.row<{ bytes: number; version: number }>(OLD, [ns.template, ns.tenant, key]);
      if ((old?.version ?? 0) !== expectedVersion || !old) return 'conflict';
      await this.#db.query(DELETE, [ns.template, ns.tenant, key]);
      return 'deleted';
    });
  }

  async delete(ns: KvNamespace, key: string): Promise<boolean> {
    if (hasNul(key)) return false;
    // The namespace's lock first, as writers take it: a delete that took the key's row first and then waited for the
    // namespace would deadlock with a writer of that key.
    return this.#db.transaction(async () => {
      // Locked when it exists; not created for a delete (a namespace without one holds no key this store wrote).
      await this.#db.query(LOCK_USAGE, [ns.template, ns.tenant]);
      return (await this.#db.query(DELETE, [ns.template, ns.tenant, key])).rowCount === 1;
    });
  }

  async list(ns: KvNamespace, options: { prefix?: string; limit?: number }): Promise<string[]> {
    const prefix = options.prefix ?? '';
    const limit = options.limit ?? KV_LIST_DEFAULT_LIMIT;
    if (hasNul(prefix)) return [];
    let rows: Array<{ key: string }>;
    if (prefix === '') rows = await this.#db.rows(LIST_ALL, [ns.template, ns.tenant, limit]);
    else {
      // A range keeps the scan on the primary key (LIKE with a parameter would not). Its end is the smallest text
      // greater than every text that starts with the prefix; a prefix of only U+10FFFF has none, and needs no end.
      const end = prefixEnd(prefix);
      rows = end === undefined
        ? await this.#db.rows(LIST_FROM, [ns.template, ns.tenant, prefix, limit])
        : await this.#db.rows(LIST_RANGE, [ns.template, ns.tenant, prefix, end, limit]);
    }
    return rows.map((row) => row.key as string);
  }

  async #write(ns: KvNamespace, key: string, json: string, quotaBytes: number, expectedVersion: number | undefined): Promise<KvCasResult> {
    if (hasNul(key)) throw new FactoryError('E_USAGE', `kv key ${JSON.stringify(key)} holds the NUL character (\\u0000), which a PostgreSQL store cannot keep; use another key`);
    const bytes = sizeOf(key, json);
    return this.#db.transaction(async () => {
      const used = await this.#lockUsage(ns);
      const old = await this.#db.row<{ bytes: number; version: number }>(OLD, [ns.template, ns.tenant, key]);
      if (expectedVersion !== undefined && (old?.version ?? 0) !== expectedVersion) return { ok: false, usedBytes: used, conflict: true };
      const next = used - (old?.bytes ?? 0) + bytes;
      if (next > quotaBytes) return { ok: false, usedBytes: used };
      const written = await this.#db.row<{ version: number }>(WRITE, [ns.template, ns.tenant, key, json, bytes, this.#clock.now(), next]);
      return { ok: true, usedBytes: next, version: written?.version ?? 0 };
    });
  }

  /**
   * Locks the namespace's usage row for the rest of the transaction, creating it when missing. @returns its bytes.
   * Two first writers both insert: the second waits on the first's row, does nothing, and then locks it.
   */
  async #lockUsage(ns: KvNamespace): Promise<number> {
    const locked = await this.#db.row<{ bytes: number }>(LOCK_USAGE, [ns.template, ns.tenant]);
    if (locked) return locked.bytes;
    await this.#db.query(CREATE_USAGE, [ns.template, ns.tenant]);
    return (await this.#db.row<{ bytes: number }>(LOCK_USAGE, [ns.template, ns.tenant]))?.bytes ?? 0;
  }
}

function hasNul(text: string): boolean {
  return text.includes('\u0000');
}

/**
 * The smallest text that sorts (by code point, as `COLLATE "C"` compares UTF-8) after every text starting with
 * `prefix`: the prefix with its last code point moved up by one, skipping the surrogates, which are no code points
 * of their own; trailing U+10FFFF, the last code point, are dropped first. Undefined when nothing is left.
 * (SQLite can end the range with the bytes F4 90, which no UTF-8 text holds; PostgreSQL refuses invalid UTF-8.)
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix, (character) => character.codePointAt(0) as number);
  while (points.length > 0 && points[points.length - 1] === 0x10ffff) points.pop();
  if (points.length === 0) return undefined;
  const last = points.pop() as number;
  // A lone surrogate reaches PostgreSQL as U+FFFD (the driver encodes it so): take it as that.
  const point = last >= 0xd800 && last <= 0xdfff ? 0xfffd : last;
  points.push(point === 0xd7ff ? 0xe000 : point + 1);
  return String.fromCodePoint(...points);
}
