// Runners and a dispatcher on a real PostgreSQL store: runs queued on one node are run by runners on others, each
// recorded once, with kv writes applied once even when runs contend for one key.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { Dispatcher } from '../../runtime/dispatcher.js';
import { dispatchBackendOf, runnerBackendOf } from '../../runtime/fleet.js';
import type { QueuedRunResult } from '../../runtime/queued-run.js';
import { newRunId } from '../../runtime/run-id.js';
import { QueuedRecordSink, Runner } from '../../runtime/runner.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const COUNTER = `export default async (input, ctx) => {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return { n, echo: input };
};
`;

interface RunnerNode {
  store: PostgresStore;
  factory: AgentFactory;
  runner: Runner;
}

let database: TestDatabase;
let project: TempProject;
const opened: Array<{ close(): Promise<void> }> = [];

beforeEach(async () => {
  database = await createTestDatabase();
  project = createProject({
    ...simpleTemplate('counter', { permissions: { kv: true } }, COUNTER),
    ...simpleTemplate('thrower', {}, "export default () => { throw new Error('no'); };\n"),
  });
});

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  project.remove();
  await database.drop();
});

async function openStore(): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url: database.url, queue: { leaseMs: 2_000 } });
  opened.push(store);
  return store;
}

async function startRunner(concurrency: number, env?: string): Promise<RunnerNode> {
  const store = await openStore();
  const records = new QueuedRecordSink(store.runs);
  const factory = await createFactory({ root: project.root, store, runSink: records, isolation: 'inline', hosts: 1, ...(env ? { env } : {}) });
  opened.push(factory);
  const runner = new Runner({ factory, records, backend: runnerBackendOf(store), concurrency, pollMs: 200 });
  await runner.start();
  opened.push({ close: () => runner.stop(5_000) });
  return { store, factory, runner };
}

describe('runners and a dispatcher sharing a PostgreSQL store', () => {
  it('runs every queued run once: one record each, kv writes applied once despite contention, results to the caller', async () => {
    const nodes = [await startRunner(3), await startRunner(3)];
    const caller = await openStore();
    const dispatcher = new Dispatcher(dispatchBackendOf(caller));
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => dispatcher.run('counter', { i }, { tenant: 'acme', waitMs: 30_000 })));
    expect(results.every((result) => result.ok)).toBe(true);
    const ns = results.map((result) => (result as Extract<QueuedRunResult, { ok: true }>).output as { n: number; echo: { i: number } });
    expect(results.every((result) => 'signed' in result && result.signed === false && result.source === 'on-disk')).toBe(true);
    // Every increment is applied once: the counter values handed out are 1..60, each once.
    expect(ns.map((output) => output.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(ns.map((output) => output.echo.i)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await caller.kv.get({ template: 'counter', tenant: 'acme' }, 'n')).toBe('60');
    // One record per run, under the id the caller was given.
    const ids = results.map((result) => result.runId);
    for (const id of ids) expect((await caller.queries.get(id))?.template).toBe('counter');
    expect(await caller.queries.count()).toBe(60);
    expect(await caller.queue.depth()).toEqual({ queued: 0, running: 0 });
    const stats = nodes.map((node) => node.runner.stats);
    expect(stats.reduce((sum, s) => sum + s.completed, 0)).toBe(60);
    // Both runners took part.
    expect(stats.every((s) => s.completed > 0)).toBe(true);
  });

  it('reports a failed run and a template it cannot run as outcomes, each to its caller', async () => {
    await startRunner(2);
    const caller = await openStore();
    const dispatcher = new Dispatcher(dispatchBackendOf(caller));
    const thrown = await dispatcher.run('thrower', null, { tenant: 'acme' });
    expect(thrown).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW' } });
    expect((await caller.queries.get(thrown.runId))?.outcome).toBe('error');
    const missing = await dispatcher.run('no-such-template', null, { tenant: 'acme' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'E_TEMPLATE_NOT_FOUND' } });
  });

  it('decides for itself what a queued row may run: another environment and a path for a name are refused unrun', async () => {
    // A staging runner: a row asking for dev (where unsigned code runs) must not get it.
    await startRunner(2, 'staging');
    const caller = await openStore();
    await caller.results.start();
    // Rows as whoever can write the database could queue them, bypassing the API's checks.
    const hostile = [
      { id: newRunId(), tenant: 'acme', template: 'counter', request: { input: null, env: 'dev' } },
      { id: newRunId(), tenant: 'acme', template: '../../../etc/passwd', request: { input: null } },
    ];
    const waits = hostile.map((run) => caller.results.wait(run.id, 20_000));
    for (const run of hostile) await caller.queue.enqueue(run);
    const results = (await Promise.all(waits)) as QueuedRunResult[];
    expect(results.map((result) => ('notRun' in result ? result.error.code : 'ran'))).toEqual(['E_FORBIDDEN', 'E_TEMPLATE_NOT_FOUND']);
    expect((results[0] as { error: { message: string } }).error.message).toContain('runs environment staging, not dev');
    // Nothing ran: no record, no kv write.
    expect(await caller.queries.count()).toBe(0);
    expect(await caller.kv.get({ template: 'counter', tenant: 'acme' }, 'n')).toBeUndefined();
  });

  it('refuses a row whose id is not a run id, unrun (a record is written only under an id the runtime made)', async () => {
    await startRunner(1);
    const caller = await openStore();
    await caller.results.start();
    const id = "x'); DROP TABLE runs; --";
    const waiting = caller.results.wait(id, 20_000);
    await caller.queue.enqueue({ id, tenant: 'acme', template: 'counter', request: { input: null } });
    expect(await waiting).toMatchObject({ ok: false, notRun: true, error: { code: 'E_USAGE', message: expect.stringContaining('is not a run id') } });
    expect(await caller.queries.count()).toBe(0);
    expect(await caller.kv.get({ template: 'counter', tenant: 'acme' }, 'n')).toBeUndefined();
  });

  it('completes one by one the runs of a group the database aborted as a deadlock, instead of leaving them to their leases', async () => {
    const store = await openStore();
    const records = new QueuedRecordSink(store.runs);
    const factory = await createFactory({ root: project.root, store, runSink: records, isolation: 'inline', hosts: 1 });
    opened.push(factory);
    const real = runnerBackendOf(store);
    let aborted = 0;
    // PostgreSQL aborts one of two transactions that lock rows in opposite orders; when that happens is a matter of
    // timing, so the abort is made here, for every group of more than one run, exactly as the driver reports it.
    const backend = {
      ...real,
      leaseMs: real.leaseMs,
      completeMany: async (group: Parameters<typeof real.completeMany>[0]) => {
        if (group.length > 1) {
          aborted++;
          throw new FactoryError('E_STORE', 'the PostgreSQL store failed: deadlock detected', { details: { sqlState: '40P01' } });
        }
        return real.completeMany(group);
      },
    };
    const runner = new Runner({ factory, records, backend, concurrency: 4, pollMs: 200 });
    await runner.start();
    opened.push({ close: () => runner.stop(5_000) });
    const dispatcher = new Dispatcher(dispatchBackendOf(await openStore()));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => dispatcher.run('counter', { i }, { tenant: 'acme', waitMs: 20_000 })));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(runner.stats).toMatchObject({ completed: 12, failedCompletions: 0 });
    expect(aborted).toBeGreaterThan(0);
    expect(await store.queries.count()).toBe(12);
  });

  it('tries a completion the database failed again within the lease, so the run completes without running twice', async () => {
    const store = await openStore();
    const records = new QueuedRecordSink(store.runs);
    const factory = await createFactory({ root: project.root, store, runSink: records, isolation: 'inline', hosts: 1 });
    opened.push(factory);
    const real = runnerBackendOf(store);
    let failed = 0;
    // The database went away twice while the run's completion was on its way (a restart): the driver's answer.
    const backend = {
      ...real,
      leaseMs: real.leaseMs,
      completeMany: async (group: Parameters<typeof real.completeMany>[0]) => {
        if (failed < 2) {
          failed++;
          return group.map(() => new FactoryError('E_STORE', 'the PostgreSQL store failed: Connection terminated unexpectedly'));
        }
        return real.completeMany(group);
      },
    };
    const runner = new Runner({ factory, records, backend, concurrency: 1, pollMs: 200 });
    await runner.start();
    opened.push({ close: () => runner.stop(5_000) });
    const result = await new Dispatcher(dispatchBackendOf(await openStore())).run('counter', null, { tenant: 'acme', waitMs: 20_000 });
    expect(result).toMatchObject({ ok: true, output: { n: 1 } });
    expect(failed).toBe(2);
    expect(runner.stats).toMatchObject({ claimed: 1, completed: 1, failedCompletions: 0 });
    expect(await store.queries.count()).toBe(1);
  });

  it('a factory made with dispatch runs through the queue: run, runSettled and the errors a local run would give', async () => {
    const { store: runnerStore, runner } = await startRunner(2);
    const factory = await createFactory({ root: project.root, store: database.url, dispatch: { waitMs: 20_000 }, watch: false });
    opened.push(factory);
    const ran = await factory.run('counter', { hello: 1 }, { tenant: 'acme' });
    expect(ran).toMatchObject({ output: { n: 1, echo: { hello: 1 } }, version: '1.0.0' });
    // It ran on the runner: its record is there under the id the caller got back.
    expect((await runnerStore.queries.get(ran.runId))?.tenant).toBe('acme');
    const failed = await factory.runSettled('thrower', null);
    expect(failed).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW' } });
    await expect(factory.run('thrower', null)).rejects.toMatchObject({ code: 'E_AGENT_THREW', details: { runId: expect.any(String) } });
    await expect(factory.run('nope', null)).rejects.toMatchObject({ code: 'E_TEMPLATE_NOT_FOUND' });
    await expect(factory.run('counter', null, { tenant: '../x' })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(factory.run('counter', null, { runId: 'x' })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('a dispatched run takes tenant, env and version') });
    // The runner took each of the four that were queued (the refused ones never were). The caller hears of a result at
    // the completion's commit, which can come before the runner counts it.
    await vi.waitFor(() => expect(runner.stats).toMatchObject({ claimed: 4, completed: 4 }), { timeout: 5000 });
  });

  it('refuses dispatch without a PostgreSQL store', async () => {
    await expect(createFactory({ root: project.root, store: false, dispatch: true })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('needs a PostgreSQL store') });
  });

  it('answers E_TIMEOUT to a caller when no runner takes the run, and the run stays queued for one', async () => {
    const caller = await openStore();
    const dispatcher = new Dispatcher(dispatchBackendOf(caller));
    await expect(dispatcher.run('counter', null, { tenant: 'acme', waitMs: 300 })).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    expect(await caller.queue.depth()).toEqual({ queued: 1, running: 0 });
    await startRunner(1);
    const drained = async () => {
      const depth = await caller.queue.depth();
      return depth.queued + depth.running === 0;
    };
    for (let i = 0; i < 200 && !(await drained()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await caller.queue.depth()).toEqual({ queued: 0, running: 0 });
    expect(await caller.queries.count()).toBe(1);
  });
});
