import { describe, expect, it } from 'vitest';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres, schemaVersionOf } from '../../../store/postgres/migrations.js';
import { createTestDatabase } from '../../helpers/postgres.js';
describe('smoke', () => {
  it('migrates', async () => {
    const t0 = performance.now();
    const database = await createTestDatabase();
    const t1 = performance.now();
    const db = new PgDatabase(database.url);
    const report = await migratePostgres(db);
    const t2 = performance.now();
    console.log('create db', (t1 - t0).toFixed(1), 'migrate', (t2 - t1).toFixed(1));
    expect(report.to).toBe(8);
    expect(await schemaVersionOf(db)).toBe(8);
    expect((await db.row<{ n: number }>('SELECT count(*)::bigint AS n FROM runs'))?.n).toBe(0);
    await db.close();
    await database.drop();
  });
});
