// Tenants share sandbox hosts and isolates, never state or fate: reused contexts are per tenant, runs are admitted
// by memory budget so one template cannot take another tenant's runs down, and a run lost to another run's memory
// blow-up is reported as lost (not as its own E_MEMORY_LIMIT) and left out of the learner. Real hosts throughout.
import { afterEach, describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import type { RunRecord } from '../../core/run-record.js';
import { observationsOf } from '../../learner/features.js';
import { ranRecords } from '../../learner/generators/context.js';
import type { SandboxRunResult } from '../../sandbox/index.js';
import { createFactory } from '../../runtime/index.js';
import { createProject, simpleTemplate } from '../helpers/project.js';
import { fixtureSpec, makeHarness, makeSpec, type Harness } from '../sandbox/helpers.js';

// Module state: whatever a run leaves here is visible to the next run in the same context.
const REMEMBERS_SOURCE = `
  let last;
  export default async (input) => {
    const seen = { last, global: globalThis.__lastSecret, proto: ({}).__lastSecret };
    last = input.secret;
    globalThis.__lastSecret = input.secret;
    Object.prototype.__lastSecret = input.secret;
    return seen;
  };`;

const REMEMBERS = makeSpec({ name: 'remembers', source: REMEMBERS_SOURCE, pool: { reuseContext: true, prewarm: 1 } });

// Holds ~80 MB (an ArrayBuffer counts against limits.memoryMb, and RSS follows it 1:1) for a while, then succeeds.
const HUNGRY = makeSpec({
  name: 'hungry',
  source: `
    export default async () => {
      const block = new Uint8Array(80 * 1024 * 1024).fill(1);
      await new Promise((resolve) => setTimeout(resolve, 600));
      return { held: block.length };
    };`,
  limits: { memoryMb: 96, timeoutMs: 20_000, cpuMs: 10_000 },
});

// Another tenant's trivial run, in flight long enough to share the host with the hungry one.
const TRIVIAL = makeSpec({
  name: 'trivial',
  source: `export default async (input) => { await new Promise((resolve) => setTimeout(resolve, input.ms)); return { ok: input.n }; };`,
  limits: { memoryMb: 16, timeoutMs: 20_000 },
});

const codeOf = (result: SandboxRunResult): string => (result.ok ? 'ok' : result.error.code);

let h: Harness | undefined;
/** Tenant B's run lost to tenant A's fatal out-of-memory, for the learner's test. */
let lostToAnother: SandboxRunResult | undefined;
afterEach(async () => {
  await h?.sandbox.close();
  h = undefined;
});

describe('reused contexts are per tenant', () => {
  it("tenant B never sees tenant A's module state, globals or prototypes in a reuseContext template", async () => {
    // One host, one isolate: every run lands in the same isolate, as it would under load.
    h = makeHarness({ isolation: 'process', hosts: 1, maxIsolatesPerPool: 1 });
    const a1 = await h.run(REMEMBERS, { secret: 'A-secret-1' }, { tenant: 'tenant-a' });
    expect(a1).toMatchObject({ ok: true });
    const a2 = await h.run(REMEMBERS, { secret: 'A-secret-2' }, { tenant: 'tenant-a' });
    // Reuse still works within a tenant: that is what reuseContext is for.
    expect(a2).toMatchObject({ ok: true, output: { last: 'A-secret-1' } });
    const b = await h.run(REMEMBERS, { secret: 'B-secret' }, { tenant: 'tenant-b' });
    expect(b.ok).toBe(true);
    expect(JSON.stringify(b.ok ? b.output : b.error)).not.toContain('A-secret');
    const a3 = await h.run(REMEMBERS, { secret: 'A-secret-3' }, { tenant: 'tenant-a' });
    expect(a3).toMatchObject({ ok: true, output: { last: 'A-secret-2' } });
    expect(JSON.stringify(a3.ok ? a3.output : a3.error)).not.toContain('B-secret');
  });

  it('many tenants on one isolate each see only their own state (evicted contexts start fresh, never shared)', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1, maxIsolatesPerPool: 1 });
    for (let round = 0; round < 2; round++) {
      for (let t = 0; t < 12; t++) {
        const result = await h.run(REMEMBERS, { secret: `T${t}-R${round}` }, { tenant: `tenant-${t}` });
        expect(result.ok).toBe(true);
        const seen = JSON.stringify(result.ok ? result.output : result.error);
        for (const other of seen.match(/T\d+-R\d/g) ?? []) expect(other.startsWith(`T${t}-`)).toBe(true);
      }
    }
  });

  it("a fresh context prepared ahead serves one run only: a polluted prototype never reaches another tenant's run", async () => {
    h = makeHarness({ isolation: 'process', hosts: 1, maxIsolatesPerPool: 1 });
    const fresh = makeSpec({ name: 'fresh-remembers', source: REMEMBERS_SOURCE, pool: { reuseContext: false, prewarm: 2 } });
    expect(await h.run(fresh, { secret: 'A-fresh' }, { tenant: 'tenant-a' })).toMatchObject({ ok: true });
    const b = await h.run(fresh, { secret: 'B-fresh' }, { tenant: 'tenant-b' });
    expect(JSON.stringify(b.ok ? b.output : b.error)).not.toContain('A-fresh');
  });
});

describe("one tenant's memory cannot fail another tenant's runs", () => {
  it("four concurrent runs of a memory-hungry template do not take the host (and tenant B's runs) down: they wait for room", async () => {
    // Budget 320 - 64 = 256 MB: one hungry run (2 x 96 + 8 = 200 MB) at a time, with room for trivial runs beside it.
    h = makeHarness({ isolation: 'process', hosts: 1, hostMemoryMb: 320 });
    const hungry = Array.from({ length: 4 }, () => h!.run(HUNGRY, undefined, { tenant: 'tenant-a' }));
    const trivial = Array.from({ length: 6 }, (_, n) => h!.run(TRIVIAL, { n, ms: 400 }, { tenant: 'tenant-b' }));
    const [a, b] = await Promise.all([Promise.all(hungry), Promise.all(trivial)]);
    expect(b.map(codeOf)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(a.map(codeOf)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(h.sandbox.stats().restarts).toBe(0);
  });

  it('a run that finds no room within its own timeoutMs ends E_UNAVAILABLE (nothing ran), and the room comes back', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1, hostMemoryMb: 320 });
    const impatient = makeSpec({ name: 'hungry-impatient', source: 'export default () => ({ ran: true });', limits: { memoryMb: 96, timeoutMs: 300 } });
    const holding = h.run(HUNGRY, undefined, { tenant: 'tenant-a' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await h.run(impatient, undefined, { tenant: 'tenant-c' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'E_UNAVAILABLE' } });
    expect(refused.ok || refused.error.message).toContain('nothing ran');
    expect(await holding).toMatchObject({ ok: true });
    expect(await h.run(impatient, undefined, { tenant: 'tenant-c' })).toMatchObject({ ok: true, output: { ran: true } });
  });

  it('a run that still takes its host over the cap (WebAssembly) is the one blamed; runs in flight beside it are lost, never E_MEMORY_LIMIT', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1, hostMemoryMb: 384 });
    const bomb = fixtureSpec('wasm-memory-bomb.js', { permissions: { wasm: true }, limits: { memoryMb: 32, timeoutMs: 20_000, cpuMs: 20_000 } });
    await h.run(TRIVIAL, { n: 0, ms: 1 }, { tenant: 'tenant-b' });
    const trivial = Array.from({ length: 3 }, (_, n) => h!.run(TRIVIAL, { n, ms: 10_000 }, { tenant: 'tenant-b' }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const a = await h.run(bomb, undefined, { tenant: 'tenant-a' });
    expect(a).toMatchObject({ ok: false, error: { code: 'E_MEMORY_LIMIT' } });
    expect(a.ok || a.error.message).toContain('hostMemoryMb');
    const bResults = await Promise.all(trivial);
    for (const result of bResults) {
      expect(codeOf(result)).not.toBe('E_MEMORY_LIMIT');
      if (!result.ok) expect(result.error).toMatchObject({ code: 'E_SANDBOX_CRASHED', details: { lostTo: 'another run' } });
      if (!result.ok) expect(result.error.message).toContain('not at fault');
    }
  });

  it("a V8 fatal out-of-memory is pinned on the run that caused it; another tenant's run in flight is lost, not E_MEMORY_LIMIT", async () => {
    h = makeHarness({ isolation: 'process', hosts: 1, hostMemoryMb: 1024 });
    const oom = fixtureSpec('fatal-array-oom.js', { limits: { memoryMb: 64, timeoutMs: 20_000, cpuMs: 20_000 } });
    await h.run(TRIVIAL, { n: 0, ms: 1 }, { tenant: 'tenant-b' });
    // V8 takes seconds of last-resort GCs before it gives up; B's run is still in flight then.
    const trivial = h.run(TRIVIAL, { n: 1, ms: 15_000 }, { tenant: 'tenant-b' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const a = await h.run(oom, undefined, { tenant: 'tenant-a' });
    expect(a).toMatchObject({ ok: false, error: { code: 'E_MEMORY_LIMIT' } });
    const b = await trivial;
    expect(b).toMatchObject({ ok: false, error: { code: 'E_SANDBOX_CRASHED', details: { lostTo: 'another run' } } });
    lostToAnother = b;
  });

  it('a template whose memoryMb cannot fit a host is refused up front with the largest that fits', () => {
    h = makeHarness({ isolation: 'process', hosts: 1, hostMemoryMb: 1024 });
    const big = makeSpec({ name: 'big', source: 'export default () => 1;', limits: { memoryMb: 512 } });
    let thrown: unknown;
    try {
      h.sandbox.reserve(big);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FactoryError);
    expect(thrown).toMatchObject({ code: 'E_POLICY_DENIED', details: { largestMemoryMb: 476, hostMemoryMb: 1024 } });
    expect((thrown as Error).message).toMatch(/limits\.memoryMb 512.*hostMemoryMb 1024.*476/);
    // The largest that fits is accepted.
    const fits = makeSpec({ name: 'fits', source: 'export default () => 1;', limits: { memoryMb: 476 } });
    h.sandbox.release(h.sandbox.reserve(fits));
  });
});

describe('createAgent refuses a template no host can hold', () => {
  it('with E_POLICY_DENIED naming limits.memoryMb, hostMemoryMb and the largest that fits; nothing runs', async () => {
    const project = createProject(simpleTemplate('huge', { limits: { memoryMb: 300 } }));
    const factory = await createFactory({ root: project.root, hosts: 1, hostMemoryMb: 512, store: false, prewarm: true });
    try {
      const error = await factory.createAgent('huge').then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(FactoryError);
      expect(error).toMatchObject({ code: 'E_POLICY_DENIED', details: { largestMemoryMb: 220, hostMemoryMb: 512 } });
      expect((error as Error).message).toContain('lower limits.memoryMb in agent.json to 220 or less, or raise hostMemoryMb');
    } finally {
      await factory.close();
      project.remove();
    }
  });
});

describe('the learner ignores runs lost to another run', () => {
  const base: RunRecord = {
    id: 'r',
    template: 't',
    version: '1.0.0',
    digest: 'd',
    env: 'dev',
    tenant: 'tenant-b',
    startedAt: Date.UTC(2026, 0, 1),
    createMs: 0,
    runMs: 30,
    cpuMs: 5,
    heapUsedAtEndBytes: 4 * 1024 * 1024,
    heapGrowthBytes: 1024 * 1024,
    inputBytes: 10,
    outputBytes: 10,
    outcome: 'ok',
    tools: {},
    denials: [],
    logsDropped: 0,
    depth: 0,
  };
  const limits = { memoryMb: 64, timeoutMs: 1000, cpuMs: 1000, outputKb: 64, logKb: 64, kvKb: 64, spawnDepth: 1, spawnFanOut: 1 };

  it('neither right-sizing observations nor the other generators see E_SANDBOX_CRASHED or E_UNAVAILABLE runs', () => {
    // What a lost run's record holds: the sandbox's empty stats and the code it was reported with (from the test above).
    const lostResult = lostToAnother as SandboxRunResult;
    expect(lostResult?.ok).toBe(false);
    const lost: RunRecord = { ...base, id: 'lost', outcome: 'error', errorCode: lostResult.ok ? undefined : lostResult.error.code, runMs: lostResult.stats.runMs, cpuMs: lostResult.stats.cpuMs, heapUsedAtEndBytes: lostResult.stats.heapUsedAtEndBytes };
    const unavailable: RunRecord = { ...base, id: 'unavailable', outcome: 'error', errorCode: 'E_UNAVAILABLE', runMs: 0, cpuMs: 0, heapUsedAtEndBytes: 0 };
    const records = [base, lost, unavailable];
    for (const resource of ['memoryMb', 'timeoutMs', 'cpuMs'] as const) {
      expect(observationsOf(records, resource, () => limits)).toHaveLength(1);
    }
    expect(ranRecords(records).map((r) => r.id)).toEqual(['r']);
  });
});
