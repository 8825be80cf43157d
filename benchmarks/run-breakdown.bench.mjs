// Where the time of one run goes, in process isolation, against raw isolated-vm in the same process and run (issue 19).
// Per run of a trivial agent (a fresh context per run unless the row says reused), at concurrency 1 and 4: the
// caller's CPU (process.cpuUsage), the sandbox hosts' CPU (/proc/PID/stat of each host, all threads), the IPC that
// crossed the channel (writes and logical messages counted at the ChildProcess in this process, bytes and syscalls
// from the hosts' /proc/PID/io), and the pieces that cannot be seen from outside, each estimated by a micro-benchmark
// of the same operation in this process (labelled "micro"): context creation, prelude + bridge + bundle evaluation,
// the run with its result copy, the JSON of the IPC envelopes, record writing (store on vs off) and telemetry.
// Only the benchmark is instrumented: it wraps child_process.fork for the duration of the benchmark, to learn the
// hosts' pids and count what is sent and received; product code is unchanged.
// Run: node --no-node-snapshot benchmarks/run-breakdown.bench.mjs [--quick] [--json]
// AF_BREAKDOWN_HOST_PROF=DIR: hosts start with --cpu-prof into DIR (and lockdown off, so they may write it there).
// AF_BENCH_BEFORE=/path/to/dist also measures another build (e.g. the commit before a change; the folder must be named
// dist, for the hosts' lockdown) at concurrency 4 in the same process, rounds interleaved; its rows say "before".
import childProcess from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { median, metric, runStandalone, single } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

const TICK_MS = 10; // USER_HZ is 100 on Linux
/** Contexts per raw isolate before a new one (the same as benchmarks/runtime.bench.mjs). */
const RAW_CONTEXTS_PER_ISOLATE = 1000;
const INPUT = { name: 'Ada' };

export default async function bench({ quick = false } = {}) {
  if (process.platform !== 'linux') return { name: 'run-breakdown', title: 'Run breakdown', skipped: 'reads /proc: Linux only', metrics: [] };
  const seconds = quick ? 0.5 : 2;
  const rounds = quick ? 2 : 5;
  const tap = tapFork();
  const { createFactory } = await import('../dist/index.js');
  const project = createBenchProject({
    trivial: { manifest: { pool: { prewarm: 4 } }, source: 'export default (input) => input;\n' },
    'trivial-reused': { manifest: { pool: { prewarm: 4, reuseContext: true } }, source: 'export default (input) => input;\n' },
  });
  const hostProf = process.env.AF_BREAKDOWN_HOST_PROF;
  const lockdown = hostProf ? { lockdown: 'off' } : {};
  const factories = {};
  try {
    factories.store = await createFactory({ root: project.root, prewarm: true, ...lockdown });
    const storeHosts = tap.takeHosts();
    const hostsOf = { store: storeHosts };
    const before = process.env.AF_BENCH_BEFORE;
    if (before) {
      const { createFactory: createBefore } = await import(pathToFileURL(path.join(before, 'index.js')).href);
      factories.before = await createBefore({ root: project.root, prewarm: true, ...lockdown });
      hostsOf.before = tap.takeHosts();
    }
    const raw = await openRawIvm();

    const configs = [
      { key: 'raw', label: 'raw isolated-vm, fresh context, 1 thread', run: (s) => raw.throughput(s) },
      { key: 'f1', label: 'factory, fresh context, c1', run: (s) => factoryRound(factories.store, hostsOf.store, tap, 'trivial', 1, s) },
      { key: 'f4', label: 'factory, fresh context, c4', run: (s) => factoryRound(factories.store, hostsOf.store, tap, 'trivial', 4, s) },
      { key: 'r4', label: 'factory, reused context, c4', run: (s) => factoryRound(factories.store, hostsOf.store, tap, 'trivial-reused', 4, s) },
      { key: 'r1', label: 'factory, reused context, c1', run: (s) => factoryRound(factories.store, hostsOf.store, tap, 'trivial-reused', 1, s) },
      ...(factories.before
        ? [
            { key: 'bf4', label: 'before: factory, fresh context, c4', run: (s) => factoryRound(factories.before, hostsOf.before, tap, 'trivial', 4, s) },
            { key: 'br4', label: 'before: factory, reused context, c4', run: (s) => factoryRound(factories.before, hostsOf.before, tap, 'trivial-reused', 4, s) },
            { key: 'br1', label: 'before: factory, reused context, c1', run: (s) => factoryRound(factories.before, hostsOf.before, tap, 'trivial-reused', 1, s) },
          ]
        : []),
    ];
    // Warm everything, then interleave rounds so the shared machine's load lands on every configuration alike.
    for (const c of configs) await c.run(quick ? 0.2 : 0.5);
    const samples = Object.fromEntries(configs.map((c) => [c.key, []]));
    for (let r = 0; r < rounds; r++) for (const c of configs) samples[c.key].push(await c.run(seconds));

    const micro = await microBenchmarks({ quick, factory: factories.store });
    raw.close();

    const metrics = [];
    const notes = [];
    const med = (key, field) => median(samples[key].map((s) => s[field]));
    const spread = (key, field) => {
      const values = samples[key].map((s) => s[field]);
      return `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
    };
    const row = (name, unit, key, field, target) => {
      const values = samples[key].map((s) => s[field]);
      return metric(name, unit, { ...single(median(values), values.length), p95: Math.max(...values), p99: Math.max(...values) }, target);
    };
    for (const c of configs) {
      metrics.push(row(`${c.label}: throughput`, 'runs/s', c.key, 'runsPerSecond'));
      metrics.push(row(`${c.label}: caller CPU per run`, 'µs', c.key, 'callerUs'));
      if (c.key !== 'raw') {
        metrics.push(row(`${c.label}: host CPU per run (all hosts)`, 'µs', c.key, 'hostUs'));
        metrics.push(row(`${c.label}: total CPU per run`, 'µs', c.key, 'totalUs'));
        metrics.push(row(`${c.label}: IPC writes per run (caller→host + host→caller)`, 'writes', c.key, 'writesPerRun'));
        metrics.push(row(`${c.label}: IPC logical messages per run (both ways)`, 'msgs', c.key, 'msgsPerRun'));
        metrics.push(row(`${c.label}: share of caller→host writes carrying more than one message`, '%', c.key, 'multiOutPct'));
        metrics.push(row(`${c.label}: share of host→caller writes carrying more than one message`, '%', c.key, 'multiInPct'));
        metrics.push(row(`${c.label}: IPC bytes per run (both ways)`, 'bytes', c.key, 'bytesPerRun'));
        metrics.push(row(`${c.label}: host read+write syscalls per run`, 'syscalls', c.key, 'syscallsPerRun'));
      }
    }
    const ratio = (a, b) => median(samples[a].map((s, i) => s.runsPerSecond / samples[b][i].runsPerSecond));
    metrics.push(metric('fresh c4 throughput ÷ raw isolated-vm (same rounds)', 'ratio', single(ratio('f4', 'raw'), rounds), { stat: 'p50', min: 1 }));
    metrics.push(metric('fresh c1 throughput ÷ raw isolated-vm (same rounds)', 'ratio', single(ratio('f1', 'raw'), rounds)));
    for (const [name, us] of Object.entries(micro)) metrics.push(metric(`micro: ${name}`, 'µs', single(us)));

    notes.push(
      `${rounds} interleaved rounds of ${seconds} s per configuration; each row is the median round (p95 and p99 columns: the worst round). Spread of fresh c4 throughput ${spread('f4', 'runsPerSecond')} runs/s, raw ${spread('raw', 'runsPerSecond')} runs/s.`,
      'Caller CPU: process.cpuUsage of this process (all its threads, including the SQLite writer) ÷ runs. Host CPU: utime+stime of every sandbox host from /proc/PID/stat (10 ms ticks, hence seconds-long rounds) ÷ runs. Factory rows hold one agent per worker and run it repeatedly (createAgent is a separate micro row).',
      'IPC: writes = ChildProcess.send calls in this process plus messages received from hosts (a write may be a batch); logical messages count the messages inside batches; bytes = the hosts\' /proc/PID/io rchar + wchar (the JSON lines on the pipe, plus the host\'s own /proc reads for its memory watch, a few bytes per run).',
      `Micro rows run the same operation in this process, one at a time, and divide CPU by count: they estimate pieces the hosts do that cannot be timed from outside. The raw row does what benchmarks/peers/isolated-vm.mjs does (createContextSync, a compiled script run in it, a sync apply and a JSON result copied out), with a new isolate every ${RAW_CONTEXTS_PER_ISOLATE} contexts as in the runtime benchmark (its creation counted).`,
      `Medians: caller ${fmt(med('f4', 'callerUs'))} µs + host ${fmt(med('f4', 'hostUs'))} µs per fresh run at c4 vs raw ${fmt(med('raw', 'callerUs'))} µs; reused at c4 caller ${fmt(med('r4', 'callerUs'))} µs + host ${fmt(med('r4', 'hostUs'))} µs.`,
    );
    if (factories.before) {
      notes.push(
        `Before (${process.env.AF_BENCH_BEFORE}), same rounds: reused c4 ${fmt(med('br4', 'runsPerSecond'))} runs/s, caller ${fmt(med('br4', 'callerUs'))} µs + host ${fmt(med('br4', 'hostUs'))} µs, ${fmt(med('br4', 'writesPerRun'))} writes per run (this build: ${fmt(med('r4', 'runsPerSecond'))} runs/s, ${fmt(med('r4', 'callerUs'))} + ${fmt(med('r4', 'hostUs'))} µs, ${fmt(med('r4', 'writesPerRun'))} writes).`,
      );
    }
    return { name: 'run-breakdown', title: 'Run breakdown: where the CPU of one run goes (process isolation vs raw isolated-vm)', metrics, notes, samples, micro };
  } finally {
    for (const f of Object.values(factories)) await f.close();
    tap.restore();
    rmSync(project.root, { recursive: true, force: true });
  }
}

/**
 * Wraps child_process.fork (and its ESM binding) until restore(): the hosts the factories fork are recorded, each
 * send and each received message counted. `takeHosts` hands over the hosts forked since the last call.
 */
function tapFork() {
  const realFork = childProcess.fork;
  // Per direction: writes, and writes that carried a batch of more than one message.
  const counts = { writes: 0, msgs: 0, out: 0, outMulti: 0, in: 0, inMulti: 0 };
  let fresh = [];
  const hostProf = process.env.AF_BREAKDOWN_HOST_PROF;
  childProcess.fork = function fork(modulePath, args, options) {
    if (hostProf && options?.execArgv) options = { ...options, execArgv: [...options.execArgv, '--cpu-prof', `--cpu-prof-dir=${hostProf}`] };
    const child = realFork.call(this, modulePath, args, options);
    const send = child.send;
    child.send = function (message, ...rest) {
      const n = message?.t === 'batch' ? message.m.length : 1;
      counts.writes++;
      counts.msgs += n;
      counts.out++;
      if (n > 1) counts.outMulti++;
      return send.call(this, message, ...rest);
    };
    child.on('message', (message) => {
      const n = message?.t === 'batch' ? message.m.length : 1;
      counts.writes++;
      counts.msgs += n;
      counts.in++;
      if (n > 1) counts.inMulti++;
    });
    fresh.push(child);
    return child;
  };
  syncBuiltinESMExports();
  return {
    counts,
    takeHosts() {
      const hosts = fresh;
      fresh = [];
      return hosts;
    },
    restore() {
      childProcess.fork = realFork;
      syncBuiltinESMExports();
    },
  };
}

function procCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

function procIo(pid) {
  try {
    const out = {};
    for (const line of readFileSync(`/proc/${pid}/io`, 'utf8').split('\n')) {
      const [key, value] = line.split(': ');
      if (value !== undefined) out[key] = Number(value);
    }
    return out;
  } catch {
    return { rchar: Number.NaN, wchar: Number.NaN, syscr: Number.NaN, syscw: Number.NaN };
  }
}

function hostSnapshot(hosts) {
  let cpuMs = 0;
  let bytes = 0;
  let syscalls = 0;
  for (const child of hosts) {
    if (child.exitCode !== null || child.pid === undefined) continue;
    cpuMs += procCpuMs(child.pid);
    const io = procIo(child.pid);
    bytes += io.rchar + io.wchar;
    syscalls += io.syscr + io.syscw;
  }
  return { cpuMs, bytes, syscalls };
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** `concurrency` workers, each holding one agent and running it until the round ends. */
async function factoryRound(factory, hosts, tap, name, concurrency, seconds) {
  const agents = [];
  for (let i = 0; i < concurrency; i++) agents.push(await factory.createAgent(name));
  const h0 = hostSnapshot(hosts);
  const w0 = tap.counts.writes;
  const m0 = tap.counts.msgs;
  const d0 = { ...tap.counts };
  const c0 = cpuUs();
  let runs = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(
    agents.map(async (agent) => {
      while (performance.now() < stopAt) {
        await agent.run(INPUT);
        runs++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const callerUs = (cpuUs() - c0) / runs;
  const h1 = hostSnapshot(hosts);
  const writes = tap.counts.writes - w0;
  const msgs = tap.counts.msgs - m0;
  const share = (multi, all) => (100 * (tap.counts[multi] - d0[multi])) / Math.max(1, tap.counts[all] - d0[all]);
  for (const agent of agents) await agent.dispose();
  const hostUs = ((h1.cpuMs - h0.cpuMs) * 1000) / runs;
  return {
    runsPerSecond: runs / elapsed,
    callerUs,
    hostUs,
    totalUs: callerUs + hostUs,
    writesPerRun: writes / runs,
    msgsPerRun: msgs / runs,
    multiOutPct: share('outMulti', 'out'),
    multiInPct: share('inMulti', 'in'),
    bytesPerRun: (h1.bytes - h0.bytes) / runs,
    syscallsPerRun: (h1.syscalls - h0.syscalls) / runs,
  };
}

/** Raw isolated-vm as benchmarks/peers/isolated-vm.mjs uses it: a fresh context per run in one warm isolate, sync calls. */
async function openRawIvm() {
  const { loadIsolatedVm } = await import('../dist/sandbox/isolate-library.js');
  const ivm = loadIsolatedVm();
  const source = 'const __agent = (input) => input;\nglobalThis.__run = (json) => JSON.stringify(__agent(JSON.parse(json)));\n';
  let isolate;
  let script;
  let used = 0;
  // A new isolate every RAW_CONTEXTS_PER_ISOLATE contexts, as benchmarks/runtime.bench.mjs does: disposing an isolate
  // frees its released contexts at once, where collecting them one by one cost raw ~0.8 ms more CPU per run here.
  const renew = () => {
    script?.release();
    isolate?.dispose();
    isolate = new ivm.Isolate({ memoryLimit: 256 });
    script = isolate.compileScriptSync(source);
    used = 0;
  };
  renew();
  const json = JSON.stringify(INPUT);
  const once = () => {
    if (used === RAW_CONTEXTS_PER_ISOLATE) renew();
    used++;
    const context = isolate.createContextSync();
    script.runSync(context);
    const run = context.global.getSync('__run', { reference: true });
    const out = JSON.parse(run.applySync(undefined, [json]));
    run.release();
    context.release();
    return out;
  };
  return {
    async throughput(seconds) {
      const c0 = cpuUs();
      const started = performance.now();
      const stopAt = started + seconds * 1000;
      let runs = 0;
      while (performance.now() < stopAt) {
        once();
        runs++;
        // The factory's rounds yield to the event loop between runs; let this one breathe too (timers, GC).
        if (runs % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const elapsed = (performance.now() - started) / 1000;
      return { runsPerSecond: runs / elapsed, callerUs: (cpuUs() - c0) / runs };
    },
    close: () => {
      script.release();
      isolate.dispose();
    },
  };
}

/** CPU µs per operation of `fn` (sync or async) over `n` calls after `warmup`; the median of `rounds` tries. */
async function cpuPerOp(fn, { n, warmup = 50, rounds = 3 }) {
  for (let i = 0; i < warmup; i++) await fn(i);
  const values = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = cpuUs();
    for (let i = 0; i < n; i++) await fn(i);
    values.push((cpuUs() - c0) / n);
  }
  return median(values);
}

/** CPU µs per operation of each of `ops`, rounds interleaved; the median round of each. */
async function interleaved(ops, { n, rounds }) {
  const values = Object.fromEntries(Object.keys(ops).map((name) => [name, []]));
  for (const fn of Object.values(ops)) for (let i = 0; i < 20; i++) await fn(i);
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(ops)) {
      const c0 = cpuUs();
      for (let i = 0; i < n; i++) await fn(i);
      values[name].push((cpuUs() - c0) / n);
    }
  }
  return Object.fromEntries(Object.entries(values).map(([name, list]) => [name, median(list)]));
}

/** The pieces a host does per run, each in this process on its own, and the caller's JSON of the envelopes. */
async function microBenchmarks({ quick, factory }) {
  const n = quick ? 300 : 2000;
  const { PooledIsolate } = await import('../dist/sandbox/isolate-pool.js');
  const { prepareContext, releasePrepared, readReply } = await import('../dist/sandbox/context-bridge.js');
  const { preludeSettingsJson } = await import('../dist/sandbox/context-bridge.js');
  const { createTelemetry } = await import('../dist/runtime/telemetry/index.js');
  const { systemClock } = await import('../dist/core/clock.js');
  const spec = benchSpec();
  const settingsJson = preludeSettingsJson(spec);
  const services = { tool: async () => '', onDenial: () => {} };
  const out = {};
  // One isolate per operation (64 MB, as a host's trivial template gets), rounds interleaved: released contexts pile up
  // until V8 collects them and make the next creations dearer, so each operation must see the same history.
  const isolates = [];
  const isolate = () => {
    const iso = new PooledIsolate(64, () => {});
    isolates.push(iso);
    return iso;
  };
  try {
    const [a, b, c, d, e] = [isolate(), isolate(), isolate(), isolate(), isolate()];
    const bundle = await b.isolate.compileScript(spec.code);
    const prepared = await prepareContext(d, spec, settingsJson, 5000, services, systemClock);
    const inputJson = JSON.stringify(INPUT);
    const echo = await e.isolate.createContext();
    const echoFn = await echo.eval('(function (x) { return x; })', { reference: true });
    let token = 0;
    Object.assign(
      out,
      await interleaved(
        {
          'createContextSync + release (warm isolate)': () => a.isolate.createContextSync().release(),
          'fresh context + trivial bundle evaluated, no prelude (raw)': () => {
            const context = b.isolate.createContextSync();
            bundle.runSync(context);
            context.release();
          },
          'prepareContext: context + prelude + bridge install + bundle (host, per fresh run)': async () =>
            releasePrepared(await prepareContext(c, spec, settingsJson, 5000, services, systemClock)),
          'dispatch run in a ready context (async apply, promise result) + envelope copy + readReply (host)': async () => {
            const envelope = await prepared.dispatch.apply(undefined, ['run', ++token, inputJson], { timeout: 5000, result: { promise: true } });
            readReply(envelope, spec);
          },
          'isolated-vm apply (async: thread hop there and back) of (x) => x': () => echoFn.apply(undefined, [inputJson], { timeout: 5000 }),
          'isolated-vm applySync of (x) => x': () => echoFn.applySync(undefined, [inputJson], { timeout: 5000 }),
          'getHeapStatisticsSync + cpuTime (host, per run)': () => {
            d.isolate.getHeapStatisticsSync();
            return d.isolate.cpuTime;
          },
        },
        { n: Math.round(n / 4), rounds: quick ? 2 : 4 },
      ),
    );
    releasePrepared(prepared);
  } finally {
    for (const iso of isolates) iso.dispose();
  }
  // The envelopes as they cross the pipe (Node's 'json' serialization: JSON.stringify on send, JSON.parse per line).
  const runMessage = { t: 'run', id: 123456, digest: 'a'.repeat(64), input: JSON.stringify(INPUT), tenant: 'default', env: 'dev', depth: 0 };
  const resultMessage = {
    t: 'batch',
    m: [
      { t: 'result', id: 123456, result: { ok: true, outputJson: '{"name":"Ada"}', stats: { runMs: 0.41, cpuMs: 0.12, heapUsedAtEndBytes: 1234567, outputBytes: 14, tools: {}, denials: [], grantsUsed: [], logs: [], logsDropped: 0 } } },
      { t: 'capacity', ready: { ['a'.repeat(64)]: 3 } },
    ],
  };
  out[`JSON stringify + parse of a run message (${JSON.stringify(runMessage).length} B)`] = await cpuPerOp(() => JSON.parse(JSON.stringify(runMessage)), { n: n * 5 });
  out[`JSON stringify + parse of a result + capacity batch (${JSON.stringify(resultMessage).length} B)`] = await cpuPerOp(() => JSON.parse(JSON.stringify(resultMessage)), { n: n * 5 });
  const telemetry = createTelemetry();
  const report = { ok: true, runId: 'x', stats: { cpuMs: 0 } };
  out['telemetry.traceRun, no SDK registered (caller)'] = await cpuPerOp(() => telemetry.traceRun({ template: 't', version: '1', env: 'dev', tenant: 'default' }, async () => report), { n: n * 5 });
  telemetry.shutdown();
  // Record writing as the factory's default sink does it: the project's SQLite RunWriter, batched commits.
  const { openStore } = await import('../dist/store/index.js');
  const { newRunId } = await import('../dist/runtime/run-id.js');
  const dbDir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-breakdown-'));
  const store = openStore({ path: path.join(dbDir, 'runs.db') });
  try {
    const record = () => ({
      id: newRunId(),
      template: 'trivial',
      version: '1.0.0',
      digest: 'a'.repeat(64),
      env: 'dev',
      tenant: 'default',
      startedAt: Date.now(),
      createMs: 0,
      runMs: 0.41,
      cpuMs: 0.12,
      heapUsedAtEndBytes: 1234567,
      inputBytes: 14,
      outputBytes: 14,
      outcome: 'ok',
      tools: {},
      denials: [],
      grantsUsed: [],
      logsDropped: 0,
      depth: 0,
    });
    out['run record: build + RunWriter.write + batched SQLite commit (caller)'] = await cpuPerOp(
      async (i) => {
        store.runs.write(record());
        if (i % 256 === 255) await store.runs.flush();
      },
      { n: n * 2 },
    );
  } finally {
    await store.close();
    rmSync(dbDir, { recursive: true, force: true });
  }
  out['createAgent + dispose, warm (caller)'] = await cpuPerOp(async () => (await factory.createAgent('trivial')).dispose(), { n });
  return out;
}

function benchSpec() {
  const code = buildSync({ stdin: { contents: 'export default (input) => input;', loader: 'js' }, bundle: true, format: 'iife', globalName: '__afModule', platform: 'neutral', write: false, target: 'es2022' })
    .outputFiles[0].text;
  return {
    digest: 'bench-breakdown',
    name: 'trivial',
    version: '1.0.0',
    dir: process.cwd(),
    code,
    permissions: { read: [], write: [], net: [], env: [], kv: false, spawn: [], wasm: false },
    limits: { memoryMb: 64, timeoutMs: 30000, cpuMs: 30000, outputKb: 256, logKb: 64, kvKb: 1024, spawnDepth: 3, spawnFanOut: 16 },
    pool: { prewarm: 1, reuseContext: false },
    config: {},
  };
}

function fmt(value) {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}

await runStandalone(import.meta.url, bench);
