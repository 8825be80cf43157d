// Prune, export and integrity checks of a PostgreSQL store: the SQLite cases, an export byte-for-byte in SQLite's
// format, two nodes pruning at once, and each integrity problem named. Real PostgreSQL, real files.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../core/clock.js';
import type { RunRecord } from '../../../core/run-record.js';
import { readExport } from '../../../store/data-ops.js';
import { openStore } from '../../../store/index.js';
import { PgAuditLog } from '../../../store/postgres/audit-log.js';
import type { PgDatabase } from '../../../store/postgres/connection.js';
import { exportPostgresJsonl, postgresIntegrityProblems, prunePostgresCaptures, prunePostgresRuns } from '../../../store/postgres/data-ops.js';
import { POSTGRES_SCHEMA_VERSION } from '../../../store/postgres/migrations.js';
import { runRecord } from '../helpers.js';
import { pgFixture, type PgFixture } from './pg-fixture.js';

const T0 = 1_700_000_000_000;

let pg: PgFixture;
let dir: string;
beforeEach(async () => {
  pg = await pgFixture();
  dir = mkdtempSync(path.join(os.tmpdir(), 'af-pg-data-'));
});
afterEach(async () => {
  await pg.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Inserts run records as SQLite's run writer lays them out (its column for column). */
async function insertRuns(db: PgDatabase, records: RunRecord[]): Promise<void> {
  await db.transaction(async () => {
    for (const r of records) {
      await db.query(
        {
          name: 'test_insert_run',
          text: `INSERT INTO runs (id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_used_at_end_bytes, input_bytes, output_bytes,
                   outcome, error_code, tools, denials, logs_dropped, depth, parent_id, input_shape, grants_used)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
        },
        [
          r.id, r.template, r.version, r.digest, r.env, r.tenant, r.startedAt, r.createMs, r.runMs, r.cpuMs, Math.round(r.heapUsedAtEndBytes), r.inputBytes, r.outputBytes,
          r.outcome, r.errorCode ?? null, JSON.stringify(r.tools), JSON.stringify(r.denials), r.logsDropped, r.depth, r.parentId ?? null,
          r.inputShape ? JSON.stringify(r.inputShape) : null, r.grantsUsed ? JSON.stringify(r.grantsUsed) : null,
        ],
      );
    }
  });
}

/** `count` runs and as many captures starting at T0, T0 + 1, … (one statement each). */
async function insertMany(db: PgDatabase, count: number): Promise<void> {
  await db.query(
    `INSERT INTO runs (id, template, version, digest, env, tenant, started_at, create_ms, run_ms, cpu_ms, heap_used_at_end_bytes, input_bytes, output_bytes, outcome, tools, denials, logs_dropped, depth)
     SELECT 'run-' || lpad(n::text, 8, '0'), 'hello', '1.0.0', 'd', 'dev', 'acme', $1::bigint + n, 0.1, 1, 0.5, 1000, 20, 30, 'ok', '{}', '[]', 0, 0 FROM generate_series(0, $2::int - 1) AS n`,
    [T0, count],
  );
  await db.query(
    `INSERT INTO run_captures (run_id, started_at, input_truncated, output_truncated, logs, logs_truncated, max_bytes)
     SELECT 'run-' || lpad(n::text, 8, '0'), $1::bigint + n, false, false, '[]', false, 1024 FROM generate_series(0, $2::int - 1) AS n`,
    [T0, count],
  );
}

const count = async (table: string) => (await pg.db.row<{ n: number }>(`SELECT count(*)::bigint AS n FROM ${table}`))?.n;

describe('prune', () => {
  it('deletes runs older than the time given, in batches, keeps the rest and the audit log', async () => {
    await insertMany(pg.db, 12_000);
    await new PgAuditLog(pg.db, createManualClock(T0)).append({ type: 'test', subject: 'x' });
    expect(await prunePostgresRuns(pg.db, T0 + 11_000)).toBe(11_000);
    expect(await count('runs')).toBe(1000);
    expect(await pg.db.row('SELECT min(started_at) AS first FROM runs')).toEqual({ first: T0 + 11_000 });
    expect(await prunePostgresRuns(pg.db, T0 + 11_000)).toBe(0);
    expect(await count('audit')).toBe(1);
    // Captures are pruned on their own (the store prunes them up to the runs' cut-off too).
    expect(await count('run_captures')).toBe(12_000);
    expect(await prunePostgresCaptures(pg.db, T0 + 11_500)).toBe(11_500);
    expect(await count('run_captures')).toBe(500);
  });

  it('two nodes pruning at once delete every old run once between them', async () => {
    await insertMany(pg.db, 20_000);
    const [a, b] = [pg.node(), pg.node()];
    const [fromA, fromB, captures] = await Promise.all([prunePostgresRuns(a, T0 + 18_000), prunePostgresRuns(b, T0 + 18_000), prunePostgresCaptures(b, T0 + 18_000)]);
    expect(fromA + fromB).toBe(18_000);
    expect(captures).toBe(18_000);
    expect(await count('runs')).toBe(2000);
  });
});

describe('export', () => {
  it('writes the lines SQLite’s export writes for the same runs and audit entries, zstd-compressed or not', async () => {
    const records = Array.from({ length: 2500 }, (_, i) =>
      runRecord(i, i % 7 === 0 ? { outcome: 'error', errorCode: 'E_TIMEOUT', grantsUsed: ['kv'], parentId: 'run-00000000', denials: [{ kind: 'net', target: 'example.com' }] as never } : {}),
    );
    const clock = createManualClock(T0);
    const sqlite = openStore({ path: path.join(dir, 'factory.db'), clock });
    for (const record of records) sqlite.runs.write(record);
    await sqlite.runs.flush();
    sqlite.audit.append({ type: 'key.created', subject: 'k', data: { name: 'signer-1' } });
    sqlite.audit.append({ type: 'policy.denied', actor: 'api', subject: 'hello' });
    // Written in the opposite order: the export goes by start time, as SQLite's, not by the order of writing.
    await insertRuns(pg.db, [...records].reverse());
    const audit = new PgAuditLog(pg.db, clock);
    await audit.append({ type: 'key.created', subject: 'k', data: { name: 'signer-1' } });
    await audit.append({ type: 'policy.denied', actor: 'api', subject: 'hello' });

    for (const compress of [true, false]) {
      const fromSqlite = path.join(dir, `sqlite-${compress}.jsonl`);
      const fromPostgres = path.join(dir, `postgres-${compress}.jsonl`);
      expect(await sqlite.export(fromSqlite, { compress })).toMatchObject({ runs: 2500, audit: 2 });
      const counts = await exportPostgresJsonl(pg.db, fromPostgres, compress);
      expect(counts).toMatchObject({ runs: 2500, audit: 2 });
      const text = (file: string) => compress ? readExport(file).then((lines) => lines.map((line) => JSON.stringify(line))) : Promise.resolve(readFileSync(file, 'utf8').trimEnd().split('\n'));
      const expected = await text(fromSqlite);
      const lines = await text(fromPostgres);
      expect(lines).toHaveLength(2502);
      // Runs line for line; audit lines the same, then the chain they belong to.
      expect(lines.slice(0, 2500)).toEqual(expected.slice(0, 2500));
      expect(lines.slice(2500)).toEqual(expected.slice(2500).map((line, i) => `${line.slice(0, -1)},"chain":"*","chain_seq":${i + 1}}`));
      if (compress) expect(readFileSync(fromPostgres).subarray(0, 4).toString('hex')).toBe('28b52ffd');
      else expect(counts.bytes).toBe(readFileSync(fromPostgres).length);
    }
    await sqlite.close();
  });

  it('exports an edited audit entry whose data is no longer JSON as the text it holds', async () => {
    const audit = new PgAuditLog(pg.db, createManualClock(T0));
    await audit.append({ type: 'a', subject: 'x', tenant: 'acme' });
    await pg.db.query("UPDATE audit SET data = 'not json'");
    const file = path.join(dir, 'export.jsonl.zst');
    await exportPostgresJsonl(pg.db, file);
    expect(await readExport(file)).toEqual([expect.objectContaining({ kind: 'audit', seq: 1, data: 'not json', chain: 'acme', chain_seq: 1 })]);
  });
});

describe('integrity problems', () => {
  beforeEach(async () => {
    const audit = new PgAuditLog(pg.db, createManualClock(T0));
    for (let i = 0; i < 4; i++) {
      await audit.append({ type: 'a', subject: `s${i}`, tenant: 'acme' });
      await audit.append({ type: 'b', subject: `k${i}` });
    }
  });

  it('finds none in a sound database', async () => {
    expect(await postgresIntegrityProblems(pg.db)).toEqual([]);
  });

  it.each([
    ['entries cut from the end of a chain', "DELETE FROM audit WHERE chain = 'acme' AND chain_seq = 4", ["the head row of tenant acme's chain names entry #4, which is not in the log (entries cut from its end?)"]],
    ['a head row behind its chain', "UPDATE audit_heads h SET chain_seq = 3, hash = a.hash FROM audit a WHERE a.chain = '*' AND a.chain_seq = 3 AND h.chain = '*'", ['the head row of the system chain names entry #3, but the chain goes on after it']],
    ['a head row with another hash', "UPDATE audit_heads SET hash = repeat('0', 64) WHERE chain = 'acme'", ["the head row of tenant acme's chain names entry #4 with another hash than the log holds"]],
    ['a deleted head row', "DELETE FROM audit_heads WHERE chain = 'acme'", ["tenant acme's chain has entries but no head row: entries cut from its end would not show"]],
    ['a dropped table', 'DROP TABLE kv_usage', ['table kv_usage is missing']],
    ['a deleted trust generation row', 'DELETE FROM trust_generation', ['the trust generation row is missing: other nodes cannot tell when trust data changes']],
    ['a newer schema', `INSERT INTO af_schema_migrations VALUES (${POSTGRES_SCHEMA_VERSION + 1}, 'later', 0)`, [`the schema version is ${POSTGRES_SCHEMA_VERSION + 1}, and this version of Agent Factory needs ${POSTGRES_SCHEMA_VERSION}`]],
  ])('names %s', async (_what, sql, expected) => {
    await pg.db.query(sql);
    expect(await postgresIntegrityProblems(pg.db)).toEqual(expected);
  });
});
