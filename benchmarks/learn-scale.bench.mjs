// `af learn` at scale: one learning pass over 100,000 run records of eight templates (target: at most 30 s here).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { learn, openStore, TemplateRegistry } from '../dist/index.js';
import { metric, runStandalone, summarise } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

/** mulberry32: a seeded PRNG, so every run of the benchmark learns from the same record. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default async function bench({ quick = false } = {}) {
  const total = quick ? 5_000 : 100_000;
  // Quick mode trains fewer models, so the whole quick suite stays under a minute.
  const templateCount = quick ? 4 : 8;
  const templates = Object.fromEntries(
    Array.from({ length: templateCount }, (_, i) => [
      `scaled-${i}`,
      {
        manifest: {
          limits: { memoryMb: 128, timeoutMs: 5000, cpuMs: 5000 },
          permissions: { kv: true, net: ['api.example.com'] },
          input: { type: 'object', properties: { items: { type: 'array' } } },
        },
        source: 'export default (input) => input;\n',
      },
    ]),
  );
  const project = createBenchProject(templates);
  const store = openStore({ path: path.join(project.root, '.af/factory.db'), writer: { maxQueue: total } });
  const registry = new TemplateRegistry({ agentsDir: path.join(project.root, 'agents') });
  try {
    const random = seeded(11);
    const start = Date.parse('2026-10-01T00:00:00Z');
    const digests = {};
    for (const name of Object.keys(templates)) {
      const resolved = await registry.inspect(name);
      digests[name] = resolved.digest;
      store.versions.record({ name, version: '1.0.0', digest: resolved.digest, manifest: resolved.inherited, sources: resolved.sources, bundle: resolved.code });
    }
    const names = Object.keys(templates);
    for (let i = 0; i < total; i++) {
      const name = names[i % templateCount];
      const size = Math.floor(random() * 1000);
      const failed = size > 950;
      store.runs.write({
        id: `run-${i}`, template: name, version: '1.0.0', digest: digests[name], env: 'dev', tenant: 'default',
        startedAt: start + Math.floor((i * 7 * 86_400_000) / total), createMs: 0.05, runMs: 2 + size / 50 + random(), cpuMs: 1 + size / 60 + random(),
        heapUsedAtEndBytes: Math.round((4 + size / 100 + random()) * 1048576), ...(failed ? { censoredBy: 'timeoutMs' } : { heapGrowthBytes: Math.round((1 + size / 200 + random()) * 1048576) }), inputBytes: 20 + size * 8, outputBytes: 40,
        outcome: failed ? 'error' : 'ok', ...(failed ? { errorCode: 'E_TIMEOUT' } : {}), tools: { log: 1 }, denials: [], logsDropped: 0, depth: 0,
        inputShape: { depth: 2, maxArrayLength: size, maxStringLength: 5, topLevelKeys: 1, lengths: { items: size } },
      });
    }
    await store.runs.flush();
    const started = performance.now();
    const result = await learn({ store, registry });
    const seconds = (performance.now() - started) / 1000;
    const byKind = {};
    for (const s of result.created) byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
    return {
      name: 'learn-scale',
      title: '`af learn` on a large run record',
      metrics: [metric(`one learning pass over ${total.toLocaleString('en')} runs of ${templateCount} templates`, 's', { ...summarise([seconds]), n: 1 }, { stat: 'p50', max: 30 })],
      notes: [
        `TensorFlow.js backend: ${result.backend}. Suggestions made: ${Object.entries(byKind).map(([kind, n]) => `${kind} ${n}`).join(', ')}.`,
        'Per template and limit: the VPA rule, Autopilot\'s moving window and (CPU and wall time) the conditional log–log rule, each calibrated to a 1 % hit budget on a three-window walk-forward backtest; for memory also the neural model (one training per window plus the final model, saved to the store).',
      ],
    };
  } finally {
    registry.close();
    await store.close();
    rmSync(project.root, { recursive: true, force: true });
  }
}

await runStandalone(import.meta.url, bench);
