// limits.byInput in real isolates: a small input runs under the small limit its rule gives (and is killed there when it
// does a large input's work), a large input with the same work succeeds under its larger limit, the record keeps the
// limits each run ran under, and a host cannot raise them (the supervisor's own wall timer uses the effective one).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../core/run-record.js';
import { createFactory, type AgentFactory } from '../../runtime/index.js';
import { createMemoryKvStore, createSandbox } from '../../sandbox/index.js';
import { Supervisor } from '../../sandbox/supervisor.js';
import { FIXTURES, makeSpec } from '../sandbox/helpers.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

// ~5 ns an iteration: about 600 ms of CPU, far over 2 rows' 200 ms and far under 100 rows' 10 s. (A small input's
// limit also covers loading the module when no context was ready: its top-level code counts toward the run.)
const HEAVY = 1.2e8;
const LIGHT = 1e4;

const SPIN = `export default (input) => {
  let a = 0;
  for (let i = 0; i < input.spin; i++) a = (a * 31 + i) % 1000003;
  return { rows: input.rows.length, a };
};
`;
const WAIT = 'export default async (input) => { await new Promise((resolve) => setTimeout(resolve, input.waitMs)); return { rows: input.rows.length }; };\n';

const rows = (n: number) => Array.from({ length: n }, (_, i) => i);

let project: TempProject;
beforeAll(() => {
  project = createProject({
    ...simpleTemplate('spin', { limits: { cpuMs: 20000, timeoutMs: 30000, memoryMb: 64, byInput: { measure: '/rows', cpuMs: { base: 100, exponent: 1 } } } }, SPIN),
    ...simpleTemplate('spin-reuse', { pool: { reuseContext: true }, limits: { cpuMs: 20000, timeoutMs: 30000, memoryMb: 64, byInput: { measure: '/rows', cpuMs: { base: 100, exponent: 1 } } } }, SPIN),
    ...simpleTemplate('wait', { limits: { timeoutMs: 20000, byInput: { measure: '/rows', timeoutMs: { base: 50, exponent: 1 } } } }, WAIT),
    // Not loaded ahead, so its first run loads it on demand: ~300 ms of top-level code (and a fresh isolate's own load
    // cost, in its own memory class), far over the 30 ms its rule gives every input.
    ...simpleTemplate('tiny', { pool: { prewarm: 0 }, limits: { memoryMb: 40, cpuMs: 20000, byInput: { measure: '/rows', cpuMs: { base: 30, exponent: 0 } } } }, `let warm = 0;
for (let i = 0; i < 6e7; i++) warm = (warm * 31 + i) % 1000003;
${SPIN}`),
    ...simpleTemplate('flat', { limits: { cpuMs: 700, timeoutMs: 900, memoryMb: 32 } }),
    ...simpleTemplate('parent', { permissions: { spawn: ['spin'] } }, "export default async (input, ctx) => ctx.spawn('spin', input);\n"),
  });
});
afterAll(() => project.remove());

describe.each(['process', 'inline'] as const)('limits.byInput in %s isolation', (isolation) => {
  let factory: AgentFactory;
  const records: RunRecord[] = [];
  const recordOf = (runId: string) => records.find((record) => record.id === runId);

  beforeAll(async () => {
    const runSink = { write: (record: RunRecord) => void records.push(record), flush: async () => {}, close: async () => {} };
    factory = await createFactory({ root: project.root, isolation, hosts: 1, store: false, runSink });
  });
  afterAll(() => factory.close());

  it.each(['spin', 'spin-reuse'])('%s: small input, small CPU limit (killed doing a large input’s work); large input, larger limit', async (name) => {
    const light = await factory.runSettled(name, { rows: rows(2), spin: LIGHT });
    expect(light.ok ? light.output : light.error).toMatchObject({ rows: 2 });
    expect(recordOf(light.runId)?.limits).toEqual({ cpuMs: 200, timeoutMs: 30000, memoryMb: 64, measure: { name: '/rows', value: 2 } });

    const heavySmall = await factory.runSettled(name, { rows: rows(2), spin: HEAVY });
    expect(heavySmall.ok).toBe(false);
    if (heavySmall.ok) return;
    expect(heavySmall.error.code).toBe('E_CPU_LIMIT');
    expect(heavySmall.error.message).toBe(
      'run exceeded its effective limits.cpuMs (200 ms of CPU), set by limits.byInput.cpuMs for /rows = 2; raise limits.byInput.cpuMs (base, exponent or max) in agent.json or do less work per run',
    );
    expect(recordOf(heavySmall.runId)).toMatchObject({ errorCode: 'E_CPU_LIMIT', limits: { cpuMs: 200, measure: { name: '/rows', value: 2 } } });

    const heavyLarge = await factory.runSettled(name, { rows: rows(100), spin: HEAVY });
    expect(heavyLarge.ok ? heavyLarge.output : heavyLarge.error).toMatchObject({ rows: 100 });
    expect(recordOf(heavyLarge.runId)?.limits).toEqual({ cpuMs: 10000, timeoutMs: 30000, memoryMb: 64, measure: { name: '/rows', value: 100 } });
    // The same work the small input was killed for.
    expect(heavyLarge.stats.cpuMs).toBeGreaterThan(200);
  });

  it('a load on demand has the flat budget; the rule’s small limit holds the run’s own work', async () => {
    const first = await factory.runSettled('tiny', { rows: rows(2), spin: LIGHT });
    expect(first.ok ? first.output : first.error).toMatchObject({ rows: 2 });
    expect(recordOf(first.runId)?.limits).toMatchObject({ cpuMs: 30, measure: { name: '/rows', value: 2 } });
    const heavy = await factory.runSettled('tiny', { rows: rows(2), spin: HEAVY });
    expect(heavy.ok ? heavy.output : heavy.error).toMatchObject({ code: 'E_CPU_LIMIT', message: expect.stringContaining('run exceeded its effective limits.cpuMs (30 ms of CPU)') });
  });

  it('a timeoutMs rule: a small input times out at its own deadline, a large one waits longer', async () => {
    const small = await factory.runSettled('wait', { rows: rows(2), waitMs: 3000 });
    expect(small.ok).toBe(false);
    if (small.ok) return;
    expect(small.error.code).toBe('E_TIMEOUT');
    expect(small.error.message).toContain('run exceeded its effective limits.timeoutMs (100 ms), set by limits.byInput.timeoutMs for /rows = 2');
    expect(recordOf(small.runId)?.limits).toMatchObject({ timeoutMs: 100, measure: { name: '/rows', value: 2 } });

    const large = await factory.runSettled('wait', { rows: rows(100), waitMs: 300 });
    expect(large.ok).toBe(true);
    expect(recordOf(large.runId)?.limits).toMatchObject({ timeoutMs: 5000, measure: { name: '/rows', value: 100 } });
  });

  it('a spawned child run gets the limits of its own template for its own input', async () => {
    const report = await factory.runSettled('parent', { rows: rows(2), spin: HEAVY });
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.error.message).toContain('run exceeded its effective limits.cpuMs (200 ms of CPU)');
    const child = records.find((record) => record.parentId === report.runId);
    expect(child).toMatchObject({ template: 'spin', errorCode: 'E_CPU_LIMIT', limits: { cpuMs: 200, measure: { name: '/rows', value: 2 } } });
  });

  it('records the flat limits, without a measure, for a template without a rule (and for a run refused before the sandbox)', async () => {
    const report = await factory.runSettled('flat', { any: 'thing' });
    expect(recordOf(report.runId)?.limits).toEqual({ cpuMs: 700, timeoutMs: 900, memoryMb: 32 });
    const agent = await factory.createAgent('flat');
    await agent.dispose();
    const refused = await agent.runSettled({});
    expect(refused.ok).toBe(false);
    expect(recordOf(refused.runId)?.limits).toEqual({ cpuMs: 700, timeoutMs: 900, memoryMb: 32 });
  });
});

describe('a host cannot raise a run’s limits (process isolation)', () => {
  const spec = makeSpec({ name: 'ruled', source: 'export default () => 1;', limits: { cpuMs: 20000, timeoutMs: 20000, byInput: { measure: '/rows', cpuMs: { base: 10, exponent: 1 }, timeoutMs: { base: 100, exponent: 1 } } } });
  let sandbox: ReturnType<typeof createSandbox>;

  beforeAll(() => {
    Supervisor.testHostEntry = path.join(FIXTURES, 'limits-host.mjs');
    try {
      sandbox = createSandbox({ hosts: 1, services: { kv: createMemoryKvStore(), spawn: async () => undefined } });
    } finally {
      Supervisor.testHostEntry = undefined;
    }
  });
  afterAll(() => sandbox.close());

  it('sends the host the effective limits, and keeps its own figures whatever the host claims', async () => {
    const result = await sandbox.run(sandbox.reserve(spec), { rows: rows(3) }, { tenant: 't', env: 'dev' });
    const expected = { cpuMs: 30, timeoutMs: 300, memoryMb: spec.limits.memoryMb, measure: { name: '/rows', value: 3 } };
    expect(result.ok && result.output).toEqual({ sent: expected });
    expect(result.stats.limits).toEqual(expected);
  });

  it('stops a host that ignores the run’s effective timeout at that timeout plus the hung-host grace, not at the flat one', async () => {
    const result = await sandbox.run(sandbox.reserve(spec), { rows: rows(2), silent: true }, { tenant: 't', env: 'dev' });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatchObject({ code: 'E_SANDBOX_CRASHED', message: 'the sandbox host stopped answering and was restarted' });
    expect(result.stats.limits).toMatchObject({ timeoutMs: 200 });
  }, 15_000);
});
