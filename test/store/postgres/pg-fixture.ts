// A fresh, migrated PostgreSQL database per test, and as many handles on it as a test needs (each one a "node").
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

export interface PgFixture {
  url: string;
  /** The first handle, migrated. */
  db: PgDatabase;
  /** Another handle on the same database: another node. Closed with the fixture. */
  node(): PgDatabase;
  close(): Promise<void>;
}

export async function pgFixture(): Promise<PgFixture> {
  const database: TestDatabase = await createTestDatabase();
  const handles: PgDatabase[] = [];
  const node = () => {
    const handle = new PgDatabase(database.url);
    handles.push(handle);
    return handle;
  };
  const db = node();
  await migratePostgres(db);
  return {
    url: database.url,
    db,
    node,
    async close() {
      await Promise.all(handles.map((handle) => handle.close()));
      await database.drop();
    },
  };
}
