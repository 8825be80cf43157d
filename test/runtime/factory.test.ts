// The runtime end to end: real templates, real sandbox host processes, run records, spawn with the child's own permissions.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import { type AgentFactory, createFactory, createMemoryRunSink, type MemoryRunSink } from '../../runtime/index.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
let factory: AgentFactory;
let sink: MemoryRunSink;

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('greet', {
      permissions: { kv: true },
      input: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: false },
      output: { type: 'object', required: ['greeting'], properties: { greeting: { type: 'string' } } },
    }, `export default async function (input, ctx) {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  ctx.log.info('greeted', { n });
  return { greeting: 'Hello, ' + input.name, n };
}
`),
    ...simpleTemplate('liar', { output: { type: 'object', required: ['count'], properties: { count: { type: 'integer' } } } }, "export default () => ({ count: 'three' });\n"),
    ...simpleTemplate('parent', { permissions: { spawn: ['reader', 'kv-less', 'versioned'] } }, `export default async function (input, ctx) {
  if (input.target === 'forbidden') return ctx.spawn('greet', { name: 'x' });
  return ctx.spawn(input.target, input.payload);
}
`),
    ...simpleTemplate('reader', { permissions: { read: ['./data'] } }, "export default (input, ctx) => ctx.readTextFile('data/note.txt');\n"),
    ...simpleTemplate('cache-reader', { permissions: { read: ['./data', './cache'] } }, `export default async (input, ctx) => {
  try { return await ctx.readTextFile('cache/state.json'); } catch (error) { return 'cache miss: ' + error.name; }
};
`),
    'agents/reader/data/note.txt': 'the child may read this',
    ...simpleTemplate('kv-less', {}, "export default async (input, ctx) => { try { await ctx.kv.get('n'); return 'kv leaked'; } catch (error) { return error.code === 'E_PERMISSION_DENIED' ? 'no kv here' : 'kv leaked'; } };\n"),
    ...simpleTemplate('versioned', { environments: { staging: { limits: { timeoutMs: 321 } } } }, 'export default (input, ctx) => ctx.config;\n'),
    ...simpleTemplate('sleeper', { limits: { timeoutMs: 5000 } }, 'export default () => new Promise(() => {});\n'),
  });
  sink = createMemoryRunSink();
  // staging may run unsigned templates here, so overlays can be tested without keys; prod may not.
  factory = await createFactory({ root: project.root, hosts: 1, runSink: sink, prewarm: ['greet'], devEnvironments: ['dev', 'staging'] });
});

afterAll(async () => {
  await factory.close();
  project.remove();
});

describe('createAgent and run', () => {
  it('runs an agent, keeps kv per tenant, and records the run', async () => {
    const agent = await factory.createAgent('greet', { tenant: 'acme' });
    expect([agent.name, agent.version, agent.env, agent.tenant]).toEqual(['greet', '1.0.0', 'dev', 'acme']);
    const first = await agent.run({ name: 'Ada' });
    const second = await agent.run({ name: 'Bob' });
    await agent.dispose();
    expect(first.output).toEqual({ greeting: 'Hello, Ada', n: 1 });
    expect(second.output).toEqual({ greeting: 'Hello, Bob', n: 2 });
    expect((await factory.run('greet', { name: 'Cy' }, { tenant: 'globex' })).output).toEqual({ greeting: 'Hello, Cy', n: 1 });

    expect(first.stats.createMs).toBeGreaterThan(0);
    expect(second.stats.createMs).toBe(0);
    expect(first.stats.tools).toEqual({ kv: 2, log: 1 });
    expect(first.stats.logs).toEqual([{ level: 'info', message: 'greeted', fields: { n: 1 } }]);

    const record = sink.records().find((r) => r.id === first.runId);
    expect(record).toMatchObject({
      template: 'greet',
      version: '1.0.0',
      digest: agent.digest,
      env: 'dev',
      tenant: 'acme',
      outcome: 'ok',
      depth: 0,
      tools: { kv: 2, log: 1 },
      inputShape: { depth: 1, maxArrayLength: 0, maxStringLength: 3, topLevelKeys: 1 },
    });
    expect(record?.runMs).toBeGreaterThan(0);
    expect(record?.outputBytes).toBe(JSON.stringify(first.output).length);
  });

  it('rejects input that fails the schema with every problem, and the agent stays usable', async () => {
    const agent = await factory.createAgent('greet');
    const report = await agent.runSettled({ name: 7, extra: true });
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.error.code).toBe('E_INPUT_INVALID');
    expect(report.error.problems).toEqual([
      { pointer: '', message: 'must NOT have additional properties "extra"' },
      { pointer: '/name', message: 'must be string' },
    ]);
    expect(sink.records().find((r) => r.id === report.runId)).toMatchObject({ outcome: 'error', errorCode: 'E_INPUT_INVALID' });
    expect((await agent.run({ name: 'ok' })).output).toMatchObject({ greeting: 'Hello, ok' });
    await agent.dispose();
  });

  it('rejects output that fails the schema', async () => {
    const error = await factory.run('liar', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FactoryError);
    expect(error).toMatchObject({ code: 'E_OUTPUT_INVALID', message: 'output of "liar" does not match its output schema: /count must be integer' });
    expect((error as FactoryError).details.stats).toBeDefined();
  });

  it('applies the environment overlay and refuses a version it does not have', async () => {
    const staging = await factory.createAgent('versioned', { env: 'staging' });
    expect(staging.env).toBe('staging');
    await staging.dispose();
    expect(factory.registry.peek('versioned', { env: 'staging' })?.manifest.limits.timeoutMs).toBe(321);
    await expect(factory.createAgent('versioned', { env: 'prod' })).rejects.toMatchObject({ code: 'E_SIGNATURE_MISSING' });
    await expect(factory.createAgent('versioned', { version: '9.9.9' })).rejects.toMatchObject({ code: 'E_TEMPLATE_NOT_FOUND' });
    await expect(factory.createAgent('missing')).rejects.toMatchObject({ code: 'E_TEMPLATE_NOT_FOUND' });
    await expect(factory.createAgent('greet', { tenant: '../etc' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('ends runs of a disposed agent with E_DISPOSED', async () => {
    const agent = await factory.createAgent('greet');
    await agent.dispose();
    expect(agent.isDisposed).toBe(true);
    await expect(agent.run({ name: 'late' })).rejects.toMatchObject({ code: 'E_DISPOSED' });
  });

  it('cancels a run through its AbortSignal', async () => {
    const controller = new AbortController();
    const agent = await factory.createAgent('sleeper');
    const pending = agent.runSettled({}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const report = await pending;
    await agent.dispose();
    expect(report.ok).toBe(false);
    if (!report.ok) expect(report.error.code).toBe('E_DISPOSED');
  });
});

describe('spawn', () => {
  it('runs the child with its own permissions, never the parent’s', async () => {
    expect((await factory.run('parent', { target: 'reader' })).output).toBe('the child may read this');
    expect((await factory.run('parent', { target: 'kv-less' })).output).toBe('no kv here');
    const spawned = sink.records().filter((r) => r.template === 'reader');
    expect(spawned.at(-1)).toMatchObject({ depth: 1, outcome: 'ok', tools: { readTextFile: 1 } });
  });

  it('records which grants each run used, and only those', async () => {
    await factory.run('parent', { target: 'reader' });
    const [child, parent] = sink.records().slice(-2);
    // The parent may spawn three templates and used one; the child used its read grant.
    expect(parent).toMatchObject({ template: 'parent', grantsUsed: ['spawn:reader'] });
    expect(child).toMatchObject({ template: 'reader', grantsUsed: ['read:./data'] });
    await factory.run('greet', { name: 'Ada' });
    expect(sink.records().at(-1)).toMatchObject({ template: 'greet', grantsUsed: ['kv'] });
    await factory.run('kv-less', {});
    expect(sink.records().at(-1)).toMatchObject({ template: 'kv-less', grantsUsed: [] });
    // A file the grant admits but that is missing: the grant was still needed to learn that.
    expect(await factory.run('cache-reader', {})).toMatchObject({ output: 'cache miss: NotFound' });
    expect(sink.records().at(-1)).toMatchObject({ template: 'cache-reader', grantsUsed: ['read:./cache'] });
  });

  it('denies spawning a template outside permissions.spawn', async () => {
    const report = await factory.runSettled('parent', { target: 'forbidden' });
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.error.code).toBe('E_PERMISSION_DENIED');
    expect(report.error.message).toContain('permissions.spawn');
    expect(report.stats.denials).toEqual([{ permission: 'spawn', target: 'greet' }]);
  });
});

describe('a closed factory', () => {
  it('refuses new agents with E_DISPOSED', async () => {
    const other = await createFactory({ root: project.root, hosts: 1, isolation: 'inline' });
    await other.close();
    await expect(other.createAgent('greet')).rejects.toMatchObject({ code: 'E_DISPOSED', message: 'the factory was closed; create a new one with createFactory()' });
  });
});

describe('the bundled agents', () => {
  it('run from the repository', async () => {
    const repo = await createFactory({ root: path.resolve(import.meta.dirname, '../..'), hosts: 1 });
    try {
      expect((await repo.run('word-stats', { text: 'one two two three three three' })).output).toEqual({
        words: 6,
        top: [{ word: 'three', count: 3 }, { word: 'two', count: 2 }, { word: 'one', count: 1 }],
      });
      expect((await repo.run('cpu-burn', { n: 1000 })).output).toEqual({ primes: 168 });
      expect((await repo.run('fan-out', { texts: ['big cat', 'big dog'] })).output).toEqual({
        texts: 2,
        words: 4,
        top: [{ word: 'big', count: 2 }, { word: 'cat', count: 1 }, { word: 'dog', count: 1 }],
      });
    } finally {
      await repo.close();
    }
  });
});
