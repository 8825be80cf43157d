// Per-run options a runner relies on: the id a queued run was given, and a kv of the run's own that holds its writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentFactory, createFactory, createMemoryRunSink, type MemoryRunSink } from '../../runtime/index.js';
import { newRunId } from '../../runtime/run-id.js';
import { createMemoryKvStore } from '../../sandbox/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const COUNTER = `export default async (input, ctx) => {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return n;
};
`;

describe.each(['process', 'inline'] as const)('run options (%s isolation)', (isolation) => {
  let project: TempProject;
  let factory: AgentFactory;
  let sink: MemoryRunSink;
  const factoryKv = createMemoryKvStore();

  beforeAll(async () => {
    project = createProject({ ...simpleTemplate('counter', { permissions: { kv: true } }, COUNTER) });
    sink = createMemoryRunSink();
    factory = await createFactory({ root: project.root, hosts: 1, isolation, runSink: sink, kv: factoryKv, store: false });
  });

  afterAll(async () => {
    await factory.close();
    project.remove();
  });

  it('serves ctx.kv from the kv given for the run, leaving the factory’s kv untouched', async () => {
    const own = createMemoryKvStore();
    const agent = await factory.createAgent('counter', { tenant: 'acme' });
    try {
      expect((await agent.run(null, { kv: own })).output).toBe(1);
      expect((await agent.run(null, { kv: own })).output).toBe(2);
      expect(await own.get({ template: 'counter', tenant: 'acme' }, 'n')).toBe('2');
      expect(await factoryKv.get({ template: 'counter', tenant: 'acme' }, 'n')).toBeUndefined();
      // Without one, the factory's kv serves it.
      expect((await agent.run(null)).output).toBe(1);
      expect(await factoryKv.get({ template: 'counter', tenant: 'acme' }, 'n')).toBe('1');
    } finally {
      await agent.dispose();
    }
  });

  it('records the run under the id it was given, and refuses one that is not a run id with E_USAGE', async () => {
    const id = newRunId();
    const agent = await factory.createAgent('counter', { tenant: 'acme' });
    try {
      const result = await agent.run(null, { runId: id, kv: createMemoryKvStore() });
      expect(result.runId).toBe(id);
      await sink.flush();
      expect(sink.records().filter((record) => record.id === id)).toHaveLength(1);
      await expect(agent.run(null, { runId: "x'; DROP TABLE runs; --" })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('is not a run id') });
    } finally {
      await agent.dispose();
    }
  });
});
