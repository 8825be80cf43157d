/** @module core/kv — the contract of `ctx.kv`'s backend: `sandbox/` calls it, `sandbox/` and `store/` implement it. */

/** Where a kv key lives: every template and tenant has its own namespace. */
export interface KvNamespace {
  template: string;
  tenant: string;
}

/** Result of a quota-checked write. */
export type KvSetResult = { ok: true; usedBytes: number } | { ok: false; usedBytes: number };

/** Keys {@link KvStore.list} returns when no limit is given: what `ctx.kv.list()` asks for by default. */
export const KV_LIST_DEFAULT_LIMIT = 1000;

/**
 * The kv the sandbox gives agents. Values cross as JSON text so nothing is re-serialised on the way.
 * `sandbox/` ships an in-memory implementation (`createMemoryKvStore`); `store/` implements it over SQLite. Both run
 * the contract suite in `test/contracts/kv-store.contract.test.ts`.
 */
export interface KvStore {
  /** @returns the value's JSON text, or `undefined` when the key is absent. */
  get(ns: KvNamespace, key: string): Promise<string | undefined> | string | undefined;
  /**
   * Writes unless the namespace would exceed `quotaBytes` (keys plus JSON text, UTF-8; an overwrite counts the new
   * value only). Must be atomic per namespace. `usedBytes` is the namespace's total after a write, or as it stays after
   * a refusal.
   */
  set(ns: KvNamespace, key: string, json: string, quotaBytes: number): Promise<KvSetResult> | KvSetResult;
  /** @returns whether the key existed. */
  delete(ns: KvNamespace, key: string): Promise<boolean> | boolean;
  /**
   * The first `limit` keys that start with `prefix`, in byte order of their UTF-8 encoding (which is code point order,
   * and what SQLite's BINARY collation and PostgreSQL's `COLLATE "C"` compare by; not JavaScript's `sort()`, which
   * compares UTF-16 units). There is no cursor: a caller that needs more asks with a longer prefix.
   * @param options.limit a non-negative integer. @default {@link KV_LIST_DEFAULT_LIMIT}
   */
  list(ns: KvNamespace, options: { prefix?: string; limit?: number }): Promise<string[]> | string[];
}

/** Orders keys as {@link KvStore.list} does: by code point, which is byte order of their UTF-8. */
export function compareKvKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 units order as code points except that surrogates (0xD800-0xDFFF, astral code points) must sort after
    // 0xE000-0xFFFF: lift both out of the way before comparing.
    return (x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x) - (y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y);
  }
  return a.length - b.length;
}
