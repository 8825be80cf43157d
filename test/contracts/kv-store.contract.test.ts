// The KvStore contract (core/kv): what `ctx.kv` relies on, run against every implementation (test/contracts/implementations).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KV_LIST_DEFAULT_LIMIT, type KvStore } from '../../core/kv.js';
import { KV_STORES, type KvFixture } from './implementations.js';

const ns = { template: 'hello', tenant: 'acme' };

/** Byte order of UTF-8, computed independently of the code under test. */
const byteOrder = (keys: string[]): string[] => [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe.each(KV_STORES)('KvStore: $name', ({ open }) => {
  let fixture: KvFixture;
  let kv: KvStore;
  beforeEach(async () => {
    fixture = await open();
    kv = fixture.kv;
  });
  afterEach(() => fixture.close());

  it('returns the JSON text written, undefined for an absent key, and reports whether a deleted key existed', async () => {
    expect(await kv.get(ns, 'a')).toBeUndefined();
    expect(await kv.set(ns, 'a', '{"n":1,"s":"é"}', 1024)).toEqual({ ok: true, usedBytes: 1 + Buffer.byteLength('{"n":1,"s":"é"}') });
    expect(await kv.get(ns, 'a')).toBe('{"n":1,"s":"é"}');
    expect(await kv.set(ns, 'a', '2', 1024)).toEqual({ ok: true, usedBytes: 2 });
    expect(await kv.get(ns, 'a')).toBe('2');
    expect(await kv.delete(ns, 'a')).toBe(true);
    expect(await kv.delete(ns, 'a')).toBe(false);
    expect(await kv.get(ns, 'a')).toBeUndefined();
  });

  it('keeps every template and tenant apart, quota included', async () => {
    const others = [{ template: 'hello', tenant: 'globex' }, { template: 'other', tenant: 'acme' }];
    await kv.set(ns, 'k', '"mine"', 20);
    for (const other of others) {
      expect(await kv.get(other, 'k')).toBeUndefined();
      expect(await kv.list(other, {})).toEqual([]);
      expect(await kv.set(other, 'k', '"theirs"', 20)).toEqual({ ok: true, usedBytes: 9 });
    }
    expect(await kv.get(ns, 'k')).toBe('"mine"');
    expect(await kv.delete(others[0]!, 'k')).toBe(true);
    expect(await kv.get(ns, 'k')).toBe('"mine"');
  });

  it('counts keys and values in UTF-8 bytes against the quota, an overwrite once, and changes nothing on a refusal', async () => {
    expect(await kv.set(ns, 'k', '"12345"', 20)).toEqual({ ok: true, usedBytes: 8 });
    expect(await kv.set(ns, 'k', '"1234567890"', 20)).toEqual({ ok: true, usedBytes: 13 });
    expect(await kv.set(ns, 'j', '"123456789"', 20)).toEqual({ ok: false, usedBytes: 13 });
    expect(await kv.get(ns, 'j')).toBeUndefined();
    // An overwrite that would pass the quota keeps the old value.
    expect(await kv.set(ns, 'k', '"12345678901234567890"', 20)).toEqual({ ok: false, usedBytes: 13 });
    expect(await kv.get(ns, 'k')).toBe('"1234567890"');
    // The key "é" is 2 bytes, its JSON "😀" with quotes 6.
    expect(await kv.set(ns, 'é', '"😀"', 24)).toEqual({ ok: true, usedBytes: 13 + 2 + 6 });
    expect(await kv.delete(ns, 'k')).toBe(true);
    expect(await kv.set(ns, 'j', '"123456789"', 20)).toEqual({ ok: true, usedBytes: 8 + 12 });
  });

  it('lists keys in byte order of their UTF-8, not in UTF-16 order', async () => {
    // U+FFFD sorts after U+1F600 in UTF-16 units (0xFFFD > 0xD83D), before it in UTF-8 bytes (EF < F0).
    const keys = ['b', 'B', 'a', 'ab', 'a b', 'é', 'e', '\uFFFD', '😀', '\uE000', 'Z', '10', '9'];
    for (const key of keys) await kv.set(ns, key, '1', 1 << 20);
    const listed = await kv.list(ns, {});
    expect(listed).toEqual(byteOrder(keys));
    expect(listed.indexOf('\uFFFD')).toBeLessThan(listed.indexOf('😀'));
  });

  it('lists only the keys that start with the prefix, whatever characters follow it', async () => {
    const keys = ['user:', 'user:1', 'user:10', 'user:2', 'user:\uFFFF', 'user:\u{10FFFF}', 'user:\u{10FFFF}z', 'user;', 'users', 'use', 'order:1'];
    for (const key of keys) await kv.set(ns, key, '1', 1 << 20);
    expect(await kv.list(ns, { prefix: 'user:' })).toEqual(byteOrder(keys.filter((key) => key.startsWith('user:'))));
    expect(await kv.list(ns, { prefix: 'user:', limit: 2 })).toEqual(['user:', 'user:1']);
    expect(await kv.list(ns, { prefix: 'nothing' })).toEqual([]);
    expect(await kv.list(ns, { prefix: '' })).toEqual(byteOrder(keys));
  });

  it(`returns at most ${KV_LIST_DEFAULT_LIMIT} keys when no limit is given, and exactly the limit asked for`, async () => {
    const keys = Array.from({ length: KV_LIST_DEFAULT_LIMIT + 5 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    for (const key of keys) await kv.set(ns, key, '0', 1 << 24);
    const first = await kv.list(ns, {});
    expect(first).toHaveLength(KV_LIST_DEFAULT_LIMIT);
    expect(first).toEqual(keys.slice(0, KV_LIST_DEFAULT_LIMIT));
    expect(await kv.list(ns, { limit: 3 })).toEqual(keys.slice(0, 3));
    expect(await kv.list(ns, { limit: 0 })).toEqual([]);
    expect(await kv.list(ns, { limit: keys.length + 10 })).toEqual(keys);
  });
});
