// Runs spawned inside a queued run, on a real PostgreSQL store and a real runner: their kv writes go through the
// queued run's own kv, so they are applied with its completion, exactly once, and vanish with an attempt that does
// not complete; each in its own template's namespace, under its own template's permissions.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFactory } from '../../runtime/index.js';
import { Dispatcher } from '../../runtime/dispatcher.js';
import { dispatchBackendOf, runnerBackendOf } from '../../runtime/fleet.js';
import type { QueuedRunResult } from '../../runtime/queued-run.js';
import { QueuedRecordSink, Runner, type RunnerBackend } from '../../runtime/runner.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

// The parent counts in its own namespace, then has a child count in the child's.
const PARENT = `export default async (input, ctx) => {
  await ctx.kv.set('p', ((await ctx.kv.get('p')) ?? 0) + 1);
  try {
    return { child: await ctx.spawn(input.child, {}) };
  } catch (error) {
    return { code: error.code };
  }
};
`;
const CHILD = `export default async (input, ctx) => {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return { n };
};
`;

const TENANT = 'acme';
const PARENT_NS = { template: 'parent', tenant: TENANT };
const CHILD_NS = { template: 'child', tenant: TENANT };

let database: TestDatabase;
let project: TempProject;
const opened: Array<{ close(): Promise<void> }> = [];

beforeEach(async () => {
  database = await createTestDatabase();
  project = createProject({
    ...simpleTemplate('parent', { permissions: { kv: true, spawn: ['child', 'no-kv'] } }, PARENT),
    ...simpleTemplate('child', { permissions: { kv: true } }, CHILD),
    ...simpleTemplate('no-kv', {}, CHILD),
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

/** A runner whose completions pass through `wrap` (which stands for what happens between a run's end and its commit). */
async function startRunner(store: PostgresStore, wrap: (real: RunnerBackend) => RunnerBackend['completeMany']): Promise<Runner> {
  const records = new QueuedRecordSink(store.runs);
  const factory = await createFactory({ root: project.root, store, runSink: records, isolation: 'inline', hosts: 1 });
  opened.push(factory);
  const real = runnerBackendOf(store);
  const runner = new Runner({ factory, records, backend: { ...real, leaseMs: real.leaseMs, completeMany: wrap(real) }, concurrency: 2, pollMs: 200, reapEveryMs: 250 });
  await runner.start();
  opened.push({ close: () => runner.stop(5_000) });
  return runner;
}

async function dispatch(caller: PostgresStore, child: string): Promise<Extract<QueuedRunResult, { ok: true }>> {
  const result = await new Dispatcher(dispatchBackendOf(caller)).run('parent', { child }, { tenant: TENANT, waitMs: 30_000 });
  expect(result).toMatchObject({ ok: true });
  return result as Extract<QueuedRunResult, { ok: true }>;
}

describe('runs spawned inside a queued run', () => {
  it('write kv only when the queued run completes: an attempt whose runner died first leaves nothing, the next one counts once', async () => {
    const store = await openStore();
    const seenBeforeCommit: Array<string | undefined> = [];
    let deadFence: number | undefined;
    const runner = await startRunner(store, (real) => async (group) => {
      // The first attempt ran to its end, its child too; then its runner "died" before the completion committed:
      // none of that attempt's completions (the runner retries them within the lease) ever reach the database.
      deadFence ??= group[0]?.claim.fence;
      if (group.some((item) => item.claim.fence === deadFence)) {
        if (seenBeforeCommit.length === 0) seenBeforeCommit.push(await store.kv.get(CHILD_NS, 'n'));
        throw new Error('the runner died before its completion committed');
      }
      seenBeforeCommit.push(await store.kv.get(CHILD_NS, 'n'));
      return real.completeMany(group);
    });
    const result = await dispatch(await openStore(), 'child');
    expect(result.output).toEqual({ child: { n: 1 } });
    // Twice the agent code ran (the parent and its child), yet both counters moved once.
    expect(seenBeforeCommit).toEqual([undefined, undefined]);
    expect(runner.stats).toMatchObject({ claimed: 2, failedCompletions: 1 });
    expect(await store.kv.get(CHILD_NS, 'n')).toBe('1');
    expect(await store.kv.get(PARENT_NS, 'p')).toBe('1');
    // Each template wrote its own namespace only, through the parent's run kv.
    expect(await store.kv.list(PARENT_NS, {})).toEqual(['p']);
    expect(await store.kv.list(CHILD_NS, {})).toEqual(['n']);
    // The queued run has one record. Each attempt's child was a run of its own, which did run (its effects outside kv,
    // a fetch say, did happen): both are recorded, each under its own id, both naming the one parent.
    await store.runs.flush();
    expect((await store.queries.get(result.runId))?.template).toBe('parent');
    const children = await store.queries.children(result.runId);
    expect(children.map((child) => child.template)).toEqual(['child', 'child']);
    expect(new Set(children.map((child) => child.id)).size).toBe(2);
  });

  it('run again when a key the child read changed before the completion, and count once on top of that change', async () => {
    const store = await openStore();
    let completions = 0;
    const runner = await startRunner(store, (real) => async (group) => {
      // Someone else counts 100 between the first attempt's end and its completion.
      if (++completions === 1) await store.kv.set(CHILD_NS, 'n', String(Number((await store.kv.get(CHILD_NS, 'n')) ?? 0) + 100), 1 << 20);
      return real.completeMany(group);
    });
    const result = await dispatch(await openStore(), 'child');
    expect(result.output).toEqual({ child: { n: 101 } });
    expect(runner.stats).toMatchObject({ claimed: 2, conflicts: 1 });
    expect(await store.kv.get(CHILD_NS, 'n')).toBe('101');
    expect(await store.kv.get(PARENT_NS, 'p')).toBe('1');
  });

  it("keep the child's own permissions: a child without kv is refused even though its parent has kv", async () => {
    const store = await openStore();
    await startRunner(store, (real) => (group) => real.completeMany(group));
    const result = await dispatch(await openStore(), 'no-kv');
    expect(result.output).toEqual({ code: 'E_PERMISSION_DENIED' });
    expect(await store.kv.list({ template: 'no-kv', tenant: TENANT }, {})).toEqual([]);
    expect(await store.kv.get(PARENT_NS, 'p')).toBe('1');
  });
});
