// `af store migrate-to`: how long copying the demo's SQLite store (the bundled agents' seeded workload, ~2,800 run
// records for 2,000 runs, with the learner's suggestions and models) into an empty PostgreSQL database takes,
// verification included. It starts its own PostgreSQL (durable, fsync on) and runs the demo first.
// Alone: node scripts/build.mjs && node --no-node-snapshot benchmarks/migrate.bench.mjs [--quick]
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { metric, runStandalone, summarise } from './lib/measure.mjs';
import { startPostgresServer } from './lib/postgres.mjs';

const dist = pathToFileURL(path.resolve(process.env.AF_DIST ?? path.join(import.meta.dirname, '..', 'dist')) + '/');

export default async function bench({ quick = false } = {}) {
  const runs = quick ? 300 : 2000;
  const samples = quick ? 1 : 3;
  const { createCommandContext } = await import(new URL('cli/context.js', dist));
  const { prepareDemoState, removeDemoState } = await import(new URL('cli/commands/demo.js', dist));
  const { openStore } = await import(new URL('store/index.js', dist));
  const { PostgresStore } = await import(new URL('store/postgres/postgres-store.js', dist));
  const { migrateToPostgres } = await import(new URL('store/migrate-to-postgres.js', dist));
  const quiet = { write: () => true };
  const context = createCommandContext({ stdin: process.stdin, stdout: quiet, stderr: quiet, env: { CI: 'true', NO_COLOR: '1' }, cwd: process.cwd() }, () => ({}));
  const demo = await prepareDemoState(context, { runs, json: true });
  const server = await startPostgresServer();
  const results = [];
  try {
    const keysDir = path.join(demo.home, 'keys');
    for (let i = 0; i < samples; i++) {
      const source = openStore({ path: path.join(demo.home, 'factory.db'), auditAnchorDir: keysDir });
      const target = await PostgresStore.open({ url: await server.createDatabase(`af_migrate_${process.pid}_${i}`), auditAnchorDir: keysDir, maxConnections: 2 });
      try {
        const started = performance.now();
        const result = await migrateToPostgres(source, target);
        const ms = performance.now() - started;
        if (!result.verification.audit.ok) throw new Error(`the migrated audit log does not verify: ${JSON.stringify(result.verification.audit)}`);
        results.push({ ms, copied: result.copied, runsCompared: result.verification.runsCompared });
      } finally {
        await target.close();
        await source.close();
      }
    }
  } finally {
    await server.stop();
    removeDemoState(demo);
  }
  const copied = results[0]?.copied ?? {};
  return {
    name: 'migrate',
    title: '`af store migrate-to`: the demo store into PostgreSQL',
    metrics: [metric(`migrate the demo store (${runs} demo runs: ${copied.runs} run records, ${copied.audit} audit entries), verification included`, 'ms', { ...summarise(results.map((result) => result.ms)), n: results.length })],
    notes: [
      `The demo's SQLite store (\`af demo\` with ${runs} runs: the bundled agents' seeded workload, with the learner's suggestions and models) copied by \`migrateToPostgres\` into an empty database of a durable PostgreSQL 17 (fsync on) on 127.0.0.1, in one transaction, then verified (row counts per table, small tables row by row, ${results[0]?.runsCompared ?? 0} runs compared field by field, every audit chain rehashed). Copied: ${Object.entries(copied).map(([table, rows]) => `${table} ${rows}`).join(', ')}.`,
    ],
  };
}

await runStandalone(import.meta.url, bench);
