// `af store migrate-to`: how long copying the demo's SQLite store (the bundled agents' seeded workload, ~2,800 run
// records for the default 2,000 runs, with the learner's suggestions and models) into an empty PostgreSQL database takes,
// verification included. Not part of the suite: it starts its own PostgreSQL (durable, fsync on) and runs the demo first.
// Usage: node scripts/build.mjs && node benchmarks/migrate.bench.mjs [runs=2000] [samples=3]
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './lib/measure.mjs';
import { startPostgresServer } from './lib/postgres.mjs';

const runs = Number(process.argv[2] ?? 2000);
const samples = Number(process.argv[3] ?? 3);
const dist = pathToFileURL(path.resolve(process.env.AF_DIST ?? path.join(import.meta.dirname, '..', 'dist')) + '/');
const { createCommandContext } = await import(new URL('cli/context.js', dist));
const { prepareDemoState, removeDemoState } = await import(new URL('cli/commands/demo.js', dist));
const { openStore } = await import(new URL('store/index.js', dist));
const { PostgresStore } = await import(new URL('store/postgres/postgres-store.js', dist));
const { migrateToPostgres } = await import(new URL('store/migrate-to-postgres.js', dist));

const quiet = { write: () => true };
const context = createCommandContext({ stdin: process.stdin, stdout: quiet, stderr: quiet, env: { CI: 'true', NO_COLOR: '1' }, cwd: process.cwd() }, () => ({}));
process.stderr.write(`building the demo store (${runs} runs)…\n`);
const demo = await prepareDemoState(context, { runs, json: true });
const server = await startPostgresServer();
const results = [];
try {
  const keysDir = path.join(demo.home, 'keys');
  for (let i = 0; i < samples; i++) {
    const source = openStore({ path: path.join(demo.home, 'factory.db'), auditAnchorDir: keysDir });
    const target = await PostgresStore.open({ url: await server.createDatabase(`af_migrate_${i}`), auditAnchorDir: keysDir, maxConnections: 2 });
    try {
      const started = performance.now();
      const result = await migrateToPostgres(source, target);
      const ms = performance.now() - started;
      if (!result.verification.audit.ok) throw new Error(`the migrated audit log does not verify: ${JSON.stringify(result.verification.audit)}`);
      results.push({ ms, copied: result.copied, anchor: result.audit.anchor, runsCompared: result.verification.runsCompared });
      process.stderr.write(`sample ${i + 1}: ${ms.toFixed(0)} ms (${result.copied.runs} runs, ${result.copied.audit} audit entries, anchor ${result.audit.anchor})\n`);
    } finally {
      await target.close();
      await source.close();
    }
  }
} finally {
  await server.stop();
  removeDemoState(demo);
}
const ms = results.map((result) => result.ms).sort((a, b) => a - b);
const summary = { demoRuns: runs, samples, medianMs: Math.round(median(ms)), minMs: Math.round(ms[0]), maxMs: Math.round(ms[ms.length - 1]), copied: results[0]?.copied };
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`\n| demo runs | run records | audit entries | kv entries | migrate (median of ${samples}) | min | max |\n|---|---|---|---|---|---|---|\n`);
process.stdout.write(`| ${runs} | ${summary.copied?.runs} | ${summary.copied?.audit} | ${summary.copied?.kv} | ${summary.medianMs} ms | ${summary.minMs} ms | ${summary.maxMs} ms |\n`);
