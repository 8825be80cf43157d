// store/migrations: a database written by a newer release is refused with E_STORE and what to do, and left untouched.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import { migrate, SCHEMA_VERSION } from '../../store/migrations.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-migrations-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('migrate', () => {
  it('brings a new file to SCHEMA_VERSION, and a second call changes nothing', () => {
    const db = new Database(path.join(dir, 'new.db'));
    expect(migrate(db)).toBe(SCHEMA_VERSION);
    expect(migrate(db)).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('refuses a file whose schema is newer than this build: FactoryError E_STORE naming the file, both versions and what to do', () => {
    const file = path.join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    let thrown: unknown;
    try {
      migrate(db);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FactoryError);
    const error = thrown as FactoryError;
    expect(error.code).toBe('E_STORE');
    expect(error.message).toContain(`the store at ${file} has schema version ${SCHEMA_VERSION + 1}, newer than this Agent Factory (schema ${SCHEMA_VERSION})`);
    expect(error.message).toMatch(/upgrade agent-factory .*or point af at another store/);
    expect(error.details).toEqual({ schemaVersion: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION, path: file });
    // Nothing was applied: this build cannot know what the newer steps did.
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({ n: 0 });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    db.close();
  });
});
