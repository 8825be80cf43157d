/** @module store/data-ops — backup, restore, prune and export of the store, each safe while agents run. */
import { closeSync, copyFileSync, existsSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { FactoryError } from '../core/errors.js';
import type { RunRecord } from '../core/run-record.js';
import { integrityProblems, openDatabase } from './database.js';
import { SCHEMA_VERSION } from './migrations.js';
import { rowToRecord } from './run-queries.js';
import { splitZstdFrames } from './zstd-frames.js';

/**
 * Copies the live database to `file` with SQLite's online backup API: a consistent snapshot
 * even while other connections (and processes) keep writing.
 */
export async function backupDatabase(db: Database.Database, file: string): Promise<{ pages: number }> {
  const target = path.resolve(file);
  if (existsSync(target)) throw new FactoryError('E_USAGE', `${file} already exists; choose a new file for the backup`);
  const result = await db.backup(target);
  return { pages: result.totalPages };
}

/**
 * Replaces the database at `dbPath` with the backup `file`, after checking it: it must open, pass
 * `integrity_check`, and have a schema this code understands. The current database is kept beside
 * it as `<name>.before-restore`. Stop processes using the store first: they hold the old file open.
 * @throws FactoryError `E_STORE` naming what is wrong with the backup; nothing is changed then.
 */
export function restoreDatabase(file: string, dbPath: string): { previous?: string } {
  const source = path.resolve(file);
  if (!existsSync(source)) throw new FactoryError('E_USAGE', `${file} does not exist`);
  let candidate: Database.Database;
  try {
    candidate = openDatabase(source, { readonly: true });
  } catch (error) {
    throw new FactoryError('E_STORE', `${file} is not a usable database: ${(error as Error).message}; nothing was restored`, { cause: error });
  }
  try {
    let problems: string[];
    let version: number;
    try {
      problems = integrityProblems(candidate);
      version = candidate.pragma('user_version', { simple: true }) as number;
    } catch (error) {
      throw new FactoryError('E_STORE', `${file} is not a usable database: ${(error as Error).message}; nothing was restored`, { cause: error });
    }
    if (problems.length > 0) throw new FactoryError('E_STORE', `${file} fails integrity_check (${problems.slice(0, 3).join('; ')}); nothing was restored`);
    if (version > SCHEMA_VERSION) throw new FactoryError('E_STORE', `${file} has schema version ${version}, newer than this Agent Factory (${SCHEMA_VERSION}); nothing was restored`);
  } finally {
    candidate.close();
  }
  const target = path.resolve(dbPath);
  const staged = `${target}.restoring`;
  copyFileSync(source, staged);
  let previous: string | undefined;
  if (existsSync(target)) {
    previous = `${target}.before-restore`;
    rmSync(previous, { force: true });
    renameSync(target, previous);
  }
  // A WAL left from the old file would be replayed into the restored one.
  rmSync(`${target}-wal`, { force: true });
  rmSync(`${target}-shm`, { force: true });
  renameSync(staged, target);
  return previous ? { previous } : {};
}

/** Deletes runs that started before `before` (epoch ms), in batches so writers are not blocked long. The audit log is kept. */
export function pruneRuns(db: Database.Database, before: number): number {
  const step = db.prepare('DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs WHERE started_at < ? LIMIT 5000)');
  let total = 0;
  for (;;) {
    const { changes } = db.transaction(() => step.run(before)).immediate();
    total += changes;
    if (changes === 0) return total;
  }
}

/**
 * Deletes the captured data of failed runs that started before `before` (epoch ms), in batches. Runs prune their
 * captures with them; captures alone may be pruned sooner, since inputs may hold secrets.
 */
export function pruneCaptures(db: Database.Database, before: number): number {
  const step = db.prepare('DELETE FROM run_captures WHERE rowid IN (SELECT rowid FROM run_captures WHERE started_at < ? LIMIT 5000)');
  let total = 0;
  for (;;) {
    const { changes } = db.transaction(() => step.run(before)).immediate();
    total += changes;
    if (changes === 0) return total;
  }
}

export interface ExportCounts {
  runs: number;
  audit: number;
  bytes: number;
}

let zstdModule: Promise<typeof import('@bokuweb/zstd-wasm')> | undefined;

/**
 * zstd-wasm, initialised once per process: a second `init()` instantiates the module again, and frames read after it
 * (in a process that exported twice) failed to decompress with code -10.
 */
function loadZstd(): Promise<typeof import('@bokuweb/zstd-wasm')> {
  zstdModule ??= import('@bokuweb/zstd-wasm').then(async (zstd) => {
    await zstd.init();
    return zstd;
  });
  return zstdModule;
}

/** The lines of an export, written to `file` (staged as `<file>.partial`, renamed into place when complete). */
export class JsonlExportWriter {
  readonly counts: ExportCounts = { runs: 0, audit: 0, bytes: 0 };
  readonly #target: string;
  readonly #staged: string;
  readonly #fd: number;
  readonly #zstd: typeof import('@bokuweb/zstd-wasm') | undefined;
  #lines: string[] = [];

  private constructor(target: string, zstd: typeof import('@bokuweb/zstd-wasm') | undefined) {
    this.#target = target;
    this.#staged = `${target}.partial`;
    this.#zstd = zstd;
    this.#fd = openSync(this.#staged, 'w');
  }

  /** Compressed with zstd unless `compress` is false. */
  static async open(file: string, compress: boolean): Promise<JsonlExportWriter> {
    return new JsonlExportWriter(path.resolve(file), compress ? await loadZstd() : undefined);
  }

  /** A run, as `{"kind":"run",…}`. */
  run(record: RunRecord): void {
    this.#push(JSON.stringify({ kind: 'run', ...record }));
    this.counts.runs++;
  }

  /** An audit row as stored, as `{"kind":"audit",…}`, its data parsed. */
  audit(row: Record<string, unknown>): void {
    this.#push(JSON.stringify({ kind: 'audit', ...row, data: exportedData(row.data) }));
    this.counts.audit++;
  }

  /** Writes what is left, closes the file and puts it in place. */
  finish(): ExportCounts {
    try {
      this.#flush();
    } finally {
      closeSync(this.#fd);
    }
    renameSync(this.#staged, this.#target);
    return this.counts;
  }

  /** Closes the file after a failure, leaving the partial file for a look. */
  abandon(): void {
    closeSync(this.#fd);
  }

  #push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length >= 2000) this.#flush();
  }

  /** Each batch of lines is its own zstd frame: concatenated frames are one valid zstd stream, so memory stays bounded. */
  #flush(): void {
    if (this.#lines.length === 0) return;
    const text = Buffer.from(`${this.#lines.join('\n')}\n`);
    const frame = this.#zstd ? this.#zstd.compress(text, 10) : text;
    writeSync(this.#fd, frame);
    this.counts.bytes += frame.length;
    this.#lines = [];
  }
}

/**
 * Writes runs and the audit log as JSON lines (`{"kind":"run",…}`, `{"kind":"audit",…}`),
 * compressed with zstd unless `compress` is false. Each batch of lines is its own zstd frame; concatenated frames are
 * one valid zstd stream, so memory stays bounded however large the store is.
 */
export async function exportJsonl(db: Database.Database, file: string, compress = true): Promise<ExportCounts> {
  const writer = await JsonlExportWriter.open(file, compress);
  try {
    // One read transaction: the export is a consistent snapshot while writers go on (WAL).
    db.transaction(() => {
      for (const row of db.prepare('SELECT * FROM runs ORDER BY started_at').iterate()) writer.run(rowToRecord(row as Parameters<typeof rowToRecord>[0]));
      for (const row of db.prepare<[], Record<string, unknown>>('SELECT * FROM audit ORDER BY seq').iterate()) writer.audit(row);
    }).deferred();
  } catch (error) {
    writer.abandon();
    throw error;
  }
  return writer.finish();
}

/** Reads an export back (for tests and tools): every line, parsed. */
export async function readExport(file: string): Promise<Array<Record<string, unknown>>> {
  const zstd = await loadZstd();
  const { readFileSync } = await import('node:fs');
  const text = splitZstdFrames(readFileSync(file))
    .map((frame) => Buffer.from(zstd.decompress(frame)).toString('utf8'))
    .join('');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** An audit entry's data as JSON; an edited entry whose data no longer parses is exported as the text it holds, so the export still runs and shows it. */
function exportedData(text: unknown): unknown {
  try {
    return JSON.parse(text as string);
  } catch {
    return text;
  }
}
