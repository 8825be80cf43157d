// Isolates are recycled after `isolateMaxRuns` released contexts: fresh-context runs count, runs in a kept reused context do not.
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureSpec, makeHarness, type Harness } from './helpers.js';

describe.each(['process', 'inline'] as const)('isolate recycling (%s)', (isolation) => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.sandbox.close();
    h = undefined;
  });

  const counts = async (harness: Harness, spec: ReturnType<typeof fixtureSpec>, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const result = await harness.run(spec);
      if (!result.ok) throw new Error(result.error.message);
      out.push((result.output as { count: number }).count);
    }
    return out;
  };

  it('a reused context outlives isolateMaxRuns of its own runs; fresh-context runs recycle the isolate', async () => {
    // One isolate, so every run and every context is in it.
    h = makeHarness({ isolation, hosts: 1, maxIsolatesPerPool: 1, isolateMaxRuns: 3 });
    const reused = fixtureSpec('counter.js', { name: 'counter-reused', pool: { reuseContext: true, prewarm: 1 } });
    expect(await counts(h, reused, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const fresh = fixtureSpec('counter.js', { name: 'counter-fresh', pool: { prewarm: 1 } });
    expect(await counts(h, fresh, 4)).toEqual([1, 1, 1, 1]);
    // Four released contexts retired the isolate: the tenant's reused context went with it.
    expect(await counts(h, reused, 2)).toEqual([1, 2]);
  });
});
