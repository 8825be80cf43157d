/** @module store/connect — opens the store a location names: a SQLite file (`sqlite:PATH` or a plain path) or a PostgreSQL database (`postgres://…`). */
import path from 'node:path';
import { FactoryError } from '../core/errors.js';
import type { Store } from './contract.js';
import type { RunQueueOptions } from './postgres/run-queue.js';
import { openStore, type StoreOptions } from './store.js';

export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Options every backend takes (the SQLite file or PostgreSQL URL comes from the location). */
export type ConnectOptions = Omit<StoreOptions, 'path'> & {
  /** PostgreSQL: bring an older schema up to date (else refuse it and say to run `af migrate`). @default true */
  migrate?: boolean;
  /** PostgreSQL: connections in this process's pool. @default 10 */
  maxConnections?: number;
  /** PostgreSQL: how often cached trust data looks for changes other nodes made. @default 1000 */
  trustRefreshMs?: number;
  /** PostgreSQL: the run queue's leases and caps. */
  queue?: RunQueueOptions;
};

/**
 * Reads a store location: `postgres://…` or `postgresql://…` is a PostgreSQL database; `sqlite:PATH` or a plain path
 * is a SQLite file (relative to `cwd`). @throws FactoryError `E_USAGE` for another scheme, naming the accepted forms.
 */
export function parseStoreLocation(text: string, cwd = process.cwd()): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgres', url: text };
  if (/^sqlite:/i.test(text)) {
    const file = text.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') throw new FactoryError('E_USAGE', 'the store location "sqlite:" names no file: write sqlite:PATH, e.g. sqlite:.af/factory.db');
    return { kind: 'sqlite', path: file === ':memory:' ? file : path.resolve(cwd, file) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new FactoryError('E_USAGE', `the store location ${JSON.stringify(text.replace(/\/\/[^@/]*@/, '//***@').replace(/\?.*$/, '?…'))} is not one Agent Factory can open: use sqlite:PATH (the default is .af/factory.db) or postgres://USER:PASSWORD@HOST:PORT/DATABASE`);
  }
  return { kind: 'sqlite', path: text === ':memory:' ? text : path.resolve(cwd, text) };
}

/**
 * Opens the store at `location`. PostgreSQL's module (and the `pg` driver) is loaded only when a PostgreSQL store is
 * asked for, so a SQLite user's start-up does not pay for it.
 * @throws FactoryError `E_STORE` when it cannot be opened; `E_USAGE` for a location it cannot read.
 */
export async function connectStore(location: string | StoreLocation, options: ConnectOptions = {}): Promise<Store> {
  const parsed = typeof location === 'string' ? parseStoreLocation(location) : location;
  if (parsed.kind === 'sqlite') {
    const { migrate: _migrate, maxConnections: _max, trustRefreshMs: _refresh, queue: _queue, ...sqlite } = options;
    return openStore({ ...sqlite, path: parsed.path });
  }
  const { PostgresStore } = await import('./postgres/postgres-store.js');
  const { migrateTrustFrom: _trustFile, busyTimeoutMs: _busy, ...postgres } = options;
  return PostgresStore.open({ ...postgres, url: parsed.url });
}
