// Sandbox hot paths: reserve (the sandbox part of a warm createAgent), reserve+run, runs/s with fresh and reused
// contexts, and CPU-bound work in the sandbox against the same function natively.
// Run: node --no-node-snapshot benchmarks/sandbox-run.mjs [--json] [--isolation process|inline] [--seconds N]
import os from 'node:os';
import { buildSync } from 'esbuild';
import { createMemoryKvStore, createSandbox } from '../dist/sandbox/index.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const isolation = args.includes('--isolation') ? args[args.indexOf('--isolation') + 1] : 'process';
const seconds = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : 3;
const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

const bundle = (contents) =>
  buildSync({ stdin: { contents, loader: 'js' }, bundle: true, format: 'iife', globalName: '__afModule', platform: 'neutral', write: false, target: 'es2022' }).outputFiles[0].text;

const WORK = `function work(n) { let a = 0; for (let i = 0; i < n; i++) a = (a * 31 + i) % 1000003; return a; }`;
const spec = (name, source, pool) => ({
  digest: `bench-${name}`,
  name,
  version: '1.0.0',
  dir: process.cwd(),
  code: bundle(source),
  permissions: { read: [], write: [], net: [], env: [], kv: false, spawn: [], wasm: false },
  limits: { memoryMb: 64, timeoutMs: 30000, cpuMs: 30000, outputKb: 256, logKb: 64, kvKb: 1024, spawnDepth: 3, spawnFanOut: 16 },
  pool: { prewarm: 2 * cores, reuseContext: false, ...pool },
  config: {},
});
const trivial = spec('trivial', 'export default async (input) => ({ ok: true, n: input.n });');
const reused = spec('trivial-reused', 'export default async (input) => ({ ok: true, n: input.n });', { reuseContext: true });
const cpu = spec('cpu', `${WORK}\nexport default async (input) => ({ value: work(input.n) });`, { reuseContext: true, prewarm: 1 });

function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor(s.length * p))];
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitReady(sandbox, digest, want) {
  const end = Date.now() + 10000;
  while (Date.now() < end) {
    const pool = sandbox.stats().pools.find((p) => p.digest === digest);
    if (pool && pool.ready >= want) return;
    await sleep(10);
  }
}

const sandbox = createSandbox({ isolation, hosts: cores, services: { kv: createMemoryKvStore(), spawn: async () => undefined } });
const opts = { tenant: 'bench', env: 'dev' };
for (const s of [trivial, reused, cpu]) sandbox.register(s);
await waitReady(sandbox, trivial.digest, cores);
await waitReady(sandbox, reused.digest, cores);

// 1. reserve alone (no IPC, no context creation).
for (let i = 0; i < 2000; i++) sandbox.release(sandbox.reserve(trivial));
const reserveSamples = [];
for (let i = 0; i < 20000; i++) {
  const t = performance.now();
  const slot = sandbox.reserve(trivial);
  reserveSamples.push(performance.now() - t);
  sandbox.release(slot);
}

// 2. reserve + run, one at a time.
const createRun = async () => {
  const t = performance.now();
  const slot = sandbox.reserve(trivial);
  const result = await sandbox.run(slot, { n: 1 }, opts);
  sandbox.release(slot);
  if (!result.ok) throw new Error(`run failed: ${result.error.code} ${result.error.message}`);
  return performance.now() - t;
};
for (let i = 0; i < 300; i++) await createRun();
const createRunSamples = [];
for (let i = 0; i < 2000; i++) createRunSamples.push(await createRun());

// 3/4. throughput at concurrency 2 x cores.
async function throughput(s) {
  const concurrency = 2 * cores;
  const stopAt = performance.now() + seconds * 1000;
  let runs = 0;
  let failures = 0;
  const worker = async () => {
    while (performance.now() < stopAt) {
      const slot = sandbox.reserve(s);
      const result = await sandbox.run(slot, { n: runs }, opts);
      sandbox.release(slot);
      if (result.ok) runs++;
      else failures++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { concurrency, runsPerSec: runs / ((performance.now() - started) / 1000), failures };
}
await throughput({ ...trivial }); // warm-up
const fresh = await throughput(trivial);
await throughput(reused);
const reusedResult = await throughput(reused);

// 5. CPU-bound: the same function in the sandbox and natively.
const nativeWork = new Function(`${WORK}; return work;`)();
const N = 20_000_000;
for (let i = 0; i < 3; i++) nativeWork(N);
const nativeSamples = [];
const sandboxWall = [];
const sandboxCpu = [];
const cpuSlot = sandbox.reserve(cpu);
for (let i = 0; i < 3; i++) await sandbox.run(cpuSlot, { n: N }, opts);
// Interleaved so background load on this small machine hits both sides alike.
for (let i = 0; i < 15; i++) {
  let t = performance.now();
  nativeWork(N);
  nativeSamples.push(performance.now() - t);
  t = performance.now();
  const result = await sandbox.run(cpuSlot, { n: N }, opts);
  sandboxWall.push(performance.now() - t);
  sandboxCpu.push(result.stats.cpuMs);
}
sandbox.release(cpuSlot);
const native = percentiles(nativeSamples).p50;
const cpuReport = {
  nativeMs: native,
  sandboxWallMs: percentiles(sandboxWall).p50,
  sandboxCpuMs: percentiles(sandboxCpu).p50,
  overheadWall: percentiles(sandboxWall).p50 / native - 1,
  overheadCpu: percentiles(sandboxCpu).p50 / native - 1,
};

await sandbox.close();

const report = {
  node: process.version,
  isolation,
  cores,
  reserveMs: percentiles(reserveSamples),
  createRunMs: percentiles(createRunSamples),
  freshContext: fresh,
  reusedContext: reusedResult,
  cpuBound: cpuReport,
  targets: {
    'warm createAgent (reserve) p95 <= 0.25 ms': percentiles(reserveSamples).p95 <= 0.25,
    'create+run p50 <= 1 ms': percentiles(createRunSamples).p50 <= 1,
    'fresh-context >= 2000 runs/s': fresh.runsPerSec >= 2000,
    'reused-context >= 10000 runs/s': reusedResult.runsPerSec >= 10000,
    'CPU overhead <= 5%': cpuReport.overheadWall <= 0.05,
  },
};

if (json) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
} else {
  const f = (n) => (n < 1 ? n.toFixed(4) : n.toFixed(2));
  const rows = [
    ['reserve (ms)', f(report.reserveMs.p50), f(report.reserveMs.p95), f(report.reserveMs.p99)],
    ['reserve+run (ms)', f(report.createRunMs.p50), f(report.createRunMs.p95), f(report.createRunMs.p99)],
  ];
  console.log(`sandbox benchmark — ${isolation} isolation, ${cores} cores, ${process.version}\n`);
  console.log('| path | p50 | p95 | p99 |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\n| throughput (concurrency ${fresh.concurrency}) | runs/s |\n|---|---|`);
  console.log(`| fresh context | ${fresh.runsPerSec.toFixed(0)} |\n| reused context | ${reusedResult.runsPerSec.toFixed(0)} |`);
  console.log(`\nCPU-bound work(${N}): native ${f(native)} ms, sandbox wall ${f(cpuReport.sandboxWallMs)} ms (${(cpuReport.overheadWall * 100).toFixed(1)}%), sandbox CPU ${f(cpuReport.sandboxCpuMs)} ms (${(cpuReport.overheadCpu * 100).toFixed(1)}%)\n`);
  for (const [target, met] of Object.entries(report.targets)) console.log(`${met ? 'met    ' : 'MISSED '} ${target}`);
}
