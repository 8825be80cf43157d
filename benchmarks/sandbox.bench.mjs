// The sandbox on its own, in both isolation modes: reserve (the sandbox part of a warm createAgent), reserve+run,
// runs/s with fresh and reused contexts, and CPU-bound work in the sandbox against the same function natively.
// Run: node --no-node-snapshot benchmarks/sandbox.bench.mjs [--quick] [--json]
import os from 'node:os';
import { buildSync } from 'esbuild';
import { createMemoryKvStore, createSandbox } from '../dist/sandbox/index.js';
import { medianOfRounds, metric, runStandalone, sample, single, toMs } from './lib/measure.mjs';

const WORK = 'function work(n) { let a = 0; for (let i = 0; i < n; i++) a = (a * 31 + i) % 1000003; return a; }';
const OPTIONS = { tenant: 'bench', env: 'dev' };

export default async function bench({ quick = false } = {}) {
  const cores = os.availableParallelism();
  const concurrency = 2 * cores;
  const specs = {
    trivial: spec('trivial', 'export default (input) => input;', { prewarm: concurrency }),
    reused: spec('trivial-reused', 'export default (input) => input;', { prewarm: concurrency, reuseContext: true }),
    cpu: spec('cpu', `${WORK}\nexport default (input) => ({ value: work(input.n) });`, { prewarm: 1, reuseContext: true }),
  };
  const seconds = quick ? 0.5 : 3;
  const rounds = quick ? 1 : 3;
  const metrics = [];
  const notes = [];
  for (const isolation of ['process', 'inline']) {
    const measured = await measureMode(isolation, specs, { quick, concurrency, seconds, rounds });
    const label = (text) => `${text} (${isolation})`;
    metrics.push(
      metric(label('reserve'), 'ms', toMs(measured.reserve), { stat: 'p95', max: 0.25 }),
      metric(label('reserve + run + release, trivial agent'), 'ms', toMs(measured.createRun), { stat: 'p50', max: 1 }),
      metric(label(`throughput, fresh context per run, concurrency ${concurrency}`), 'runs/s', single(measured.fresh), { stat: 'p50', min: 2000 }),
      metric(label(`throughput, reused context, concurrency ${concurrency}`), 'runs/s', single(measured.reused), { stat: 'p50', min: 10000 }),
      metric(label('CPU-bound agent: wall time in sandbox ÷ native'), 'ratio', single(measured.cpuRatio), { stat: 'p50', max: 1.05 }),
    );
    if (measured.failures > 0) notes.push(`${isolation}: ${measured.failures} runs failed during the throughput rounds.`);
  }
  notes.push(
    `Hosts: ${cores} sandbox host processes in process isolation (one per core, the default); inline runs the isolates in the benchmark's own process.`,
    `Throughput figures are the median of ${rounds} round(s) of ${seconds} s; each of ${concurrency} workers holds one reservation, and every run gets a fresh context unless the template sets pool.reuseContext.`,
    'Fresh-context throughput is bounded by V8 context creation (about 0.25 ms CPU for createContextSync plus about 0.35 ms for the prelude, measured on this machine) on top of the run itself.',
    `CPU-bound: work(${quick ? '5e6' : '2e7'}) in a reused context (wall time of the run as the caller sees it) ÷ the same function in this process; median of interleaved rounds.`,
  );
  return { name: 'sandbox', title: 'Sandbox: reserve, run and throughput (process and inline isolation)', metrics, notes };
}

async function measureMode(isolation, specs, { quick, concurrency, seconds, rounds }) {
  const sandbox = createSandbox({ isolation, services: { kv: createMemoryKvStore(), spawn: async () => undefined } });
  try {
    for (const s of Object.values(specs)) sandbox.register(s);
    await waitReady(sandbox, specs.trivial.digest, concurrency);
    await waitReady(sandbox, specs.reused.digest, 1);

    const reserve = await sample(() => sandbox.release(sandbox.reserve(specs.trivial)), { warmup: 2000, samples: quick ? 4000 : 20000 });
    const createRun = await sample(
      async () => {
        const slot = sandbox.reserve(specs.trivial);
        const result = await sandbox.run(slot, { name: 'Ada' }, OPTIONS);
        sandbox.release(slot);
        if (!result.ok) throw new Error(`run failed: ${result.error.code} ${result.error.message}`);
      },
      { warmup: quick ? 100 : 300, samples: quick ? 400 : 2000 },
    );

    let failures = 0;
    const tally = (result) => {
      failures += result.failures;
      return result.runsPerSecond;
    };
    await throughput(sandbox, specs.trivial, concurrency, quick ? 0.2 : 1); // warm-up
    const fresh = await medianOfRounds(rounds, async () => tally(await throughput(sandbox, specs.trivial, concurrency, seconds)));
    await throughput(sandbox, specs.reused, concurrency, quick ? 0.2 : 1);
    const reused = await medianOfRounds(rounds, async () => tally(await throughput(sandbox, specs.reused, concurrency, seconds)));

    const cpuRatio = await cpuBound(sandbox, specs.cpu, quick);
    return { reserve, createRun, fresh, reused, cpuRatio, failures };
  } finally {
    await sandbox.close();
  }
}

async function throughput(sandbox, s, concurrency, seconds) {
  let runs = 0;
  let failures = 0;
  const stopAt = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const slot = sandbox.reserve(s);
      while (performance.now() < stopAt) {
        const result = await sandbox.run(slot, { name: 'Ada' }, OPTIONS);
        if (result.ok) runs++;
        else failures++;
      }
      sandbox.release(slot);
    }),
  );
  return { runsPerSecond: runs / ((performance.now() - started) / 1000), failures };
}

async function cpuBound(sandbox, s, quick) {
  const native = new Function(`${WORK}; return work;`)();
  const n = quick ? 5_000_000 : 20_000_000;
  const slot = sandbox.reserve(s);
  try {
    // Warm both sides until the JIT has settled.
    for (let i = 0; i < 5; i++) {
      native(n);
      await sandbox.run(slot, { n }, OPTIONS);
    }
    // Interleaved, so background load on a small machine hits both sides alike.
    return await medianOfRounds(quick ? 3 : 9, async () => {
      let started = performance.now();
      native(n);
      const nativeMs = performance.now() - started;
      started = performance.now();
      const result = await sandbox.run(slot, { n }, OPTIONS);
      if (!result.ok) throw new Error(`CPU-bound run failed: ${result.error.code} ${result.error.message}`);
      return (performance.now() - started) / nativeMs;
    });
  } finally {
    sandbox.release(slot);
  }
}

function spec(name, source, pool) {
  const code = buildSync({ stdin: { contents: source, loader: 'js' }, bundle: true, format: 'iife', globalName: '__afModule', platform: 'neutral', write: false, target: 'es2022' })
    .outputFiles[0].text;
  return {
    digest: `bench-${name}`,
    name,
    version: '1.0.0',
    dir: process.cwd(),
    code,
    permissions: { read: [], write: [], net: [], env: [], kv: false, spawn: [], wasm: false },
    limits: { memoryMb: 64, timeoutMs: 30000, cpuMs: 30000, outputKb: 256, logKb: 64, kvKb: 1024, spawnDepth: 3, spawnFanOut: 16 },
    pool: { prewarm: 1, reuseContext: false, ...pool },
    config: {},
  };
}

async function waitReady(sandbox, digest, want) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const pool = sandbox.stats().pools.find((p) => p.digest === digest);
    if (pool && pool.ready >= want) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

await runStandalone(import.meta.url, bench);
