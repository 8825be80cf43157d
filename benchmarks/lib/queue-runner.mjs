// One runner process for benchmarks/queue.bench.mjs: opens the PostgreSQL store, makes a factory and runs a Runner
// until told to stop. Started with fork() (an IPC channel): the options come as JSON in argv[2]; it sends
// { type: 'ready' } once claiming, answers { type: 'stats' } with its runner's stats, and on { type: 'stop' } stops,
// sends its final stats (and, with `probe`, its timings) and exits.
//
// `probe`: a run whose input carries `t0` (performance.timeOrigin + performance.now() just before its enqueue, in the
// dispatching process) is timed here from t0 to the Runner's onStart, and split into: t0 → this runner's queued
// notification, notification → claim statement sent, the claim statement, and (after the agent) the completion
// (the group of runs it was completed with). The adapter object handed to the Runner is wrapped; the runner, queue and store code are unchanged.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const options = JSON.parse(process.argv[2]);
const dist = pathToFileURL(path.resolve(options.dist ?? path.join(import.meta.dirname, '..', '..', 'dist')) + '/');
const { createFactory } = await import(new URL('index.js', dist));
const { PostgresStore } = await import(new URL('store/postgres/postgres-store.js', dist));
const { QueuedRecordSink, Runner } = await import(new URL('runtime/runner.js', dist));
const { runnerBackendOf } = await import(new URL('runtime/fleet.js', dist));

const store = await PostgresStore.open({ url: options.url, queue: { leaseMs: options.leaseMs ?? 5_000 } });
const records = new QueuedRecordSink(store.runs);
const factory = await createFactory({
  root: options.root,
  store,
  runSink: records,
  isolation: options.isolation,
  ...(options.hosts !== undefined ? { hosts: options.hosts } : {}),
  watch: false,
  prewarm: options.prewarm ?? [],
});

const now = () => performance.timeOrigin + performance.now();
const probe = { dispatch: [], delivery: [], toClaim: [], claim: [], complete: [], agent: [], notified: 0 };
const wakes = [];
const claimed = new Map();
const startedAt = new Map();
let backend = runnerBackendOf(store);
if (options.probe) {
  const base = backend;
  backend = {
    ...base,
    onQueued: (wake) => base.onQueued(() => {
      wakes.push(now());
      wake();
    }),
    claim: async (owner, limit) => {
      const start = now();
      const runs = await base.claim(owner, limit);
      const end = now();
      if (runs.length > 0) probe.claim.push(end - start);
      for (const run of runs) claimed.set(run.id, start);
      return runs;
    },
    completeMany: async (group) => {
      const start = now();
      for (const { claim } of group) {
        const begun = startedAt.get(claim.id);
        if (begun !== undefined) probe.agent.push(start - begun);
        startedAt.delete(claim.id);
      }
      const outcomes = await base.completeMany(group);
      probe.complete.push(now() - start);
      return outcomes;
    },
  };
}
const onStart = (claim) => {
  const at = now();
  startedAt.set(claim.id, at);
  const t0 = claim.request?.input?.t0;
  const claimStart = claimed.get(claim.id);
  claimed.delete(claim.id);
  if (typeof t0 !== 'number') return;
  probe.dispatch.push(at - t0);
  // The wake-up that led to this claim: the first notification after the enqueue began, if it came before the claim.
  const wake = wakes.find((time) => time >= t0);
  if (wake !== undefined && claimStart !== undefined && wake <= claimStart) {
    probe.notified++;
    probe.delivery.push(wake - t0);
    probe.toClaim.push(claimStart - wake);
  }
  // Forget wake-ups older than any run still to come (enqueues are timed in order, within a second or so).
  while (wakes.length > 0 && wakes[0] < t0 - 5_000) wakes.shift();
};
const runner = new Runner({
  factory,
  records,
  backend,
  concurrency: options.concurrency,
  ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
  ...(options.probe ? { onStart } : {}),
});
await runner.start();
process.send({ type: 'ready', pid: process.pid });

process.on('message', async (message) => {
  if (message.type === 'stats') process.send({ type: 'stats', stats: runner.stats });
  if (message.type === 'stop') {
    await runner.stop(5_000);
    const stats = runner.stats;
    await factory.close();
    await store.close();
    process.send({ type: 'stopped', stats: { ...stats, ...(options.probe ? { probe } : {}) } }, () => process.exit(0));
  }
});
