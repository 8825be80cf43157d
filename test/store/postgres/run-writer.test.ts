// The batched run writer on a real PostgreSQL: queueing, batches, the queue cap, retrying a batch the server failed,
// dropping records it refuses, and two nodes writing the same database.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { PgRunQueries } from '../../../store/postgres/run-queries.js';
import { PgRunWriter, RUNS_INSERT_LOCK } from '../../../store/postgres/run-writer.js';
import type { RunWriterOptions } from '../../../store/run-writer.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runRecord } from '../helpers.js';

let database: TestDatabase;
let db: PgDatabase;
let writer: PgRunWriter;
let queries: PgRunQueries;
const handles: PgDatabase[] = [];

/** Another node: its own pool on the same database. */
function node(): PgDatabase {
  const handle = new PgDatabase(database.url);
  handles.push(handle);
  return handle;
}

function open(options: RunWriterOptions = {}): PgRunWriter {
  writer = new PgRunWriter(db, options);
  return writer;
}

async function count(on: PgDatabase = db): Promise<number> {
  return (await on.row<{ n: number }>('SELECT count(*) AS n FROM runs'))?.n ?? 0;
}

/**
 * Holds the lock every insert of runs takes, from another session, so the writer's next statement waits; then
 * `terminateWaiting` fails it the way a server restart does (its backend is terminated: SQLSTATE 57P01).
 */
async function holdInsertLock(): Promise<{ terminateWaiting(): Promise<void>; release(): Promise<void> }> {
  const holder = await node().connect();
  await holder.query('BEGIN');
  await holder.query('SELECT pg_advisory_xact_lock($1)', [RUNS_INSERT_LOCK]);
  return {
    async terminateWaiting() {
      for (;;) {
        const waiting = await holder.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
        if (waiting.rows.length > 0) {
          for (const { pid } of waiting.rows) await holder.query('SELECT pg_terminate_backend($1)', [pid]);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async release() {
      await holder.query('ROLLBACK');
      holder.release();
    },
  };
}

beforeEach(async () => {
  database = await createTestDatabase();
  db = new PgDatabase(database.url);
  await migratePostgres(db);
  queries = new PgRunQueries(db);
  open();
});

afterEach(async () => {
  await writer.close();
  for (const handle of handles.splice(0)) await handle.close();
  await db.close();
  await database.drop();
});

describe('the PostgreSQL run writer', () => {
  it('only queues on write, and commits on its timer without a flush', async () => {
    for (let i = 0; i < 10; i++) expect(writer.write(runRecord(i))).toBeUndefined();
    expect(writer.queueDepth).toBe(10);
    expect(await count()).toBe(0);
    while (writer.written < 10) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(writer.queueDepth).toBe(0);
    expect(await count()).toBe(10);
  });

  it('keeps every field, a capture with it, and makes a batch durable for another node by the time flush resolves', async () => {
    const capture = { input: '{"a":1}', inputTruncated: true, outputTruncated: false, errorMessage: 'boom', logs: '[]', logsTruncated: true, maxBytes: 4096 };
    const record = runRecord(1, { outcome: 'error', errorCode: 'E_TIMEOUT', denials: [{ permission: 'net', target: 'x:1' }], grantsUsed: ['env:LOG_LEVEL', 'kv'], parentId: 'parent', depth: 2, capture });
    const none = runRecord(2, { grantsUsed: [], heapUsedAtEndBytes: 1234.6 });
    // The other node is connected first, so nothing but flush stands between the writes and its reads.
    const other = new PgRunQueries(node());
    expect(await other.count()).toBe(0);
    writer.write(record);
    writer.write(none);
    await writer.flush();
    const { capture: _, ...run } = record;
    expect(await other.get(record.id)).toEqual(run);
    expect(await other.capture(record.id)).toEqual({ runId: record.id, startedAt: record.startedAt, ...capture });
    expect(await other.get(none.id)).toEqual({ ...none, heapUsedAtEndBytes: 1235 });
    expect(await other.capture(none.id)).toBeUndefined();
  });

  it('stores an error message holding U+0000, which PostgreSQL text cannot hold, instead of dropping the run', async () => {
    const errors: Error[] = [];
    await writer.close();
    open({ onError: (error) => errors.push(error) });
    const capture = { inputTruncated: false, outputTruncated: false, errorMessage: 'bad\u0000byte', logs: '[]', logsTruncated: false, maxBytes: 10 };
    writer.write(runRecord(1, { outcome: 'error', capture }));
    await writer.flush();
    expect(errors).toEqual([]);
    expect((await queries.capture(runRecord(1).id))?.errorMessage).toBe('bad\uFFFDbyte');
  });

  it('bounds its queue: past maxQueue records are dropped and counted, never buffered', async () => {
    await writer.close();
    open({ maxQueue: 1000, batchSize: 1000, flushIntervalMs: 100 });
    for (let i = 0; i < 1500; i++) writer.write(runRecord(i));
    expect(writer.queueDepth).toBe(1000);
    expect(writer.dropped).toBe(500);
    await writer.flush();
    expect(await count()).toBe(1000);
  });

  it('keeps a batch the server failed, tells onError, and writes it at the next flush', async () => {
    const errors: Error[] = [];
    await writer.close();
    open({ onError: (error) => errors.push(error) });
    const lock = await holdInsertLock();
    writer.write(runRecord(1));
    const flushed = writer.flush();
    await lock.terminateWaiting();
    await flushed;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'E_STORE', details: { sqlState: '57P01' } });
    expect(writer.queueDepth).toBe(1);
    expect(await count()).toBe(0);
    await lock.release();
    await writer.flush();
    expect(await count()).toBe(1);
    expect([writer.written, writer.dropped, writer.queueDepth]).toEqual([1, 0, 0]);
  });

  it('writes a long burst in batches, and after a failed batch keeps exactly the records not yet written', async () => {
    const errors: Error[] = [];
    await writer.close();
    open({ batchSize: 1000, maxQueue: 5000, onError: (error) => errors.push(error) });
    for (let i = 0; i < 2500; i++) writer.write(runRecord(i));
    await writer.flush();
    expect(await count()).toBe(2500);
    expect(writer.written).toBe(2500);

    const lock = await holdInsertLock();
    for (let i = 2500; i < 5000; i++) writer.write(runRecord(i));
    const flushed = writer.flush();
    await lock.terminateWaiting();
    await flushed;
    expect(errors).toHaveLength(1);
    expect(writer.queueDepth).toBe(2500);
    expect(await count()).toBe(2500);
    await lock.release();
    await writer.flush();
    expect(await count()).toBe(5000);
    expect([writer.written, writer.dropped, writer.queueDepth]).toEqual([5000, 0, 0]);
    // In the order written: seq follows the queue.
    const ids = (await db.rows<{ id: string }>('SELECT id FROM runs ORDER BY seq')).map((row) => row.id);
    expect(ids).toEqual(Array.from({ length: 5000 }, (_, i) => runRecord(i).id));
  });

  it('drops and reports a record PostgreSQL refuses, skips a duplicate id, and writes every record around them', async () => {
    const errors: Error[] = [];
    await writer.close();
    open({ onError: (error) => errors.push(error) });
    writer.write(runRecord(1));
    // A string where the table wants a number: without care it would fail every batch it is in, forever.
    writer.write(runRecord(2, { createMs: 'slow' as unknown as number }));
    writer.write(runRecord(3));
    writer.write(runRecord(1)); // the same id again: skipped, as SQLite's INSERT OR IGNORE does
    await writer.flush();
    // The next batch has only a duplicate: its one statement writes nothing, which is said in one line.
    writer.write(runRecord(3));
    // A CHECK the table has: refused (SQLite's INSERT OR IGNORE skips it instead; both drop and count it).
    writer.write(runRecord(4, { outcome: 'maybe' as 'ok' }));
    await writer.flush();
    expect((await db.rows<{ id: string }>('SELECT id FROM runs ORDER BY id')).map((row) => row.id)).toEqual([runRecord(1).id, runRecord(3).id]);
    expect([writer.written, writer.dropped, writer.queueDepth]).toEqual([2, 4, 0]);
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringMatching(new RegExp(`^run record ${runRecord(2).id} was refused and dropped: .*invalid input syntax for type double precision`)),
      `run record ${runRecord(1).id} was skipped and dropped: a run with the same id is already stored`,
      `run record ${runRecord(3).id} was skipped and dropped: a run with the same id is already stored`,
      expect.stringMatching(new RegExp(`^run record ${runRecord(4).id} was refused and dropped: .*check constraint`)),
    ]);
  });

  it('writes on its own connection: a record written inside a transaction that rolls back is kept', async () => {
    await expect(
      db.transaction(async () => {
        writer.write(runRecord(1));
        await writer.flush();
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await count()).toBe(1);
  });

  it('flushes on close and drops (counting) what comes after', async () => {
    writer.write(runRecord(1));
    await writer.close();
    writer.write(runRecord(2));
    expect(await count()).toBe(1);
    expect(writer.dropped).toBe(1);
  });

  it('closes while the database fails: what it could not write is dropped and counted, and nothing is retried after', async () => {
    const errors: Error[] = [];
    await writer.close();
    open({ flushIntervalMs: 10, onError: (error) => errors.push(error) });
    const lock = await holdInsertLock();
    writer.write(runRecord(1));
    const closed = writer.close();
    await lock.terminateWaiting();
    await closed;
    expect([writer.written, writer.dropped, writer.queueDepth, errors.length]).toEqual([0, 1, 0, 1]);
    await lock.release();
    // Many retry intervals later, the closed writer has tried nothing more.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await count()).toBe(0);
    expect(errors).toHaveLength(1);
  });

  it('two nodes write at once: every record of each is stored once, and each node reads the other’s', async () => {
    const other = new PgRunWriter(node(), { batchSize: 64 });
    await writer.close();
    open({ batchSize: 64 });
    for (let i = 0; i < 2000; i++) {
      writer.write(runRecord(i, { template: 'a' }));
      other.write(runRecord(10_000 + i, { template: 'b' }));
    }
    await Promise.all([writer.flush(), other.flush()]);
    await other.close();
    const theirs = new PgRunQueries(handles[0] as PgDatabase);
    expect(await theirs.count()).toBe(4000);
    expect(await queries.count()).toBe(4000);
    expect((await queries.list({ template: 'b', limit: 5000 })).length).toBe(2000);
    expect((await theirs.list({ template: 'a', limit: 5000 })).length).toBe(2000);
    expect([writer.written, other.written, writer.dropped + other.dropped]).toEqual([2000, 2000, 0]);
  });
});
