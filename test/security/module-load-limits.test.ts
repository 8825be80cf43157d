// An agent's top-level code (its module load) runs under the run's CPU and wall limits, or, when a context is
// prepared ahead of demand, under a load budget of its own; pre-warming never holds shared isolates beyond it.
// Real sandbox hosts throughout.
import { afterEach, describe, expect, it } from 'vitest';
import type { SandboxRunResult } from '../../sandbox/index.js';
import { makeHarness, makeSpec, type Harness } from '../sandbox/helpers.js';

const BUSY_AT_TOP_LEVEL = `
  const end = Date.now() + 2500;
  while (Date.now() < end) {}
  export default () => ({ loaded: true });`;

const TRIVIAL = makeSpec({ name: 'trivial', source: 'export default (input) => ({ n: input.n });' });

let h: Harness | undefined;
afterEach(async () => {
  await h?.sandbox.close();
  h = undefined;
});

function expectLoadLimit(result: SandboxRunResult, code: 'E_CPU_LIMIT' | 'E_TIMEOUT'): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.error.code).toBe(code);
  expect(result.error.details).toMatchObject({ phase: 'load' });
  expect(result.error.message).toContain('top-level code');
}

describe('module load limits', () => {
  it('a top-level busy loop with cpuMs 50 ends E_CPU_LIMIT (phase load), not ok with a few ms of CPU reported', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
    const spec = makeSpec({ name: 'busy-load', source: BUSY_AT_TOP_LEVEL, limits: { cpuMs: 50, timeoutMs: 5000 } });
    // The host is started first: the bound is on stopping the load, not on starting a process under load.
    expect(await h.run(TRIVIAL, { n: 0 })).toMatchObject({ ok: true });
    const started = performance.now();
    const result = await h.run(spec);
    expectLoadLimit(result, 'E_CPU_LIMIT');
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it("pre-warming such a template cannot hold shared isolates: another tenant's trivial run is not delayed beyond the load budget", async () => {
    h = makeHarness({ isolation: 'process', hosts: 1, maxIsolatesPerPool: 2 });
    // Warm the trivial template first, so only the bad template's pre-warming stands between it and an isolate.
    expect(await h.run(TRIVIAL, { n: 0 }, { tenant: 'tenant-b' })).toMatchObject({ ok: true });
    const bad = makeSpec({ name: 'busy-prewarm', source: BUSY_AT_TOP_LEVEL, limits: { cpuMs: 50, timeoutMs: 5000 }, pool: { prewarm: 4 } });
    h.sandbox.register(bad);
    await new Promise((resolve) => setTimeout(resolve, 50));
    let worst = 0;
    for (let n = 1; n <= 10; n++) {
      const started = performance.now();
      expect(await h.run(TRIVIAL, { n }, { tenant: 'tenant-b' })).toMatchObject({ ok: true, output: { n } });
      worst = Math.max(worst, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    // The load budget is 50 ms of CPU and at most 150 ms of wall time; measured before the fix: 2.6 s.
    expect(worst).toBeLessThan(600);
    // Its background loads failed, so none are retried behind everyone's back.
    expect(h.sandbox.stats().pools.find((pool) => pool.digest === bad.digest)?.ready ?? 0).toBe(0);
  });

  it('a busy loop started in a top-level promise callback is stopped by cpuMs as well', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
    const spec = makeSpec({
      name: 'busy-microtask',
      source: `
        Promise.resolve().then(() => { const end = Date.now() + 2500; while (Date.now() < end) {} });
        export default () => ({ loaded: true });`,
      limits: { cpuMs: 50, timeoutMs: 5000 },
    });
    // The host is started first: the bound is on stopping the load, not on starting a process under load.
    expect(await h.run(TRIVIAL, { n: 0 })).toMatchObject({ ok: true });
    const started = performance.now();
    const result = await h.run(spec);
    expect(result).toMatchObject({ ok: false, error: { code: 'E_CPU_LIMIT' } });
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('top-level code that blocks without using CPU (Atomics.wait) is stopped by the run deadline: E_TIMEOUT, phase load', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
    const spec = makeSpec({
      name: 'blocks-at-load',
      source: `
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
        export default () => ({ loaded: true });`,
      limits: { cpuMs: 5000, timeoutMs: 300 },
    });
    // The host is started first: the bound is on stopping the load, not on starting a process under load.
    expect(await h.run(TRIVIAL, { n: 0 })).toMatchObject({ ok: true });
    const started = performance.now();
    const result = await h.run(spec);
    expectLoadLimit(result, 'E_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('an on-demand load counts toward the run: 150 ms at top level plus 150 ms in the run is over cpuMs 250', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
    const spin = (ms: number) => `{ const end = Date.now() + ${ms}; while (Date.now() < end) {} }`;
    const spec = makeSpec({
      name: 'load-plus-run',
      source: `${spin(150)}\nexport default () => { ${spin(150)} return { done: true }; };`,
      limits: { cpuMs: 250, timeoutMs: 5000 },
      // Nothing prepared ahead: the first run loads the module itself.
      pool: { prewarm: 0 },
    });
    const result = await h.run(spec);
    expect(result).toMatchObject({ ok: false, error: { code: 'E_CPU_LIMIT' } });
    expect(result.stats.cpuMs).toBeGreaterThan(250);
  });

  it('top-level code that takes its host down while pre-warming is loaded only on demand afterwards: no crash loop, the blame lands on its own run', async () => {
    h = makeHarness({ isolation: 'process', hosts: 1 });
    const slow = makeSpec({ name: 'slow-b', source: 'export default async (input) => { await new Promise((r) => setTimeout(r, input.ms)); return { ok: true }; };', limits: { timeoutMs: 30_000 } });
    expect(await h.run(slow, { ms: 1 }, { tenant: 'tenant-b' })).toMatchObject({ ok: true });
    const inFlight = h.run(slow, { ms: 20_000 }, { tenant: 'tenant-b' });
    const bomb = makeSpec({ name: 'oom-at-load', source: 'const a = new Array(2e8).fill(0);\nexport default () => a.length;', limits: { memoryMb: 64, timeoutMs: 20_000, cpuMs: 20_000 } });
    h.sandbox.register(bomb);
    // V8 spends seconds in last-resort GCs before it gives up; B's run is in flight all along.
    const lost = await inFlight;
    expect(lost).toMatchObject({ ok: false, error: { code: 'E_SANDBOX_CRASHED', details: { lostTo: 'another run' } } });
    expect(h.sandbox.stats().restarts).toBe(1);
    // The restarted host does not load it ahead again (that took ~8 s to kill the host the first time).
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    expect(h.sandbox.stats().restarts).toBe(1);
    expect(await h.run(slow, { ms: 1 }, { tenant: 'tenant-b' })).toMatchObject({ ok: true });
    // Run on demand, the load is its own run's doing: that run, and only it, ends E_MEMORY_LIMIT (phase load).
    const beside = h.run(slow, { ms: 20_000 }, { tenant: 'tenant-b' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await h.run(bomb, undefined, { tenant: 'tenant-a' })).toMatchObject({ ok: false, error: { code: 'E_MEMORY_LIMIT' } });
    expect(await beside).toMatchObject({ ok: false, error: { code: 'E_SANDBOX_CRASHED', details: { lostTo: 'another run' } } });
  }, 90_000);
});
