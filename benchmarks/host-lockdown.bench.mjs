// What the operating-system lockdown of sandbox hosts costs (sandbox/lockdown): a host's start-up time (fork to its
// first context ready, and to its first run's result) with every layer this machine supports against none, and the
// warm paths that must not change: reserve (the sandbox part of a warm createAgent) and reserve + run + release.
// Then the same start-up as an unprivileged user (uid 65534 through setpriv when run as root): with the network layer
// from a user namespace, without it (no `unshare` on PATH, so detection leaves the layer out), and with no lockdown.
// Run: node --no-node-snapshot benchmarks/host-lockdown.bench.mjs [--quick] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { createMemoryKvStore, createSandbox } from '../dist/sandbox/index.js';
import { lockdownSupport } from '../dist/sandbox/lockdown.js';
import { median, metric, runStandalone, sample, summarise, toMs } from './lib/measure.mjs';

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
  const unprivileged = await unprivilegedStarts(quick);
  metrics.push(...unprivileged.metrics);
  return {
    name: 'host-lockdown',
    title: 'Sandbox host lockdown: start-up and warm paths, every supported layer against none',
    metrics,
    notes: [
      `Layers on this machine with lockdown auto: ${on.join(', ') || 'none'}, on every host whatever its templates are granted (tools are served by the calling process).`,
      `Start-up: ${rounds} hosts per mode, interleaved; one host each, measured from createSandbox until the host reports a context ready, and until the first run's result.`,
      ...unprivileged.notes,
    ],
  };
}

/**
 * Host start-up for an unprivileged user, where the network layer needs a user namespace. Each configuration runs in
 * child processes of this file (detection is once per process), interleaved round by round; a child times its
 * detection apart from the start-ups that follow it.
 */
async function unprivilegedStarts(quick) {
  const isRoot = process.getuid?.() === 0;
  const asUser = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
  const who = isRoot ? 'uid 65534 (setpriv)' : `uid ${process.getuid?.()}`;
  const self = fileURLToPath(import.meta.url);
  const needed = [self, fileURLToPath(new URL('../dist/sandbox/index.js', import.meta.url))];
  const [test, ...testArgs] = [...asUser, 'sh', '-c', 'for f; do test -r "$f" || exit 1; done', 'sh', ...needed];
  if (process.platform !== 'linux') return { metrics: [], notes: ['Unprivileged start-up not measured: user namespaces are Linux only.'] };
  if (spawnSync(test, testArgs).status !== 0) return { metrics: [], notes: [`Unprivileged start-up not measured: the checkout is not readable by ${who}.`] };
  // PATH without unshare (the layer probes run `true`): what a machine without user namespaces gets.
  const bare = mkdtempSync(path.join(os.tmpdir(), 'af-bench-path-'));
  for (const tool of ['setpriv', 'prlimit', 'true']) {
    const found = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, tool)).find((file) => existsSync(file));
    if (found) symlinkSync(found, path.join(bare, tool));
  }
  spawnSync('chmod', ['755', bare]);
  const configs = [
    { key: 'userns', label: 'lockdown auto, network via user namespace', mode: 'auto', PATH: process.env.PATH ?? '' },
    { key: 'no-userns', label: 'lockdown auto, no unshare on PATH (no network layer)', mode: 'auto', PATH: bare },
    { key: 'off', label: 'lockdown off', mode: 'off', PATH: process.env.PATH ?? '' },
  ];
  const got = Object.fromEntries(configs.map((c) => [c.key, { ready: [], firstRun: [], detectMs: [], launcher: { bare: [], wrapped: [] }, layers: [], network: undefined }]));
  try {
    const rounds = quick ? 1 : 5;
    for (let round = 0; round < rounds; round++) {
      for (const config of configs) {
        const out = await child(asUser, { mode: config.mode, starts: 5 }, config.PATH);
        const into = got[config.key];
        into.ready.push(...out.ready);
        into.firstRun.push(...out.firstRun);
        into.detectMs.push(out.detectMs);
        into.launcher.bare.push(...out.launcher.bare);
        into.launcher.wrapped.push(...out.launcher.wrapped);
        into.layers = out.layers;
        into.network = out.network;
      }
    }
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
  const metrics = [];
  for (const config of configs) {
    const label = (text) => `${text}, ${who}, ${config.label}`;
    metrics.push(metric(label('host start-up: fork to first context ready'), 'ms', summarise(got[config.key].ready)), metric(label('host start-up: fork to first run result'), 'ms', summarise(got[config.key].firstRun)));
  }
  const { launcher } = got.userns;
  if (launcher.wrapped.length > 0) {
    const wrapped = got.userns.network.launcher.slice(0, -1).join(' ');
    metrics.push(metric(`launcher alone, ${who}: spawnSync of true`, 'ms', summarise(launcher.bare)), metric(`launcher alone, ${who}: spawnSync of ${wrapped} true`, 'ms', summarise(launcher.wrapped)));
  }
  const detect = (key) => `${median(got[key].detectMs).toFixed(1)} ms`;
  return {
    metrics,
    notes: [
      `As ${who}, lockdown auto applies: ${got.userns.layers.join(', ')} (network: ${got.userns.network?.reason}); without unshare on PATH: ${got['no-userns'].layers.join(', ')} (network: ${got['no-userns'].network?.reason}).`,
      `Layer detection, once per process (median of the children): ${detect('userns')} with a user namespace, ${detect('no-userns')} without unshare; not on any run's path.`,
    ],
  };
}

function child(asUser, job, PATH) {
  const [command, ...args] = [...asUser, process.execPath, '--no-node-snapshot', fileURLToPath(import.meta.url)];
  const proc = spawn(command, args, { cwd: os.tmpdir(), env: { PATH, AF_BENCH_HOST_STARTS: JSON.stringify(job) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  proc.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) =>
    proc.once('close', (status) => (status === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`host start-up child (${JSON.stringify(job)}) failed with status ${status}: ${stderr}`)))),
  );
}

/** In a child (see unprivilegedStarts): detection, then `starts` host start-ups, as JSON on stdout. */
async function childStarts({ mode, starts }) {
  const t0 = performance.now();
  const support = lockdownSupport();
  const detectMs = performance.now() - t0;
  const spec = makeSpec('trivial', 'export default (input) => input;');
  const into = { ready: [], firstRun: [] };
  for (let i = 0; i < starts; i++) await startOnce(mode, spec, into);
  const layers = mode === 'off' ? [] : support.filter((s) => s.available).map((s) => s.layer);
  const network = support.find((s) => s.layer === 'network');
  // What the namespaces themselves cost, apart from Node's start-up: `true` with and without the network launcher.
  const launcher = { bare: [], wrapped: [] };
  if (mode === 'auto' && network?.available) {
    const [command, ...args] = [...network.launcher, 'true'];
    for (let i = 0; i < 20; i++) {
      for (const [into, line] of [[launcher.bare, ['true']], [launcher.wrapped, [command, ...args]]]) {
        const t = performance.now();
        spawnSync(line[0], line.slice(1));
        into.push(performance.now() - t);
      }
    }
  }
  process.stdout.write(JSON.stringify({ ...into, detectMs, layers, network, launcher }));
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

if (process.env.AF_BENCH_HOST_STARTS) await childStarts(JSON.parse(process.env.AF_BENCH_HOST_STARTS));
else await runStandalone(import.meta.url, bench);
