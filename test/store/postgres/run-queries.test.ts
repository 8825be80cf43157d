// Reading runs back from a real PostgreSQL: filters, keyset pages, statistics (the same percentiles as SQLite's),
// ids, captures, following by seq, and two nodes: one following while others write.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../../core/run-record.js';
import { PgDatabase } from '../../../store/postgres/connection.js';
import { migratePostgres } from '../../../store/postgres/migrations.js';
import { PgRunQueries } from '../../../store/postgres/run-queries.js';
import { PgRunWriter } from '../../../store/postgres/run-writer.js';
import { percentile } from '../../../store/run-queries.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runRecord } from '../helpers.js';

const T0 = 1_700_000_000_000;
let database: TestDatabase;
let db: PgDatabase;
let writer: PgRunWriter;
let queries: PgRunQueries;
const handles: PgDatabase[] = [];

function node(): PgDatabase {
  const handle = new PgDatabase(database.url);
  handles.push(handle);
  return handle;
}

async function record(...records: RunRecord[]): Promise<void> {
  for (const one of records) writer.write(one);
  await writer.flush();
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const ids = (list: RunRecord[]) => list.map((r) => r.id);

beforeEach(async () => {
  database = await createTestDatabase();
  db = new PgDatabase(database.url);
  await migratePostgres(db);
  writer = new PgRunWriter(db);
  queries = new PgRunQueries(db);
});

afterEach(async () => {
  await writer.close();
  for (const handle of handles.splice(0)) await handle.close();
  await db.close();
  await database.drop();
});

describe('PostgreSQL run queries', () => {
  it('lists newest first and iterates oldest first under every combination of filters', async () => {
    const records = Array.from({ length: 24 }, (_, i) =>
      runRecord(i, { template: i % 2 ? 'hello' : 'other', tenant: i % 3 ? 'acme' : 'globex', outcome: i % 4 ? 'ok' : 'error', ...(i % 4 ? {} : { errorCode: 'E_TIMEOUT' as const }) }),
    );
    await record(...records);
    const newestFirst = [...records].reverse();
    expect(ids(await queries.list())).toEqual(ids(newestFirst));
    for (const template of [undefined, 'hello']) {
      for (const tenant of [undefined, 'acme']) {
        for (const outcome of [undefined, 'error'] as const) {
          const expected = newestFirst.filter((r) => (!template || r.template === template) && (!tenant || r.tenant === tenant) && (!outcome || r.outcome === outcome));
          const filter = { ...(template ? { template } : {}), ...(tenant ? { tenant } : {}), ...(outcome ? { outcome } : {}) };
          expect(ids(await queries.list(filter)), JSON.stringify(filter)).toEqual(ids(expected));
          expect(ids(await all(queries.iterate(filter))), JSON.stringify(filter)).toEqual(ids([...expected].reverse()));
        }
      }
    }
    expect(await queries.list({ template: '', tenant: '' })).toHaveLength(24);
    expect(ids(await queries.list({ since: T0 + 5, until: T0 + 7 }))).toEqual(['run-00000007', 'run-00000006', 'run-00000005']);
    expect(ids(await queries.list({ template: 'hello', limit: 2 }))).toEqual(['run-00000023', 'run-00000021']);
    expect(await queries.count()).toBe(24);
    expect(await queries.get('run-00000003')).toEqual(records[3]);
    expect(await queries.get('missing')).toBeUndefined();
  });

  it('lists 100 runs unless told otherwise, and orders runs that started in the same millisecond by when they were written', async () => {
    await record(...Array.from({ length: 150 }, (_, i) => runRecord(i, { startedAt: T0 + Math.floor(i / 10) })));
    const listed = await queries.list();
    expect(listed).toHaveLength(100);
    expect(listed[0]?.id).toBe('run-00000149');
    expect(ids(listed.slice(0, 3))).toEqual(['run-00000149', 'run-00000148', 'run-00000147']);
  });

  it('iterates in pages past ties in start time: every run once, in (started_at, order written) order', async () => {
    // 1,300 runs, 7 to a millisecond: pages of 500 end in the middle of one.
    const records = Array.from({ length: 1300 }, (_, i) => runRecord(i, { startedAt: T0 + Math.floor(i / 7), template: i % 3 === 0 ? 'x' : 'hello' }));
    await record(...records);
    expect(ids(await all(queries.iterate()))).toEqual(ids(records));
    expect(ids(await all(queries.iterate({ template: 'x', since: T0 + 20 })))).toEqual(ids(records.filter((r, i) => i % 3 === 0 && r.startedAt >= T0 + 20)));
  });

  it('gives per-template statistics: runs, errors by code and percentiles', async () => {
    await record(
      ...Array.from({ length: 10 }, (_, i) => runRecord(i, { runMs: i + 1 })),
      runRecord(10, { template: 'other', outcome: 'error', errorCode: 'E_TIMEOUT' }),
      runRecord(11, { template: 'other', outcome: 'error' }),
    );
    const stats = await queries.stats();
    expect(stats.map((s) => s.template)).toEqual(['hello', 'other']);
    expect(stats[0]).toMatchObject({ runs: 10, errors: 0, errorRate: 0, errorsByCode: {}, runMs: { p50: 5, p95: 10, p99: 10 } });
    expect(stats[1]).toMatchObject({ runs: 2, errors: 2, errorRate: 1, errorsByCode: { E_TIMEOUT: 1, E_INTERNAL: 1 } });
    expect((await queries.stats({ template: 'other' })).map((s) => s.template)).toEqual(['other']);
    expect(await queries.stats({ template: 'nobody' })).toEqual([]);
  });

  it('computes exactly the nearest-rank percentiles SQLite computes, on every group size', async () => {
    // Group k holds k runs with repeated, unordered values: every rank edge of p50, p95 and p99 for 1..120 runs.
    const records: RunRecord[] = [];
    let n = 0;
    for (let size = 1; size <= 120; size++) {
      for (let i = 0; i < size; i++) {
        const value = ((i * 7919) % 37) + (i % 3) / 4;
        records.push(runRecord(n++, { template: `t${String(size).padStart(3, '0')}`, runMs: value, createMs: value / 2, cpuMs: value / 3, heapUsedAtEndBytes: 1000 + ((i * 31) % 17) }));
      }
    }
    await record(...records);
    const stats = await queries.stats();
    expect(stats).toHaveLength(120);
    for (const s of stats) {
      const group = records.filter((r) => r.template === s.template);
      const sorted = (pick: (r: RunRecord) => number) => group.map(pick).sort((a, b) => a - b);
      const run = sorted((r) => r.runMs);
      const create = sorted((r) => r.createMs);
      const heap = sorted((r) => r.heapUsedAtEndBytes);
      expect(s, s.template).toEqual({
        template: s.template,
        runs: group.length,
        errors: 0,
        errorRate: 0,
        errorsByCode: {},
        runMs: { p50: percentile(run, 50), p95: percentile(run, 95), p99: percentile(run, 99) },
        createMs: { p50: percentile(create, 50), p95: percentile(create, 95), p99: percentile(create, 99) },
        cpuMs: { p95: percentile(sorted((r) => r.cpuMs), 95) },
        heapUsedAtEndBytes: { p95: percentile(heap, 95), max: heap[heap.length - 1] },
      });
    }
  });

  it('walks runs in the order they were written, after a place and up to it, whatever their start times', async () => {
    expect(await queries.maxSeq()).toBe(0);
    await record(runRecord(5), runRecord(1, { template: 'other' }), runRecord(3));
    const first = await queries.after(0);
    expect(first.map((entry) => entry.run.id)).toEqual(['run-00000005', 'run-00000001', 'run-00000003']);
    expect(await queries.maxSeq()).toBe(first[2]?.seq);
    expect((await queries.after(first[0]!.seq, { template: 'hello' })).map((entry) => entry.run.id)).toEqual(['run-00000003']);
    expect((await queries.upTo(first[1]!.seq, { limit: 1 })).map((entry) => entry.run.id)).toEqual(['run-00000001']);
    expect((await queries.upTo(await queries.maxSeq())).map((entry) => entry.run.id)).toEqual(['run-00000005', 'run-00000001', 'run-00000003']);
    await record(runRecord(9));
    expect((await queries.after(first[2]!.seq)).map((entry) => entry.run.id)).toEqual(['run-00000009']);
    expect(await queries.after(0, { limit: 2 })).toHaveLength(2);
  });

  it('finds a run by the start or end of its id, and says what is wrong otherwise', async () => {
    await record(runRecord(0, { id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' }), runRecord(1, { id: '0190a1b2-ffff-7e5f-8a9b-00000000beef' }));
    expect(await queries.resolveId('4a5b')).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    expect(await queries.resolveId(' 0190A1B2-FFFF ')).toBe('0190a1b2-ffff-7e5f-8a9b-00000000beef');
    expect(await queries.resolveId('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    await expect(queries.resolveId('0190a1b2')).rejects.toMatchObject({ code: 'E_USAGE', message: '"0190a1b2" matches 2 runs (0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b, 0190a1b2-ffff-7e5f-8a9b-00000000beef); type more of the id' });
    await expect(queries.resolveId('dead')).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: 'no run id starts or ends with "dead"; list runs with af runs' });
    await expect(queries.resolveId('zz')).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('is not a run id') });
  });

  it('keeps a failed run’s capture (flags read back as booleans) and the runs it spawned', async () => {
    const capture = { input: '{"a":1}', inputTruncated: false, outputTruncated: true, output: '{"b"', errorMessage: 'boom', logs: '[]', logsTruncated: false, maxBytes: 4096 };
    await record(runRecord(1, { outcome: 'error', errorCode: 'E_AGENT_ERROR', capture }), runRecord(3, { parentId: 'run-00000001', depth: 1 }), runRecord(2, { parentId: 'run-00000001', depth: 1 }));
    expect(await queries.capture('run-00000001')).toEqual({ runId: 'run-00000001', startedAt: T0 + 1, ...capture });
    expect(await queries.capture('run-00000002')).toBeUndefined();
    expect((await queries.children('run-00000001')).map((r) => r.id)).toEqual(['run-00000002', 'run-00000003']);
  });

  it('moves its data version when any node writes runs or prunes old ones, and not otherwise', async () => {
    const other = new PgRunWriter(node());
    const empty = await queries.dataVersion();
    expect(await queries.dataVersion()).toBe(empty);
    other.write(runRecord(1));
    other.write(runRecord(2));
    await other.flush();
    const written = await queries.dataVersion();
    expect(written).not.toBe(empty);
    expect(await queries.dataVersion()).toBe(written);
    await db.query('DELETE FROM runs WHERE started_at < $1', [T0 + 2]);
    expect(await queries.dataVersion()).not.toBe(written);
    await other.close();
  });

  it('two nodes write while a third follows by seq: the follower sees every run exactly once, in seq order', async () => {
    const writers = [new PgRunWriter(node(), { batchSize: 16 }), new PgRunWriter(node(), { batchSize: 16 })];
    const follower = new PgRunQueries(node());
    const perWriter = 3000;
    const seen: Array<{ seq: number; id: string }> = [];
    let cursor = 0;
    let isWriting = true;
    const follow = (async () => {
      // As `af runs --follow` does: read after the cursor, move it to the last run read.
      for (;;) {
        const done = !isWriting;
        const page = await follower.after(cursor, { limit: 500 });
        for (const entry of page) seen.push({ seq: entry.seq, id: entry.run.id });
        if (page.length > 0) cursor = (page[page.length - 1] as { seq: number }).seq;
        if (done && page.length === 0) return;
      }
    })();
    const writes = writers.map(async (one, w) => {
      for (let i = 0; i < perWriter; i++) {
        one.write(runRecord(w * 100_000 + i));
        // Small batches, many of them, overlapping between the two nodes.
        if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
      }
      await one.flush();
    });
    await Promise.all(writes);
    isWriting = false;
    await follow;
    for (const one of writers) await one.close();
    expect(seen).toHaveLength(2 * perWriter);
    expect(new Set(seen.map((entry) => entry.id)).size).toBe(2 * perWriter);
    expect(seen.map((entry) => entry.seq)).toEqual([...seen.map((entry) => entry.seq)].sort((a, b) => a - b));
    // Each node reads the other's runs.
    expect(await new PgRunQueries(handles[0] as PgDatabase).count()).toBe(2 * perWriter);
    expect((await queries.after(0, { limit: 10_000 })).map((entry) => entry.seq)).toEqual(seen.map((entry) => entry.seq));
  });
});
