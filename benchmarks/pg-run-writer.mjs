// The PostgreSQL run writer: records per second through PgRunWriter.write() until committed, for batches of 1, 64 and
// 512 records, on one node and on two nodes writing the same database at once (their batches take turns on the
// lock that keeps seq order equal to commit order). Not part of the suite: it needs a server.
// Usage: node scripts/build.mjs && node benchmarks/pg-run-writer.mjs postgres://user:password@host:port/database
// (the database is used as is: the benchmark creates the schema if it is missing and deletes the runs it wrote).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, percentile } from './lib/measure.mjs';

const url = process.argv[2] ?? process.env.AF_BENCH_PG_URL;
if (!url) {
  process.stderr.write('usage: node benchmarks/pg-run-writer.mjs postgres://…\n');
  process.exit(2);
}
const dist = pathToFileURL(path.resolve(process.env.AF_DIST ?? path.join(import.meta.dirname, '..', 'dist')) + '/');
const { PgDatabase } = await import(new URL('store/postgres/connection.js', dist));
const { migratePostgres } = await import(new URL('store/postgres/migrations.js', dist));
const { PgRunWriter } = await import(new URL('store/postgres/run-writer.js', dist));
const { newRunId } = await import(new URL('runtime/run-id.js', dist));

function record() {
  return {
    id: newRunId(), template: 'hello', version: '1.0.0', digest: 'd'.repeat(64), env: 'dev', tenant: 'default', startedAt: Date.now(),
    createMs: 0.02, runMs: 0.8, cpuMs: 0.3, heapUsedAtEndBytes: 1_200_000, inputBytes: 15, outputBytes: 30, outcome: 'ok',
    tools: { kv: 2, log: 1 }, denials: [], logsDropped: 0, depth: 0, inputShape: { depth: 1, maxArrayLength: 0, maxStringLength: 3, topLevelKeys: 1 },
  };
}

const nodes = [new PgDatabase(url), new PgDatabase(url)];
await migratePostgres(nodes[0]);

/** Records per second for `count` records per node through writers with `batchSize`, on `nodeCount` nodes at once. */
async function measure(batchSize, count, nodeCount) {
  const writers = nodes.slice(0, nodeCount).map((db) => new PgRunWriter(db, { batchSize, maxQueue: Math.max(count, batchSize) }));
  const records = writers.map(() => Array.from({ length: count }, record));
  const started = performance.now();
  await Promise.all(writers.map(async (writer, w) => {
    for (const one of records[w]) writer.write(one);
    await writer.flush();
  }));
  const seconds = (performance.now() - started) / 1000;
  for (const writer of writers) {
    if (writer.written !== count) throw new Error(`lost records: ${writer.written} of ${count}`);
    await writer.close();
  }
  await nodes[0].query('TRUNCATE runs, run_captures');
  return (count * nodeCount) / seconds;
}

const rounds = 5;
const rows = [];
for (const nodeCount of [1, 2]) {
  for (const [batchSize, count] of [[1, 2_000], [64, 40_000], [512, 100_000]]) {
    await measure(batchSize, Math.min(count, 5_000), nodeCount); // warm-up: connections, prepared statements
    const values = [];
    for (let i = 0; i < rounds; i++) values.push(await measure(batchSize, count, nodeCount));
    values.sort((a, b) => a - b);
    rows.push({ nodes: nodeCount, batchSize, recordsPerSecond: Math.round(median(values)), min: Math.round(values[0]), max: Math.round(percentile(values, 100)) });
    process.stdout.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
  }
}
for (const db of nodes) await db.close();
