/** @module sandbox/memory-kv — an in-memory KvStore for tests, inline use and as the reference for the SQLite one. */
import { compareKvKeys, KV_LIST_DEFAULT_LIMIT, type KvNamespace, type KvSetResult, type KvStore } from '../core/kv.js';

interface Space {
  values: Map<string, string>;
  usedBytes: number;
}

const sizeOf = (key: string, json: string): number => Buffer.byteLength(key) + Buffer.byteLength(json);

/**
 * Creates a kv store that lives in this process. Quota checks and writes happen in one synchronous step, so they are atomic.
 * @example
 * const kv = createMemoryKvStore();
 * await kv.set({ template: 'hello', tenant: 'acme' }, 'count', '1', 1024);
 */
export function createMemoryKvStore(): KvStore & { clear(): void } {
  const spaces = new Map<string, Space>();
  const space = (ns: KvNamespace): Space => {
    const id = `${ns.template}\u0000${ns.tenant}`;
    let s = spaces.get(id);
    if (!s) {
      s = { values: new Map(), usedBytes: 0 };
      spaces.set(id, s);
    }
    return s;
  };
  return {
    get(ns, key) {
      return space(ns).values.get(key);
    },
    set(ns, key, json, quotaBytes): KvSetResult {
      const s = space(ns);
      const old = s.values.get(key);
      const next = s.usedBytes - (old === undefined ? 0 : sizeOf(key, old)) + sizeOf(key, json);
      if (next > quotaBytes) return { ok: false, usedBytes: s.usedBytes };
      s.values.set(key, json);
      s.usedBytes = next;
      return { ok: true, usedBytes: next };
    },
    delete(ns, key) {
      const s = space(ns);
      const old = s.values.get(key);
      if (old === undefined) return false;
      s.values.delete(key);
      s.usedBytes -= sizeOf(key, old);
      return true;
    },
    list(ns, options) {
      const prefix = options.prefix ?? '';
      // Byte order, as SQLite keeps them: `sort()` alone orders astral characters before U+E000-U+FFFF.
      return [...space(ns).values.keys()].filter((k) => k.startsWith(prefix)).sort(compareKvKeys).slice(0, options.limit ?? KV_LIST_DEFAULT_LIMIT);
    },
    clear() {
      spaces.clear();
    },
  };
}
