// Every implementation the contract suites run against, in one place. A new store backend (PostgreSQL) adds one row to
// STORES and runs the store contract, and through it the kv, trust-store and run-sink contracts, on its own parts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Clock, createManualClock, type ManualClock } from '../../core/clock.js';
import type { KvStore } from '../../core/kv.js';
import type { RunRecord, RunSink } from '../../core/run-record.js';
import type { TrustStore } from '../../core/trust-records.js';
import { createMemoryRunSink } from '../../runtime/index.js';
import { createMemoryKvStore } from '../../sandbox/index.js';
import { openStore, type Store } from '../../store/index.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { JsonTrustStore } from '../../templates/index.js';

/** A store backend under test: a fresh, empty store on each `open`, reading time from `clock`. */
export interface StoreImplementation {
  name: string;
  open(clock: Clock): Promise<StoreFixture>;
}

export interface StoreFixture {
  store: Store;
  /** Another handle on the same data, as another process would open it (closed by `close`). */
  reopen(clock?: Clock): Promise<Store>;
  /** Closes every handle and removes the data. */
  close(): Promise<void>;
}

/** The store backends. One row per backend: every suite below derives its rows for the store from this table. */
export const STORES: StoreImplementation[] = [
  {
    name: 'SQLite',
    async open(clock) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'af-contract-'));
      const file = path.join(dir, 'factory.db');
      const handles = [openStore({ path: file, clock })];
      return {
        store: handles[0] as Store,
        async reopen(other = clock) {
          const store = openStore({ path: file, clock: other });
          handles.push(store);
          return store;
        },
        async close() {
          for (const handle of handles) await handle.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    async open(clock) {
      const database = await createTestDatabase();
      // Other nodes see trust changes within one refresh: a short one here, so a test does not wait on it.
      const handles: Store[] = [await PostgresStore.open({ url: database.url, clock, trustRefreshMs: 20 })];
      return {
        store: handles[0] as Store,
        async reopen(other = clock) {
          const store = await PostgresStore.open({ url: database.url, clock: other, trustRefreshMs: 20 });
          handles.push(store);
          return store;
        },
        async close() {
          for (const handle of handles) await handle.close();
          await database.drop();
        },
      };
    },
  },
];

/** A clock for contract tests: it moves only when the test moves it. */
export function contractClock(): ManualClock {
  return createManualClock(1_700_000_000_000);
}

export interface KvFixture {
  kv: KvStore;
  close(): Promise<void>;
}

/** Every `KvStore`: the sandbox's in-memory one and each store backend's. */
export const KV_STORES: Array<{ name: string; open(): Promise<KvFixture> | KvFixture }> = [
  { name: 'memory (sandbox)', open: () => ({ kv: createMemoryKvStore(), close: async () => {} }) },
  ...STORES.map((backend) => ({
    name: `${backend.name} (store)`,
    async open(): Promise<KvFixture> {
      const fixture = await backend.open(contractClock());
      return { kv: fixture.store.kv, close: () => fixture.close() };
    },
  })),
];

export interface TrustFixture {
  trust: TrustStore;
  /** Another instance over the same data, as another process would open it. */
  reopen(): Promise<TrustStore> | TrustStore;
  close(): Promise<void>;
}

/** Every `TrustStore`: `.af/trust.json` (templates) and each store backend's. */
export const TRUST_STORES: Array<{ name: string; open(): Promise<TrustFixture> | TrustFixture }> = [
  {
    name: 'JSON file (templates)',
    open(): TrustFixture {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'af-contract-'));
      const file = path.join(dir, 'trust.json');
      const opened: JsonTrustStore[] = [];
      // No polling: each instance reads the file when made, so nothing waits on a timer.
      const make = () => {
        const store = new JsonTrustStore(file, { pollMs: 0 });
        opened.push(store);
        return store;
      };
      return {
        trust: make(),
        reopen: make,
        async close() {
          for (const store of opened) store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  ...STORES.map((backend) => ({
    name: `${backend.name} (store)`,
    async open(): Promise<TrustFixture> {
      const fixture = await backend.open(contractClock());
      return { trust: fixture.store.trust, reopen: async () => (await fixture.reopen()).trust, close: () => fixture.close() };
    },
  })),
];

export interface RunSinkFixture {
  sink: RunSink;
  /** The records the sink has made durable, in the order they were written. */
  readBack(): Promise<RunRecord[]> | RunRecord[];
  close(): Promise<void>;
}

/** Every `RunSink`: the runtime's in-memory ring and each store backend's batched writer. */
export const RUN_SINKS: Array<{ name: string; open(): Promise<RunSinkFixture> | RunSinkFixture }> = [
  {
    name: 'memory ring (runtime)',
    open(): RunSinkFixture {
      const sink = createMemoryRunSink();
      return { sink, readBack: () => sink.records(), close: () => sink.close() };
    },
  },
  ...STORES.map((backend) => ({
    name: `${backend.name} run writer (store)`,
    async open(): Promise<RunSinkFixture> {
      const fixture = await backend.open(contractClock());
      const { store } = fixture;
      return { sink: store.runs, readBack: async () => (await store.queries.after(0)).map((entry) => entry.run), close: () => fixture.close() };
    },
  })),
];
