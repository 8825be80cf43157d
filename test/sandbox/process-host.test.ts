// Process isolation only: what would take down the caller in inline mode ends one host, which is restarted.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../core/clock.js';
import type { Supervisor } from '../../sandbox/supervisor.js';
import { fixtureSpec, HEALTHY, makeHarness, type Harness } from './helpers.js';

/** Sandbox host processes are this test worker's children. */
function hostPids(): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('host-main.js'))
      .map((line) => Number(line.trim().split(/\s+/)[0]))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('sandbox hosts (process isolation)', () => {
  let h: Harness;
  beforeAll(() => {
    h = makeHarness({ isolation: 'process', hosts: 2, hostMemoryMb: 512 });
  });
  afterAll(async () => {
    await h.sandbox.close();
  });

  it('new Array(2e8).fill(0) under 64 MB kills only its host; the caller survives and the next run succeeds', async () => {
    const spec = fixtureSpec('fatal-array-oom.js', { limits: { memoryMb: 64, timeoutMs: 20_000, cpuMs: 20_000 } });
    expect(spec.code).toContain('new Array(2e8).fill(0)');
    const restartsBefore = h.sandbox.stats().restarts;
    const result = await h.run(spec);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(['E_MEMORY_LIMIT', 'E_SANDBOX_CRASHED']).toContain(result.error.code);
    expect(h.sandbox.stats().restarts).toBe(restartsBefore + 1);
    expect(await h.run(HEALTHY, { n: 5 })).toMatchObject({ ok: true, output: { doubled: 10 } });
  });

  it('a WebAssembly memory bomb with permissions.wasm is stopped by hostMemoryMb', async () => {
    const spec = fixtureSpec('wasm-memory-bomb.js', { permissions: { wasm: true }, limits: { memoryMb: 32, timeoutMs: 20_000, cpuMs: 20_000 } });
    const result = await h.run(spec);
    expect(result).toMatchObject({ ok: false, error: { code: 'E_MEMORY_LIMIT' } });
    expect(result.ok || result.error.message).toContain('hostMemoryMb');
    expect(await h.run(HEALTHY, { n: 6 })).toMatchObject({ ok: true, output: { doubled: 12 } });
  });

  it('a host killed mid-run fails its in-flight run with E_SANDBOX_CRASHED; other hosts keep serving', async () => {
    await until(() => hostPids().length >= 2);
    const slow = fixtureSpec('slow.js', { limits: { timeoutMs: 10_000 } });
    const before = new Set(hostPids());
    const inflight = [h.run(slow, { ms: 1500 }), h.run(slow, { ms: 1500 })];
    await new Promise((r) => setTimeout(r, 300));
    const victim = [...before][0]!;
    process.kill(victim, 'SIGKILL');
    const results = await Promise.all(inflight);
    const codes = results.map((r) => (r.ok ? 'ok' : r.error.code)).sort();
    // Both runs may have landed on the victim; at least one must have been lost to it, none may hang.
    expect(codes).toContain('E_SANDBOX_CRASHED');
    for (const code of codes) expect(['ok', 'E_SANDBOX_CRASHED']).toContain(code);
    expect(await h.run(HEALTHY, { n: 7 })).toMatchObject({ ok: true, output: { doubled: 14 } });
    await until(() => h.sandbox.stats().hosts === 2);
    expect(h.sandbox.stats().hosts).toBe(2);
  });

  it('reserve is synchronous and fast once contexts are ready', async () => {
    const spec = fixtureSpec('counter.js', { name: 'reserve-speed', pool: { prewarm: 2, reuseContext: false } });
    h.sandbox.register(spec);
    await until(() => (h.sandbox.stats().pools.find((p) => p.digest === spec.digest)?.ready ?? 0) >= 2);
    const samples: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      const slot = h.sandbox.reserve(spec);
      samples.push(performance.now() - t);
      h.sandbox.release(slot);
    }
    samples.sort((a, b) => a - b);
    expect(samples[Math.floor(samples.length * 0.95)]!).toBeLessThan(0.25);
    const slot = h.sandbox.reserve(spec);
    expect(await h.sandbox.run(slot, undefined, { tenant: 't', env: 'dev' })).toMatchObject({ ok: true, output: { count: 1 } });
    h.sandbox.release(slot);
  });

  it('serves concurrent runs across hosts', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => h.run(HEALTHY, { n })));
    expect(results.map((r) => (r.ok ? (r.output as { doubled: number }).doubled : r.error.code))).toEqual(Array.from({ length: 40 }, (_, n) => n * 2));
  });

  it('close ends the hosts; later runs end with E_DISPOSED', async () => {
    const own = makeHarness({ isolation: 'process', hosts: 1 });
    expect(await own.run(HEALTHY, { n: 1 })).toMatchObject({ ok: true });
    await own.sandbox.close();
    expect(await own.run(HEALTHY, { n: 1 })).toMatchObject({ ok: false, error: { code: 'E_DISPOSED' } });
  });
});

describe('the restart window reads the injected clock', () => {
  it('crashes 11 s apart on the sandbox clock restart at once; the sixth within 10 s waits out the back-off', async () => {
    const clock = createManualClock(1_700_000_000_000);
    const own = makeHarness({ isolation: 'process', hosts: 1, clock, lockdown: 'off' });
    const supervisor = own.sandbox as Supervisor;
    /** Kills the live host; @returns the live hosts as the crash is counted: 1 when restarted at once, 0 while backing off. */
    const crash = async (): Promise<number> => {
      await until(() => supervisor.hostProcesses().length === 1, 30_000);
      const before = supervisor.stats().restarts;
      process.kill(supervisor.hostProcesses()[0]!.pid, 'SIGKILL');
      await until(() => supervisor.stats().restarts === before + 1, 30_000);
      // No timer can fire between the exit handler and this line: a restart without back-off has already happened.
      expect(supervisor.stats().restarts).toBe(before + 1);
      return supervisor.stats().hosts;
    };
    try {
      // Seven crashes within seconds of real time, but 11 s apart on the sandbox's clock: none is in another's window.
      for (let i = 0; i < 7; i++) {
        clock.advance(11_000);
        expect(await crash()).toBe(1);
      }
      // Six within one window on the clock: five restart at once, the sixth waits.
      clock.advance(11_000);
      for (let i = 0; i < 5; i++) expect(await crash()).toBe(1);
      expect(await crash()).toBe(0);
    } finally {
      await own.sandbox.close();
    }
  }, 120_000);
});
