// What the operating-system lockdown of sandbox hosts costs (sandbox/lockdown): a host's start-up time (fork to its
// first context ready, and to its first run's result) with every layer this machine supports against none, and the
// warm paths that must not change: reserve (the sandbox part of a warm createAgent) and reserve + run + release.
// Run: node --no-node-snapshot benchmarks/host-lockdown.bench.mjs [--quick] [--json]
import { performance } from 'node:perf_hooks';
import { buildSync } from 'esbuild';
import { createMemoryKvStore, createSandbox } from '../dist/sandbox/index.js';
import { lockdownSupport } from '../dist/sandbox/lockdown.js';
import { metric, runStandalone, sample, summarise, toMs } from './lib/measure.mjs';

const OPTIONS = { tenant: 'bench', env: 'dev' };
const services = { kv: createMemoryKvStore(), spawn: async () => undefined };

export default async function bench({ quick = false } = {}) {
  const spec = makeSpec('trivial', 'export default (input) => input;');
  const starts = { off: { ready: [], firstRun: [] }, auto: { ready: [], firstRun: [] } };
  const rounds = quick ? 5 : 25;
  // Interleaved, so drift on a shared machine lands on both modes alike.
  for (let i = 0; i < rounds; i++) for (const mode of ['off', 'auto']) await startOnce(mode, spec, starts[mode]);
  const warm = {};
  for (const mode of ['off', 'auto']) warm[mode] = await warmPaths(mode, spec, quick);
  const metrics = [];
  for (const mode of ['off', 'auto']) {
    const label = (text) => `${text}, lockdown ${mode}`;
    metrics.push(
      metric(label('host start-up: fork to first context ready'), 'ms', summarise(starts[mode].ready)),
      metric(label('host start-up: fork to first run result'), 'ms', summarise(starts[mode].firstRun)),
      metric(label('reserve (warm createAgent, sandbox part)'), 'ms', toMs(warm[mode].reserve)),
      metric(label('reserve + run + release, trivial agent'), 'ms', toMs(warm[mode].createRun)),
    );
  }
  const on = lockdownSupport().filter((s) => s.available).map((s) => s.layer);
  return {
    name: 'host-lockdown',
    title: 'Sandbox host lockdown: start-up and warm paths, every supported layer against none',
    metrics,
    notes: [
      `Layers on this machine with lockdown auto: ${on.join(', ') || 'none'} (a sealed host: the template has no read, write or net grant).`,
      `Start-up: ${rounds} hosts per mode, interleaved; one host each, measured from createSandbox until the host reports a context ready, and until the first run's result.`,
    ],
  };
}

async function startOnce(mode, spec, into) {
  const t0 = performance.now();
  const sandbox = createSandbox({ hosts: 1, lockdown: mode, services });
  try {
    sandbox.register(spec);
    while (!(sandbox.stats().pools.find((p) => p.digest === spec.digest)?.ready >= 1)) await new Promise((resolve) => setTimeout(resolve, 1));
    into.ready.push(performance.now() - t0);
    const slot = sandbox.reserve(spec);
    const result = await sandbox.run(slot, { n: 1 }, OPTIONS);
    sandbox.release(slot);
    if (!result.ok) throw new Error(`run failed with lockdown ${mode}: ${result.error.code} ${result.error.message}`);
    into.firstRun.push(performance.now() - t0);
  } finally {
    await sandbox.close();
  }
}

async function warmPaths(mode, spec, quick) {
  const sandbox = createSandbox({ hosts: 1, lockdown: mode, services });
  try {
    sandbox.register(spec);
    while (!(sandbox.stats().pools.find((p) => p.digest === spec.digest)?.ready >= 2)) await new Promise((resolve) => setTimeout(resolve, 5));
    const reserve = await sample(() => sandbox.release(sandbox.reserve(spec)), { warmup: 2000, samples: quick ? 4000 : 20000 });
    const createRun = await sample(
      async () => {
        const slot = sandbox.reserve(spec);
        const result = await sandbox.run(slot, { n: 1 }, OPTIONS);
        sandbox.release(slot);
        if (!result.ok) throw new Error(`run failed: ${result.error.code}`);
      },
      { warmup: quick ? 100 : 300, samples: quick ? 400 : 2000 },
    );
    return { reserve, createRun };
  } finally {
    await sandbox.close();
  }
}

function makeSpec(name, code) {
  return {
    digest: `bench-lockdown-${name}`,
    name,
    version: '1.0.0',
    dir: process.cwd(),
    code: buildSync({ stdin: { contents: code, loader: 'js' }, bundle: true, format: 'iife', globalName: '__afModule', platform: 'neutral', write: false, target: 'es2022' }).outputFiles[0].text,
    permissions: { read: [], write: [], net: [], env: [], kv: false, spawn: [], wasm: false },
    limits: { memoryMb: 64, timeoutMs: 30000, cpuMs: 30000, outputKb: 256, logKb: 64, kvKb: 1024, spawnDepth: 3, spawnFanOut: 16 },
    pool: { prewarm: 2, reuseContext: false },
    config: {},
  };
}

await runStandalone(import.meta.url, bench);
