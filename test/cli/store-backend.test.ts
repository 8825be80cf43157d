// `af store backup` copies a SQLite database file (SQLite's online backup): on any other backend it is refused with a
// usage error that says what to use instead, before it touches the store.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backupStore } from '../../cli/commands/store.js';
import { FactoryError } from '../../core/errors.js';
import { openStore, type Store } from '../../store/index.js';
import { craftRuns } from '../learner/helpers.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/**
 * Stands in for a PostgreSQL store, which this branch does not have yet: the only fake in these tests. It answers
 * `kind` and `location` and throws on anything else, so the refusal is shown to come before any use of the store.
 */
function postgresLike(): Store {
  const known: Record<string, unknown> = { kind: 'postgres', location: 'postgres://db.example:5432/af', isClosed: false };
  return new Proxy({}, {
    get(_target, property) {
      if (typeof property === 'string' && property in known) return known[property];
      throw new Error(`the backup touched store.${String(property)}`);
    },
    getPrototypeOf: () => Object.prototype,
  }) as Store;
}

describe('af store backup, by backend', () => {
  it('is refused on a PostgreSQL store with E_USAGE, naming pg_dump', async () => {
    const refused = await backupStore(postgresLike(), '/tmp/never-written.db').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(FactoryError);
    expect(refused).toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('works on a SQLite store') });
    expect((refused as Error).message).toContain('pg_dump');
    expect((refused as Error).message).toContain('postgres://db.example:5432/af');
  });

  it('copies a SQLite store, with the run records still queued', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'af-backup-'));
    const store = openStore({ path: path.join(dir, 'factory.db') });
    try {
      const [run] = craftRuns({ count: 1, template: 'hello' });
      store.runs.write(run!);
      const { pages } = await backupStore(store, path.join(dir, 'copy.db'));
      expect(pages).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
    const copy = openStore({ path: path.join(dir, 'copy.db') });
    try {
      expect(copy.queries.count()).toBe(1);
    } finally {
      await copy.close();
    }
  });
});
