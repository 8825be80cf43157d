// The PostgreSQL kv beyond the kv contract (test/contracts runs that on it): prefix ranges at the edges of Unicode, NUL, and what only several nodes on one database can show
// (a quota that holds under concurrent writers, compare-and-set between two nodes).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../core/clock.js';
import { KV_LIST_DEFAULT_LIMIT } from '../../../core/kv.js';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { PgKvStore, prefixEnd } from '../../../store/postgres/kv-store.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const ns = { template: 'hello', tenant: 'acme' };
const byteOrder = (keys: string[]): string[] => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

let database: TestDatabase;
let nodes: PgDatabase[];
let kv: PgKvStore;

/** Another node: its own pool on the same database. */
function node(): { db: PgDatabase; kv: PgKvStore } {
  const db = new PgDatabase(database.url);
  nodes.push(db);
  return { db, kv: new PgKvStore(db, createManualClock(1_700_000_000_000)) };
}

beforeEach(async () => {
  database = await createTestDatabase();
  nodes = [];
  const first = node();
  await migratePostgres(first.db);
  kv = first.kv;
});

afterEach(async () => {
  for (const db of nodes) await db.close();
  await database.drop();
});

describe('PgKvStore: prefixes', () => {
  it('lists only the keys that start with the prefix, whatever characters follow it (astral ones and U+10FFFF included)', async () => {
    const keys = ['user:', 'user:1', 'user:10', 'user:2', 'user:\uFFFF', 'user:\u{10FFFF}', 'user:\u{10FFFF}z', 'user;', 'users', 'use', 'order:1', '\u{10FFFF}', '\u{10FFFF}\u{10FFFF}a', 'a\uD7FF', 'a\uD7FFx', 'a\uE000', '😀a', '😀', '😁'];
    for (const key of keys) await kv.set(ns, key, '1', 1 << 20);
    for (const prefix of ['user:', 'user:\u{10FFFF}', '\u{10FFFF}', 'a\uD7FF', '😀', 'use', 'nothing']) {
      expect(await kv.list(ns, { prefix }), prefix).toEqual(byteOrder(keys.filter((key) => key.startsWith(prefix))));
    }
    expect(await kv.list(ns, { prefix: 'user:', limit: 2 })).toEqual(['user:', 'user:1']);
    expect(await kv.list(ns, { prefix: '' })).toEqual(byteOrder(keys));
  });

  it('ends a prefix range at the next code point, skipping surrogates and dropping U+10FFFF', () => {
    expect(prefixEnd('ab')).toBe('ac');
    expect(prefixEnd('a\uD7FF')).toBe('a\uE000');
    expect(prefixEnd('a😀')).toBe('a😁');
    expect(prefixEnd('a\uFFFF')).toBe('a\u{10000}');
    expect(prefixEnd('a\u{10FFFF}\u{10FFFF}')).toBe('b');
    expect(prefixEnd('\u{10FFFF}')).toBeUndefined();
  });

  it(`returns at most ${KV_LIST_DEFAULT_LIMIT} keys when no limit is given, and exactly the limit asked for`, async () => {
    const keys = Array.from({ length: KV_LIST_DEFAULT_LIMIT + 5 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    // Loaded in one statement: the contract's key-by-key loop is not what this shows.
    await nodes[0]!.query("INSERT INTO kv (template, tenant, key, value, bytes, version, updated_at) SELECT $1, $2, k, '0', 7, nextval('kv_versions'), 0 FROM unnest($3::text[]) AS k", [ns.template, ns.tenant, keys]);
    const first = await kv.list(ns, {});
    expect(first).toEqual(keys.slice(0, KV_LIST_DEFAULT_LIMIT));
    expect(await kv.list(ns, { limit: 3 })).toEqual(keys.slice(0, 3));
    expect(await kv.list(ns, { limit: 0 })).toEqual([]);
    expect(await kv.list(ns, { limit: keys.length + 10 })).toEqual(keys);
  });

  it('refuses a key holding NUL, which PostgreSQL text cannot keep, with E_USAGE; such a key is never found', async () => {
    await expect(kv.set(ns, 'a\u0000b', '1', 1024)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('NUL') });
    expect(await kv.get(ns, 'a\u0000b')).toBeUndefined();
    expect(await kv.delete(ns, 'a\u0000b')).toBe(false);
    expect(await kv.list(ns, { prefix: 'a\u0000' })).toEqual([]);
  });
});

describe('PgKvStore: several nodes on one database', () => {
  it('never lets concurrent writers on two nodes pass the quota of one namespace, and keeps the total exact', async () => {
    const other = node();
    const quota = 400;
    // 80 distinct keys of 10 bytes each (key "k00" + JSON of 7 bytes): only 40 fit.
    const writes = Array.from({ length: 80 }, (_, i) => {
      const store = i % 2 === 0 ? kv : other.kv;
      return store.set(ns, `k${String(i).padStart(2, '0')}`, '"12345"', quota);
    });
    const results = await Promise.all(writes);
    expect(results.filter((result) => result.ok)).toHaveLength(40);
    for (const result of results) expect(result.usedBytes).toBeLessThanOrEqual(quota);
    const stored = await nodes[0]!.row<{ sum: number; used: number }>('SELECT (SELECT sum(bytes) FROM kv WHERE template = $1 AND tenant = $2) AS sum, (SELECT bytes FROM kv_usage WHERE template = $1 AND tenant = $2) AS used', [ns.template, ns.tenant]);
    expect(stored).toEqual({ sum: 400, used: 400 });
  });

  it('keeps the total exact when two nodes overwrite and delete the same keys at once', async () => {
    const other = node();
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 60; i++) {
      const store = i % 2 === 0 ? kv : other.kv;
      const key = `k${i % 5}`;
      work.push(i % 3 === 0 ? store.delete(ns, key) : store.set(ns, key, JSON.stringify('x'.repeat(i % 7)), 1 << 20));
    }
    await Promise.all(work);
    const stored = await nodes[0]!.row<{ sum: number; used: number }>('SELECT coalesce((SELECT sum(bytes) FROM kv WHERE template = $1 AND tenant = $2), 0) AS sum, (SELECT bytes FROM kv_usage WHERE template = $1 AND tenant = $2) AS used', [ns.template, ns.tenant]);
    expect(stored?.used).toBe(stored?.sum);
  });

  it('gives every write a new version, and compare-and-set between two nodes lets exactly one writer of a version through', async () => {
    const other = node();
    expect(await kv.getVersioned(ns, 'n')).toBeUndefined();
    // Absent (0): only one of two creators wins.
    const created = await Promise.all([kv.setIfVersion(ns, 'n', '1', 1024, 0), other.kv.setIfVersion(ns, 'n', '1', 1024, 0)]);
    expect(created.filter((result) => result.ok)).toHaveLength(1);
    expect(created.filter((result) => !result.ok && result.conflict)).toHaveLength(1);
    // A counter incremented by both nodes with read, compare-and-set, retry: no increment is lost.
    const increment = async (store: PgKvStore): Promise<void> => {
      for (;;) {
        const current = await store.getVersioned(ns, 'n');
        const result = await store.setIfVersion(ns, 'n', String(Number(current?.json ?? '0') + 1), 1024, current?.version ?? 0);
        if (result.ok) return;
        expect(result.conflict).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: 30 }, (_, i) => increment(i % 2 === 0 ? kv : other.kv)));
    expect(await other.kv.get(ns, 'n')).toBe('31');
    const before = await kv.getVersioned(ns, 'n');
    await other.kv.set(ns, 'n', '31', 1024);
    const after = await kv.getVersioned(ns, 'n');
    expect(after?.version).toBeGreaterThan(before?.version ?? Infinity);
    expect(await kv.setIfVersion(ns, 'n', '99', 1024, before?.version ?? 0)).toEqual({ ok: false, usedBytes: 3, conflict: true });
    expect(await kv.get(ns, 'n')).toBe('31');
  });

  it('never gives a key deleted and written again a version a compare-and-set still holds (no A-B-A)', async () => {
    const other = node();
    await kv.set(ns, 'n', '1', 1024);
    const seen = await kv.getVersioned(ns, 'n');
    await other.kv.delete(ns, 'n');
    await other.kv.set(ns, 'n', '1', 1024);
    const result = await kv.setIfVersion(ns, 'n', '2', 1024, seen?.version ?? 0);
    expect(result).toMatchObject({ ok: false, conflict: true });
    expect(await kv.get(ns, 'n')).toBe('1');
  });

  it('checks the quota in a compare-and-set too, and a refusal there is no conflict', async () => {
    expect(await kv.setIfVersion(ns, 'a', '"12345"', 10, 0)).toMatchObject({ ok: true, usedBytes: 8 });
    expect(await kv.setIfVersion(ns, 'b', '"12345"', 10, 0)).toEqual({ ok: false, usedBytes: 8 });
  });
});
