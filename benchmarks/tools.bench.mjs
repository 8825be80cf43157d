// Scenario 5: a tool-heavy agent, 10,000 kv calls in one run. Every ctx.kv.set crosses the bridge out of the
// isolate, is checked against the template's permissions and, in process isolation, travels over IPC to the
// calling process that owns the kv; a get of a key the run already read or wrote is answered inside the isolate
// (repeatable reads within a run, sandbox/prelude/kv-cache.js). This is the per-call price of that mix.
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { createFactory } from '../dist/index.js';
import { median, metric, runStandalone, single, summarise } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

const CALLS = 10_000;

// Half writes, half reads over 100 keys, awaited one after another as a loop in an agent would.
const TOOL_HEAVY = `export default async (input, ctx) => {
  for (let i = 0; i < input.calls; i += 2) {
    await ctx.kv.set('key-' + (i % 100), i);
    await ctx.kv.get('key-' + ((i + 1) % 100));
  }
  return { calls: input.calls };
};
`;

export default async function bench({ quick = false } = {}) {
  const runs = quick ? 1 : 8;
  const project = createBenchProject({
    'tool-heavy': { manifest: { permissions: { kv: true }, limits: { timeoutMs: 120_000, cpuMs: 120_000 }, pool: { prewarm: 1 } }, source: TOOL_HEAVY },
    trivial: { manifest: { pool: { prewarm: 1 } }, source: 'export default (input) => input;\n' },
  });
  const home = mkdtempSync(path.join(os.tmpdir(), 'af-bench-tools-'));
  const metrics = [];
  try {
    const configs = [['kv in memory (store off)', { store: false }]];
    // The SQLite row doubles the time; --quick keeps the suite under a minute and skips it.
    if (!quick) configs.push(['kv in SQLite (store on: the default)', { store: path.join(home, 'factory.db') }]);
    for (const [label, options] of configs) {
      const factory = await createFactory({ root: project.root, prewarm: true, ...options });
      try {
        const agent = await factory.createAgent('tool-heavy');
        const trivial = await factory.createAgent('trivial');
        await agent.run({ calls: 200 });
        // Per call: (tool-heavy run − trivial run) ÷ calls, both timed as the caller sees them, per sample.
        const perCall = [];
        const runMs = [];
        for (let i = 0; i < runs; i++) {
          let started = performance.now();
          await trivial.run({ calls: CALLS });
          const baseMs = performance.now() - started;
          started = performance.now();
          const { output } = await agent.run({ calls: CALLS });
          const ms = performance.now() - started;
          if (output.calls !== CALLS) throw new Error('tool-heavy agent did not make every call');
          runMs.push(ms);
          perCall.push(((ms - baseMs) * 1000) / CALLS);
        }
        await agent.dispose();
        await trivial.dispose();
        metrics.push(
          metric(`${CALLS} kv calls in one run, ${label}: whole run`, 'ms', summarise(runMs)),
          metric(`cost per kv call, ${label}`, 'µs', summarise(perCall)),
          metric(`kv calls per second in one run, ${label}`, 'calls/s', single(CALLS / (median(runMs) / 1000), runs)),
        );
      } finally {
        await factory.close();
      }
    }
  } finally {
    rmSync(project.root, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
  return {
    name: 'tools',
    title: `Tools: a tool-heavy agent (${CALLS.toLocaleString('en')} kv calls in one run, process isolation)`,
    metrics,
    notes: [
      `${runs} runs per row after one warm-up run; each run makes ${CALLS} sequential awaited calls (set and get alternating over 100 keys).`,
      'Cost per call = (run time − run time of a trivial agent in the same round) ÷ calls, so the fixed cost of a run is not spread over the calls.',
      'The kv lives in the calling process: in process isolation every set (and the first get of each key in a run) is an IPC round trip from the sandbox host to the caller and back; the gets here read keys the run has written, so they are answered inside the isolate. The round trip of one call is in the tool-call section.',
      ...(quick ? ['--quick: the SQLite kv row is measured in full mode only.'] : []),
    ],
  };
}


await runStandalone(import.meta.url, bench);
