// Repeatable reads within a run (sandbox/prelude/kv-cache.js): a key a run has read or written is answered inside the
// isolate, in both isolations, against a real memory kv whose reads are counted where the calling side serves them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvNamespace, KvStore } from '../../core/kv.js';
import { readReply } from '../../sandbox/context-bridge.js';
import { createMemoryKvStore, createSandbox, type Sandbox, type SandboxRunResult } from '../../sandbox/index.js';
import { makeSpec } from './helpers.js';

const ISOLATIONS = ['process', 'inline'] as const;

const SOURCE = `
export default async (input: any, ctx: any) => {
  const kv = ctx.kv;
  switch (input.op) {
    case 'get-n': {
      const values = [];
      for (let i = 0; i < input.n; i++) values.push(await kv.get(input.key));
      return values;
    }
    case 'read-your-writes': {
      const first = await kv.get('k');
      await kv.set('k', { n: 2 });
      const afterSet = await kv.get('k');
      const existed = await kv.delete('k');
      const afterDelete = await kv.get('k');
      await kv.set('k', 'again');
      return { first, afterSet, existed, afterDelete: afterDelete === undefined ? 'undefined' : afterDelete, last: await kv.get('k') };
    }
    case 'failed-set': {
      await kv.set('k', 'small');
      const before = await kv.get('k');
      let code;
      // Refused by the namespace's quota (the test filled it), though the value would fit in the cache.
      try { await kv.set('k', 'x'.repeat(600)); } catch (e: any) { code = e.code; }
      return { before, code, after: await kv.get('k') };
    }
    case 'write': {
      await kv.set(input.key, input.value);
      return 'written';
    }
    case 'other-run-writes': {
      const before = await kv.get('k');
      await ctx.spawn('kv-cache', { op: 'write', key: 'k', value: 'from another run' });
      return { before, after: await kv.get('k') };
    }
    case 'in-flight': {
      const before = await kv.get('k');
      const [, during] = await Promise.all([kv.set('k', 2), kv.get('k')]);
      const after = await kv.get('k');
      let code;
      const [failed, duringFailed] = await Promise.allSettled([kv.set('k', 'x'.repeat(600)), kv.get('k')]);
      if (failed.status === 'rejected') code = failed.reason.code;
      const afterFailed = await kv.get('k');
      return { before, during, after, code, duringFailed: duringFailed.status === 'fulfilled' ? duringFailed.value : 'rejected', afterFailed };
    }
    case 'overlapping-writes': {
      await Promise.all([kv.set('k', 'a'), kv.delete('k'), kv.set('k', 'b')]);
      return await kv.get('k');
    }
    case 'mutate': {
      const first = await kv.get('k');
      first.n = 99;
      first.list.push('added');
      const second = await kv.get('k');
      const secondSeen = JSON.stringify(second);
      second.n = 100;
      second.list.push('again');
      return { second: JSON.parse(secondSeen), third: await kv.get('k') };
    }
    case 'throw-after-gets': {
      await kv.get('k');
      await kv.get('k');
      await kv.get('k');
      throw new Error('after three reads');
    }
    case 'reused': {
      const g: any = globalThis;
      g.runs = (g.runs ?? 0) + 1;
      // The ctx of an earlier run in this context, kept by the agent: its cache went with its run.
      let earlierCtx;
      if (g.earlierCtx !== undefined) await g.earlierCtx.kv.get('k').then(() => { earlierCtx = 'answered'; }, (e: any) => { earlierCtx = e.code; });
      g.earlierCtx = ctx;
      return { runs: g.runs, first: await kv.get('k'), second: await kv.get('k'), earlierCtx };
    }
  }
  throw new Error('unknown op ' + input.op);
};
`;

const SPEC = makeSpec({ name: 'kv-cache', source: SOURCE, permissions: { kv: true, spawn: ['kv-cache'] }, limits: { kvKb: 1 } });
const REUSED = makeSpec({ name: 'kv-cache-reused', source: SOURCE, permissions: { kv: true }, limits: { kvKb: 1 }, pool: { reuseContext: true } });

/** The memory kv, with the reads the calling side serves counted: a read the prelude answered itself never gets here. */
function countingKv(): { kv: KvStore; store: ReturnType<typeof createMemoryKvStore>; gets: () => number } {
  const store = createMemoryKvStore();
  let gets = 0;
  const kv: KvStore = {
    get(ns, key) {
      gets++;
      return store.get(ns, key);
    },
    set: (ns, key, json, quota) => store.set(ns, key, json, quota),
    delete: (ns, key) => store.delete(ns, key),
    list: (ns, options) => store.list(ns, options),
  };
  return { kv, store, gets: () => gets };
}

describe.each(ISOLATIONS)('kv reads repeat within a run (%s)', (isolation) => {
  let sandbox: Sandbox;
  let counted: ReturnType<typeof countingKv>;
  const ns = (spec = SPEC, tenant = 't1'): KvNamespace => ({ template: spec.name, tenant });

  async function run(input: unknown, spec = SPEC, tenant = 't1', depth = 0): Promise<SandboxRunResult> {
    const slot = sandbox.reserve(spec);
    try {
      return await sandbox.run(slot, input, { tenant, env: 'dev', depth });
    } finally {
      sandbox.release(slot);
    }
  }
  /** Runs `input` and returns its output with the store reads it caused and the kv calls its record counts. */
  async function measured(input: unknown, spec = SPEC, tenant = 't1'): Promise<{ output: unknown; storeGets: number; kvCalls: number | undefined }> {
    const before = counted.gets();
    const result = await run(input, spec, tenant);
    if (!result.ok) throw new Error(`run failed: ${result.error.code} ${result.error.message}`);
    return { output: result.output, storeGets: counted.gets() - before, kvCalls: result.stats.tools.kv };
  }

  beforeAll(() => {
    counted = countingKv();
    sandbox = createSandbox({
      isolation,
      hosts: 1,
      services: {
        kv: counted.kv,
        async spawn(request) {
          const result = await run(request.input, SPEC, request.tenant, request.depth);
          if (!result.ok) throw new Error(result.error.message);
          return result.output;
        },
      },
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('a repeated get returns the same value, reads the store once and counts every call', async () => {
    await counted.store.set(ns(), 'k', '{"n":1}', 1024);
    const { output, storeGets, kvCalls } = await measured({ op: 'get-n', key: 'k', n: 5 });
    expect(output).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }, { n: 1 }, { n: 1 }]);
    expect(storeGets).toBe(1);
    expect(kvCalls).toBe(5);
    // A key that does not exist is remembered as absent too.
    const missing = await measured({ op: 'get-n', key: 'nothing-here', n: 3 });
    expect(missing).toEqual({ output: [null, null, null], storeGets: 1, kvCalls: 3 });
  });

  it('sees its own writes: a get after set or delete returns what the run wrote, without reading the store', async () => {
    await counted.store.set(ns(), 'k', '{"n":1}', 1024);
    const { output, storeGets, kvCalls } = await measured({ op: 'read-your-writes' });
    expect(output).toEqual({ first: { n: 1 }, afterSet: { n: 2 }, existed: true, afterDelete: 'undefined', last: 'again' });
    expect(storeGets).toBe(1);
    expect(kvCalls).toBe(7);
    expect(counted.store.get(ns(), 'k')).toBe('"again"');
  });

  it('a set refused by limits.kvKb does not poison the cache: the next get reads what the store holds', async () => {
    // 508 of the namespace's 1024 bytes: a 600-character value is refused, yet small enough for the run's cache.
    await counted.store.set(ns(SPEC, 'quota'), 'filler', JSON.stringify('f'.repeat(500)), 1024);
    const { output, storeGets } = await measured({ op: 'failed-set' }, SPEC, 'quota');
    expect(output).toEqual({ before: 'small', code: 'E_KV_QUOTA', after: 'small' });
    // The read after the refused write went to the store.
    expect(storeGets).toBe(1);
  });

  it('another run’s write between two gets is not seen by the second get, and is seen by the next run', async () => {
    await counted.store.set(ns(), 'k', '"original"', 1024);
    const { output } = await measured({ op: 'other-run-writes' });
    expect(output).toEqual({ before: 'original', after: 'original' });
    expect(counted.store.get(ns(), 'k')).toBe('"from another run"');
    expect((await measured({ op: 'get-n', key: 'k', n: 1 })).output).toEqual(['from another run']);
  });

  it('a get while a write of the key is in flight returns what the calling side returns, and is not cached from', async () => {
    await counted.store.set(ns(SPEC, 'in-flight'), 'filler', JSON.stringify('f'.repeat(500)), 1024);
    await counted.store.set(ns(SPEC, 'in-flight'), 'k', '1', 1024);
    const { output, storeGets, kvCalls } = await measured({ op: 'in-flight' }, SPEC, 'in-flight');
    // The store serves the set before the get that was sent after it.
    expect(output).toEqual({ before: 1, during: 2, after: 2, code: 'E_KV_QUOTA', duringFailed: 2, afterFailed: 2 });
    // before, during, duringFailed and afterFailed (the refused write left the key uncached) read the store.
    expect(storeGets).toBe(4);
    expect(kvCalls).toBe(7);
  });

  it('after overlapping writes of a key, the next get reads the store (their order there is not the run’s to know)', async () => {
    const { output, storeGets, kvCalls } = await measured({ op: 'overlapping-writes' }, SPEC, 'overlap');
    expect(output).toBe(counted.store.get(ns(SPEC, 'overlap'), 'k') === '"a"' ? 'a' : 'b');
    expect(storeGets).toBe(1);
    expect(kvCalls).toBe(4);
  });

  it('mutating a returned object does not change what the next get returns', async () => {
    await counted.store.set(ns(), 'k', '{"n":1,"list":["a"]}', 1024);
    expect((await measured({ op: 'mutate' })).output).toEqual({ second: { n: 1, list: ['a'] }, third: { n: 1, list: ['a'] } });
  });

  it('a run that ends in an error still counts its cached reads', async () => {
    await counted.store.set(ns(), 'k', '1', 1024);
    const before = counted.gets();
    const result = await run({ op: 'throw-after-gets' });
    expect(result).toMatchObject({ ok: false, error: { code: 'E_AGENT_THREW' } });
    expect(result.stats.tools.kv).toBe(3);
    expect(counted.gets() - before).toBe(1);
  });

  it('a value over the cache bound (limits.kvKb) is read from the store every time', async () => {
    await counted.store.set(ns(SPEC, 'big'), 'big', JSON.stringify('y'.repeat(2000)), 1 << 20);
    const { output, storeGets, kvCalls } = await measured({ op: 'get-n', key: 'big', n: 3 }, SPEC, 'big');
    expect(output).toEqual(['y'.repeat(2000), 'y'.repeat(2000), 'y'.repeat(2000)]);
    expect(storeGets).toBe(3);
    expect(kvCalls).toBe(3);
  });

  it('a reused context starts every run with an empty cache (pool.reuseContext): no read crosses from one run to the next', async () => {
    await counted.store.set(ns(REUSED, 'acme'), 'k', '"acme 1"', 1024);
    await counted.store.set(ns(REUSED, 'globex'), 'k', '"globex"', 1024);
    const first = await measured({ op: 'reused' }, REUSED, 'acme');
    expect(first).toMatchObject({ output: { first: 'acme 1', second: 'acme 1' }, storeGets: 1, kvCalls: 2 });
    await counted.store.set(ns(REUSED, 'acme'), 'k', '"acme 2"', 1024);
    const second = await measured({ op: 'reused' }, REUSED, 'acme');
    // The same context served both runs (its global counter went on), and the second run read the store again.
    expect(second).toEqual({ output: { runs: (first.output as { runs: number }).runs + 1, first: 'acme 2', second: 'acme 2', earlierCtx: 'E_DISPOSED' }, storeGets: 1, kvCalls: 2 });
    const other = await measured({ op: 'reused' }, REUSED, 'globex');
    expect(other).toMatchObject({ output: { first: 'globex', second: 'globex' }, storeGets: 1 });
  });
});

describe('readReply', () => {
  it('reads the cached-read count after the dropped-lines count, and only a positive whole number', () => {
    expect(readReply('O2,5;{"a":1}', SPEC)).toEqual({ outputJson: '{"a":1}', dropped: 2, cachedReads: 5 });
    expect(readReply('U0;', SPEC)).toEqual({ dropped: 0, cachedReads: 0 });
    expect(readReply('U1,-3;', SPEC)).toEqual({ dropped: 1, cachedReads: 0 });
    expect(readReply('U0,1.5;', SPEC)).toEqual({ dropped: 0, cachedReads: 0 });
    expect(readReply('E0,2;{"code":"E_AGENT_THREW","message":"m","name":"Error","stack":""}', SPEC)).toMatchObject({ error: { code: 'E_AGENT_THREW' }, dropped: 0, cachedReads: 2 });
  });
});
