/** @module store/postgres/run-kv — the kv of one queued run: reads go to the shared kv and remember versions, writes wait, and all of it is applied with compare-and-set when the run completes. */
import { FactoryError } from '../../core/errors.js';
import { compareKvKeys, KV_LIST_DEFAULT_LIMIT, type KvNamespace, type KvSetResult, type KvStore } from '../../core/kv.js';
import type { PgDatabase } from './connection.js';
import type { PgKvStore } from './kv-store.js';

/** A key's state as this run knows it: the version it saw (0: absent) and what it wrote, if anything. */
interface Seen {
  ns: KvNamespace;
  key: string;
  version: number;
  /** The value as this run sees it now (undefined: absent). */
  json: string | undefined;
  bytes: number;
  written: boolean;
  quotaBytes: number;
}

const READ_VERSION = { name: 'af_run_kv_read_version', text: 'SELECT version FROM kv WHERE template = $1 AND tenant = $2 AND key = $3 FOR SHARE' };

const idOf = (ns: KvNamespace, key: string) => `${ns.template}\u0000${ns.tenant}\u0000${key}`;
const sizeOf = (key: string, json: string) => Buffer.byteLength(key) + Buffer.byteLength(json);

/**
 * Optimistic concurrency for one run, as a transaction of its own would be: a run sees its own writes, and at
 * completion every key it read or wrote must still be at the version it saw, or nothing is applied and the run is
 * run again (`E_CONFLICT`). A run's agent code may therefore run more than once; its kv effects are applied once.
 *
 * Not covered: keys a run *listed* but did not read (a key added meanwhile does not conflict), as with snapshot
 * isolation's phantoms.
 */
export class RunKv implements KvStore {
  readonly #db: PgDatabase;
  readonly #shared: PgKvStore;
  readonly #seen = new Map<string, Seen>();
  readonly #usage = new Map<string, number>();

  constructor(db: PgDatabase, shared: PgKvStore) {
    this.#db = db;
    this.#shared = shared;
  }

  /** True while the run has read and written no key: its completion has nothing to check or apply. */
  get isEmpty(): boolean {
    return this.#seen.size === 0;
  }

  async get(ns: KvNamespace, key: string): Promise<string | undefined> {
    return (await this.#see(ns, key)).json;
  }

  async set(ns: KvNamespace, key: string, json: string, quotaBytes: number): Promise<KvSetResult> {
    const seen = await this.#see(ns, key);
    const nsId = idOf(ns, '');
    const used = await this.#usageOf(ns, nsId);
    const bytes = sizeOf(key, json);
    const next = used - seen.bytes + bytes;
    if (next > quotaBytes) return { ok: false, usedBytes: used };
    this.#usage.set(nsId, next);
    Object.assign(seen, { json, bytes, written: true, quotaBytes });
    return { ok: true, usedBytes: next };
  }

  async delete(ns: KvNamespace, key: string): Promise<boolean> {
    const seen = await this.#see(ns, key);
    if (seen.json === undefined) return false;
    const nsId = idOf(ns, '');
    const used = await this.#usageOf(ns, nsId);
    this.#usage.set(nsId, Math.max(0, used - seen.bytes));
    Object.assign(seen, { json: undefined, bytes: 0, written: true });
    return true;
  }

  /** The shared keys with this run's writes laid over them. */
  async list(ns: KvNamespace, options: { prefix?: string; limit?: number }): Promise<string[]> {
    const prefix = options.prefix ?? '';
    const limit = options.limit ?? KV_LIST_DEFAULT_LIMIT;
    const mine = [...this.#seen.values()].filter((seen) => seen.written && seen.ns.template === ns.template && seen.ns.tenant === ns.tenant && seen.key.startsWith(prefix));
    // Enough shared keys that, after this run's deletions, `limit` remain.
    const shared = await this.#shared.list(ns, { prefix, limit: limit + mine.length });
    const keys = new Set(shared);
    for (const seen of mine) {
      if (seen.json === undefined) keys.delete(seen.key);
      else keys.add(seen.key);
    }
    return [...keys].sort(compareKvKeys).slice(0, limit);
  }

  /**
   * Applies the run's writes, inside the completion transaction: each written key with compare-and-set on the version
   * the run saw, each key only read locked (`FOR SHARE`) and checked.
   * @throws FactoryError `E_CONFLICT` when any of them changed since the run saw it (the caller rolls back).
   */
  async apply(): Promise<void> {
    // Sorted, so two completions touching the same keys lock them in one order and cannot deadlock.
    const entries = [...this.#seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, seen]) => seen);
    for (const seen of entries) {
      if (!seen.written) {
        const row = await this.#db.row<{ version: number }>(READ_VERSION, [seen.ns.template, seen.ns.tenant, seen.key]);
        if ((row?.version ?? 0) !== seen.version) throw conflict(seen);
        continue;
      }
      if (seen.json === undefined) {
        if (seen.version === 0) continue;
        const result = await this.#shared.deleteIfVersion(seen.ns, seen.key, seen.version);
        if (result === 'conflict') throw conflict(seen);
        continue;
      }
      const result = await this.#shared.setIfVersion(seen.ns, seen.key, seen.json, seen.quotaBytes, seen.version);
      if (!result.ok) throw result.conflict ? conflict(seen) : new FactoryError('E_CONFLICT', `kv of ${seen.ns.template} for tenant ${seen.ns.tenant} grew past its quota while the run ran; it runs again`);
    }
  }

  /** The namespace's usage as this run sees it; the shared figure is read once, and an overlapping call's count kept. */
  async #usageOf(ns: KvNamespace, nsId: string): Promise<number> {
    const known = this.#usage.get(nsId);
    if (known !== undefined) return known;
    const shared = await this.#shared.usage(ns);
    return this.#usage.get(nsId) ?? shared;
  }

  async #see(ns: KvNamespace, key: string): Promise<Seen> {
    const id = idOf(ns, key);
    const known = this.#seen.get(id);
    if (known) return known;
    const value = await this.#shared.getVersioned(ns, key);
    // Calls overlap (an agent's own, its spawned children's): another may have seen, even written, the key meanwhile.
    const seen = this.#seen.get(id) ?? { ns, key, version: value?.version ?? 0, json: value?.json, bytes: value ? sizeOf(key, value.json) : 0, written: false, quotaBytes: 0 };
    this.#seen.set(id, seen);
    return seen;
  }
}

function conflict(seen: Seen): FactoryError {
  return new FactoryError('E_CONFLICT', `kv key ${JSON.stringify(seen.key)} of ${seen.ns.template} for tenant ${seen.ns.tenant} changed while the run ran; it runs again`);
}
