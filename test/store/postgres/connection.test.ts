// The PostgreSQL connection pool when the server drops a connection a caller holds (a restart, a failover): the
// caller's transaction fails with E_STORE, the process survives, and the next query opens a new connection.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

describe('PgDatabase when the server drops a held connection', () => {
  it('fails the transaction holding it with E_STORE (no unhandled error event), then works on a new connection', async () => {
    const db = new PgDatabase(database.url);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const outcome = db.transaction(async () => {
        const pid = (await db.row<{ pid: number }>('SELECT pg_backend_pid() AS pid'))?.pid;
        // Terminated between two of the transaction's queries: the server's FATAL message arrives while the
        // connection is checked out of the pool with no query running.
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await db.query('SELECT 1');
      });
      await expect(outcome).rejects.toMatchObject({ code: 'E_STORE' });
      expect((await db.row<{ one: number }>('SELECT 1 AS one'))?.one).toBe(1);
    } finally {
      await admin.end();
      await db.close();
    }
  });
});
