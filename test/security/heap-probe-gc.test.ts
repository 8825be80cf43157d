// The heap probe (sandbox/heap-probe) turns V8's --expose-gc on for the one moment it creates its own context: no
// agent context may ever see a `gc` function, whatever path it looks through, on measured runs, fresh or reused, in
// either isolation mode; an agent cannot trigger collections to skew another run's figure or burn the host's time.
import { afterAll, describe, expect, it } from 'vitest';
import { makeHarness, makeSpec } from '../sandbox/helpers.js';

const LOOK = `
  const paths = {
    global: typeof globalThis.gc,
    bare: (() => { try { return typeof gc; } catch { return 'throws'; } })(),
    fnThis: typeof Function('return this')().gc,
    indirectEval: (() => { try { return (0, eval)('typeof gc'); } catch { return 'throws'; } })(),
    ownNames: Object.getOwnPropertyNames(globalThis).filter((n) => /gc/i.test(n)).join(','),
  };
  return paths;
`;
const FRESH = makeSpec({ name: 'looks-fresh', source: `export default async function run() { ${LOOK} }` });
const REUSED = makeSpec({ name: 'looks-reused', pool: { prewarm: 1, reuseContext: true }, source: `export default async function run() { ${LOOK} }` });
const NONE = { global: 'undefined', bare: 'undefined', fnThis: 'undefined', indirectEval: 'undefined', ownNames: '' };

describe.each(['process', 'inline'] as const)('no gc for agents on measured runs (%s)', (isolation) => {
  const harness = makeHarness({ isolation, hosts: 1, heapProbeEvery: 1 });
  afterAll(() => harness.sandbox.close());

  it('finds no gc through any path, on every run, fresh and reused, before and after the probe exists', async () => {
    for (let i = 0; i < 6; i++) {
      for (const spec of [FRESH, REUSED]) {
        const result = await harness.run(spec, {});
        expect(result.ok).toBe(true);
        expect(result.ok && result.output).toEqual(NONE);
      }
    }
    // The probe did run on these runs: at least one carries a figure (a run during which V8 collected has none).
    const measured = [];
    for (let i = 0; i < 4; i++) measured.push((await harness.run(FRESH, {})).stats.heapGrowthBytes);
    expect(measured.some((figure) => typeof figure === 'number')).toBe(true);
  });
});
