// The kv of one queued run (store/postgres/run-kv) under calls that overlap, as a parent's and its spawned children's
// do when they share it: a write is never lost to a read of the same key that was still on its way.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { PostgresStore } from '../../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const NS = { template: 'counter', tenant: 'acme' };
const QUOTA = 1 << 20;

let database: TestDatabase;
let store: PostgresStore;

beforeEach(async () => {
  database = await createTestDatabase();
  store = await PostgresStore.open({ url: database.url });
});

afterEach(async () => {
  await store.close();
  await database.drop();
});

it('keeps a write made while a read of the same key was under way, and applies it', async () => {
  const kv = store.openRunKv();
  // The set sees the key first and writes; the get's look at the shared kv answers after that write.
  const [, read] = await Promise.all([kv.set(NS, 'n', '1', QUOTA), kv.get(NS, 'n')]);
  expect(read === undefined || read === '1').toBe(true);
  expect(await kv.get(NS, 'n')).toBe('1');
  await kv.apply();
  expect(await store.kv.get(NS, 'n')).toBe('1');
});

it('keeps every write of calls that overlap on many keys', async () => {
  const kv = store.openRunKv();
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  await Promise.all(keys.flatMap((key) => [kv.set(NS, key, JSON.stringify(key), QUOTA), kv.get(NS, key), kv.get(NS, key)]));
  await kv.apply();
  expect(await store.kv.list(NS, { limit: 100 })).toEqual([...keys].sort());
});
