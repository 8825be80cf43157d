/** @module store/kv-store — the `ctx.kv` backend over SQLite: namespaced by template and tenant, with a byte quota checked atomically. */
import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import { KV_LIST_DEFAULT_LIMIT, type KvNamespace, type KvSetResult, type KvStore } from '../core/kv.js';

export type { KvNamespace, KvSetResult } from '../core/kv.js';

const sizeOf = (key: string, json: string): number => Buffer.byteLength(key) + Buffer.byteLength(json);

/**
 * The same contract as the sandbox's in-memory kv (values travel as JSON text), kept in the
 * `kv` table with a running total per namespace in `kv_usage`, so a quota check is one lookup.
 * Writes are immediate transactions: two processes writing one namespace cannot both pass the quota.
 */
export class SqliteKvStore implements KvStore {
  readonly #get: Database.Statement<[string, string, string], { value: string }>;
  readonly #list: Database.Statement<[string, string, string, string, number], { key: string }>;
  readonly #set: (ns: KvNamespace, key: string, json: string, quotaBytes: number) => KvSetResult;
  readonly #delete: (ns: KvNamespace, key: string) => boolean;

  constructor(db: Database.Database, clock: Clock) {
    this.#get = db.prepare('SELECT value FROM kv WHERE template = ? AND tenant = ? AND key = ?');
    // A range keeps the prefix scan on the primary key. Its end, the prefix followed by the bytes F4 90, sorts after
    // every UTF-8 text that starts with the prefix (no character encodes past F4 8F) and before any other greater text.
    this.#list = db.prepare("SELECT key FROM kv WHERE template = ? AND tenant = ? AND key >= ? AND key < ? || CAST(x'F490' AS TEXT) ORDER BY key LIMIT ?");
    const usage = db.prepare<[string, string], { bytes: number }>('SELECT bytes FROM kv_usage WHERE template = ? AND tenant = ?');
    const oldBytes = db.prepare<[string, string, string], { bytes: number }>('SELECT bytes FROM kv WHERE template = ? AND tenant = ? AND key = ?');
    const upsert = db.prepare(
      'INSERT INTO kv (template, tenant, key, value, bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (template, tenant, key) DO UPDATE SET value = excluded.value, bytes = excluded.bytes, updated_at = excluded.updated_at',
    );
    const remove = db.prepare('DELETE FROM kv WHERE template = ? AND tenant = ? AND key = ?');
    const setUsage = db.prepare('INSERT INTO kv_usage (template, tenant, bytes) VALUES (?, ?, ?) ON CONFLICT (template, tenant) DO UPDATE SET bytes = excluded.bytes');

    const set = db.transaction((ns: KvNamespace, key: string, json: string, quotaBytes: number): KvSetResult => {
      const used = usage.get(ns.template, ns.tenant)?.bytes ?? 0;
      const previous = oldBytes.get(ns.template, ns.tenant, key)?.bytes ?? 0;
      const bytes = sizeOf(key, json);
      const next = used - previous + bytes;
      if (next > quotaBytes) return { ok: false, usedBytes: used };
      upsert.run(ns.template, ns.tenant, key, json, bytes, clock.now());
      setUsage.run(ns.template, ns.tenant, next);
      return { ok: true, usedBytes: next };
    });
    this.#set = (ns, key, json, quotaBytes) => set.immediate(ns, key, json, quotaBytes);
    const del = db.transaction((ns: KvNamespace, key: string): boolean => {
      const previous = oldBytes.get(ns.template, ns.tenant, key)?.bytes;
      if (previous === undefined) return false;
      remove.run(ns.template, ns.tenant, key);
      setUsage.run(ns.template, ns.tenant, Math.max(0, (usage.get(ns.template, ns.tenant)?.bytes ?? 0) - previous));
      return true;
    });
    this.#delete = (ns, key) => del.immediate(ns, key);
  }

  get(ns: KvNamespace, key: string): string | undefined {
    return this.#get.get(ns.template, ns.tenant, key)?.value;
  }

  set(ns: KvNamespace, key: string, json: string, quotaBytes: number): KvSetResult {
    return this.#set(ns, key, json, quotaBytes);
  }

  delete(ns: KvNamespace, key: string): boolean {
    return this.#delete(ns, key);
  }

  list(ns: KvNamespace, options: { prefix?: string; limit?: number }): string[] {
    const prefix = options.prefix ?? '';
    return this.#list.all(ns.template, ns.tenant, prefix, prefix, options.limit ?? KV_LIST_DEFAULT_LIMIT).map((row) => row.key);
  }
}
