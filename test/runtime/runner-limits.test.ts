// A queued run (PostgreSQL run queue, taken by a runner) gets its limits.byInput limits like a local one: the runner
// runs it through the same createAgent and run, so the rule is evaluated on the runner's calling side for its input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFactory } from '../../runtime/index.js';
import { Dispatcher } from '../../runtime/dispatcher.js';
import { dispatchBackendOf, runnerBackendOf } from '../../runtime/fleet.js';
import { QueuedRecordSink, Runner } from '../../runtime/runner.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const SPIN = `export default (input) => {
  let a = 0;
  for (let i = 0; i < input.spin; i++) a = (a * 31 + i) % 1000003;
  return { rows: input.rows.length };
};
`;
// About 600 ms of CPU: over 2 rows' 200 ms, under 100 rows' 10 s.
const HEAVY = 1.2e8;
const rows = (n: number) => Array.from({ length: n }, (_, i) => i);

let database: TestDatabase;
let project: TempProject;
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  project = createProject(simpleTemplate('sized', { limits: { cpuMs: 20000, timeoutMs: 30000, byInput: { measure: '/rows', cpuMs: { base: 100, exponent: 1 } } } }, SPIN));
});
afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  project.remove();
  await database.drop();
});

describe('limits.byInput on the run queue', () => {
  it('a queued small input is killed at its small limit, a queued large one with the same work succeeds', async () => {
    const store = await PostgresStore.open({ url: database.url, queue: { leaseMs: 5_000 } });
    opened.push(store);
    const records = new QueuedRecordSink(store.runs);
    const factory = await createFactory({ root: project.root, store, runSink: records, isolation: 'inline', hosts: 1 });
    opened.push(factory);
    const runner = new Runner({ factory, records, backend: runnerBackendOf(store), concurrency: 1, pollMs: 200 });
    await runner.start();
    opened.push({ close: () => runner.stop(5_000) });
    const caller = await PostgresStore.open({ url: database.url });
    opened.push(caller);
    const dispatcher = new Dispatcher(dispatchBackendOf(caller));

    const small = await dispatcher.run('sized', { rows: rows(2), spin: HEAVY }, { tenant: 'acme', waitMs: 30_000 });
    expect(small.ok).toBe(false);
    expect(!small.ok && small.error).toMatchObject({
      code: 'E_CPU_LIMIT',
      message: expect.stringContaining('run exceeded its effective limits.cpuMs (200 ms of CPU), set by limits.byInput.cpuMs for /rows = 2'),
    });
    const large = await dispatcher.run('sized', { rows: rows(100), spin: HEAVY }, { tenant: 'acme', waitMs: 30_000 });
    expect(large.ok && large.output).toEqual({ rows: 100 });
  }, 60_000);
});
