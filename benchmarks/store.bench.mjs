// The store: batched run-record inserts per second, and agent throughput with the store on vs off.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createFactory, openStore } from '../dist/index.js';
import { newRunId } from '../dist/runtime/run-id.js';
import { median, medianOfRounds, metric, runStandalone, summarise } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

function record(i) {
  return {
    id: newRunId(), template: 'hello', version: '1.0.0', digest: 'd'.repeat(64), env: 'dev', tenant: 'default', startedAt: Date.now(),
    createMs: 0.02, runMs: 0.8, cpuMs: 0.3, heapUsedAtEndBytes: 1_200_000, inputBytes: 15, outputBytes: 30, outcome: 'ok',
    tools: { kv: 2, log: 1 }, denials: [], logsDropped: 0, depth: 0, inputShape: { depth: 1, maxArrayLength: 0, maxStringLength: 3, topLevelKeys: 1 },
  };
}

export default async function bench({ quick = false } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-store-'));
  try {
    // Inserts: the writer's own path, write() to committed, timed wall-clock over a whole burst.
    const count = quick ? 50_000 : 200_000;
    const rounds = quick ? 2 : 5;
    let round = 0;
    const insertsPerSecond = await medianOfRounds(rounds, async () => {
      const store = openStore({ path: path.join(dir, `inserts-${round++}.db`), writer: { batchSize: 1000, maxQueue: count } });
      // Built before the clock starts: the runtime has its record in hand when it writes; making one is not the store's cost.
      const records = Array.from({ length: count }, (_, i) => record(i));
      const started = performance.now();
      for (const one of records) store.runs.write(one);
      await store.runs.flush();
      const seconds = (performance.now() - started) / 1000;
      if (store.queries.count() !== count) throw new Error('lost records');
      await store.close();
      return count / seconds;
    });

    // Agent throughput, store off (in-memory sink) vs on (SQLite), same agent, same run.
    const project = createBenchProject({ trivial: { manifest: { pool: { prewarm: 8 } }, source: 'export default (input) => input;\n' } });
    const concurrency = 2 * os.availableParallelism();
    const seconds = quick ? 1 : 3;
    const measure = async (store) => {
      const factory = await createFactory({ root: project.root, store, prewarm: ['trivial'] });
      await throughput(factory, concurrency, 0.5);
      const value = await throughput(factory, concurrency, seconds);
      await factory.close();
      return value;
    };
    const off = [];
    const on = [];
    // Alternate so drift on a noisy machine hits both sides alike.
    const pairs = quick ? 1 : 5;
    for (let i = 0; i < pairs; i++) {
      off.push(await measure(false));
      on.push(await measure(path.join(dir, `factory-${i}.db`)));
    }
    rmSync(project.root, { recursive: true, force: true });
    // One slowdown per adjacent off/on pair, then their median: a slow spell on the machine hits both sides of a pair.
    const slowdowns = on.map((value, i) => 1 - value / off[i]);
    const slowdown = median(slowdowns);

    return {
      name: 'store',
      title: 'Store: run-record inserts and the cost of recording runs',
      metrics: [
        metric('batched run-record inserts (write → committed)', 'records/s', { ...summarise([insertsPerSecond]), n: rounds }, { stat: 'p50', min: 100_000 }),
        metric(`trivial agent, store off, concurrency ${concurrency}`, 'runs/s', { ...summarise(off), n: off.length }),
        metric(`trivial agent, store on, concurrency ${concurrency}`, 'runs/s', { ...summarise(on), n: on.length }),
        metric('slowdown with the store on', 'fraction', { ...summarise([slowdown]), n: pairs }, { stat: 'p50', max: 0.05 }),
      ],
      notes: [
        `Inserts: ${count} records (UUIDv7 ids as the runtime makes them, built before timing) through RunWriter.write() until committed, 1000 per transaction, WAL with synchronous=NORMAL; median of ${rounds} rounds.`,
        `Throughput: ${pairs} pairs of rounds, store off then on; each throughput is the median of its rounds, the slowdown the median of the ${pairs} per-pair slowdowns (${slowdowns.map((x) => `${(x * 100).toFixed(1)}%`).join(', ')}).`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(factory, concurrency, seconds) {
  const agents = [];
  for (let i = 0; i < concurrency; i++) agents.push(await factory.createAgent('trivial'));
  let runs = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(agents.map(async (agent) => {
    while (performance.now() < deadline) {
      await agent.run({ n: runs });
      runs++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  for (const agent of agents) await agent.dispose();
  return runs / elapsed;
}

await runStandalone(import.meta.url, bench);
