/** @module store/database — opens the SQLite file with the settings every connection needs: WAL, foreign keys, a busy timeout, migrations. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FactoryError } from '../core/errors.js';
import { migrate } from './migrations.js';

export interface OpenDatabaseOptions {
  /** How long a writer waits for another process's lock before failing. @default 10_000 */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/**
 * Opens (creating if needed) the database at `file`, or an in-memory one for `':memory:'`.
 * WAL lets readers run beside one writer and survives a killed process with every committed
 * transaction intact; `synchronous = NORMAL` is durable against process crashes in WAL mode.
 * @throws FactoryError `E_STORE` naming the file and what to do.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): Database.Database {
  let db: Database.Database;
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file, { readonly: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 10_000 });
  } catch (error) {
    throw new FactoryError('E_STORE', `cannot open the store at ${file}: ${(error as Error).message}; check the path and its permissions`, { cause: error });
  }
  try {
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    if (!options.readonly) migrate(db);
  } catch (error) {
    db.close();
    throw new FactoryError('E_STORE', `cannot prepare the store at ${file}: ${(error as Error).message}`, { cause: error });
  }
  return db;
}

/** Runs SQLite's integrity check; returns the problems (empty when the file is sound). */
export function integrityProblems(db: Database.Database): string[] {
  const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  return rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
}
