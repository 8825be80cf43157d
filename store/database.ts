/** @module store/database — opens the SQLite file with the settings every connection needs: WAL, foreign keys, a busy timeout, migrations. */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
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
    const code = (error as { code?: unknown }).code;
    if (!options.readonly && (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')) throw damagedStore(file, error as Error);
    // migrate() says itself what happened and what to do (a store newer than this code).
    if (error instanceof FactoryError) throw error;
    throw new FactoryError('E_STORE', `cannot prepare the store at ${file}: ${(error as Error).message}`, { cause: error });
  }
  return db;
}

/** A damaged database file: what to do about it, naming the backups found beside it. */
function damagedStore(file: string, error: Error): FactoryError {
  const backups = backupsBeside(file);
  const hint =
    backups.length > 0
      ? `restore a backup with \`af store restore ${backups[0]}\`${backups.length > 1 ? ` (also found: ${backups.slice(1, 4).join(', ')})` : ''}`
      : 'restore a backup with `af store restore FILE` (a file `af store backup` wrote); no backup was found beside it';
  return new FactoryError('E_STORE', `the store at ${file} is damaged (${error.message}); ${hint}; or move the file away to start an empty store`, {
    cause: error,
    details: { backups },
  });
}

/** Backups in the database's folder, newest first: what `af store restore` kept (`.before-restore`) and `*.bak`, `*.backup`, other `*.db` files. */
function backupsBeside(file: string): string[] {
  const dir = path.dirname(file);
  const own = path.basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found = names
    .filter((name) => name !== own && !/-(wal|shm|journal)$|\.(restoring|partial)$/.test(name) && (/\.(bak|backup|before-restore)$/.test(name) || /\.(db|sqlite3?)$/.test(name)))
    .map((name) => {
      const full = path.join(dir, name);
      try {
        return { full, mtime: statSync(full).mtimeMs };
      } catch {
        return undefined;
      }
    })
    .filter((entry): entry is { full: string; mtime: number } => entry !== undefined);
  return found.sort((a, b) => b.mtime - a.mtime).map((entry) => entry.full);
}

/** Runs SQLite's integrity check; returns the problems (empty when the file is sound). */
export function integrityProblems(db: Database.Database): string[] {
  const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  return rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
}
