import { describe, expect, it } from 'vitest';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres, POSTGRES_MIGRATIONS, schemaVersionOf } from '../../../store/postgres/migrations.js';
import { PgRunQueries } from '../../../store/postgres/run-queries.js';
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
    expect(report.to).toBe(9);
    expect(await schemaVersionOf(db)).toBe(9);
    expect((await db.row<{ n: number }>('SELECT count(*)::bigint AS n FROM runs'))?.n).toBe(0);
    await db.close();
    await database.drop();
  });

  it('reads runs of a schema-8 database without a memory figure, censoring or limits (NULL, not 0)', async () => {
    const database = await createTestDatabase();
    const db = new PgDatabase(database.url);
    try {
      await migratePostgres(db, POSTGRES_MIGRATIONS.filter((m) => m.version <= 8));
      expect(await schemaVersionOf(db)).toBe(8);
      await db.query(`INSERT INTO runs (id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_used_at_end_bytes, input_bytes, output_bytes, outcome, error_code, tools, denials, logs_dropped, depth)
        VALUES ('old-cpu', 'hello', '1.0.0', 'd', 'dev', 'default', 1, 0, 1, 50, 0, 0, 0, 'error', 'E_CPU_LIMIT', '{}', '[]', 0, 0)`);
      const report = await migratePostgres(db);
      expect(report.applied.map((step) => step.version)).toEqual([9]);
      const old = await new PgRunQueries(db).get('old-cpu');
      expect(old).toMatchObject({ errorCode: 'E_CPU_LIMIT', heapUsedAtEndBytes: 0 });
      expect(old).not.toHaveProperty('heapGrowthBytes');
      expect(old).not.toHaveProperty('censoredBy');
      expect(old).not.toHaveProperty('limits');
      expect(await db.row('SELECT heap_growth_bytes, censored_by, limits FROM runs')).toEqual({ heap_growth_bytes: null, censored_by: null, limits: null });
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
