// registry.resolve: a cache hit, and a cold resolve of a 3-file TypeScript template with an empty and a warm bundle cache.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TemplateRegistry } from '../dist/index.js';
import { metric, runStandalone, sample, toMs } from './lib/measure.mjs';

const AGENTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../agents');
// word-stats: main.ts, tokenize.ts and rank.ts, extending base-worker.
const TEMPLATE = 'word-stats';

export default async function bench({ quick = false } = {}) {
  const scale = quick ? 0.2 : 1;
  const cacheRoot = mkdtempSync(path.join(os.tmpdir(), 'af-bench-resolve-'));
  try {
    const bundleCacheDir = path.join(cacheRoot, 'bundles');
    const registry = new TemplateRegistry({ agentsDir: AGENTS, bundleCacheDir });

    await registry.resolve(TEMPLATE);
    const hit = await sample(() => registry.resolve(TEMPLATE), { warmup: 2000, samples: Math.round(20000 * scale) });
    const peek = await sample(() => registry.peek(TEMPLATE), { warmup: 2000, samples: Math.round(20000 * scale) });

    // Empty bundle cache: every sample forgets the resolved template and deletes the bundle on disk.
    const coldEmpty = await sample(() => registry.resolve(TEMPLATE), {
      warmup: 5,
      samples: Math.round(200 * scale),
      before: () => {
        registry.clear();
        rmSync(bundleCacheDir, { recursive: true, force: true });
      },
    });
    // Warm bundle cache: the resolved template is forgotten, the bundle on disk is kept.
    await registry.resolve(TEMPLATE);
    const coldWarm = await sample(() => registry.resolve(TEMPLATE), {
      warmup: 20,
      samples: Math.round(1000 * scale),
      before: () => registry.clear(),
    });
    registry.close();

    return {
      name: 'registry-resolve',
      title: 'registry.resolve (templates)',
      metrics: [
        metric('resolve, cache hit', 'µs', hit, { stat: 'p95', max: 20 }),
        metric('peek, cache hit (sync)', 'µs', peek),
        metric('cold resolve, 3-file TS template, empty bundle cache', 'ms', toMs(coldEmpty), { stat: 'p95', max: 15 }),
        metric('cold resolve, 3-file TS template, warm bundle cache', 'ms', toMs(coldWarm), { stat: 'p95', max: 3 }),
      ],
      notes: [
        'A cold resolve reads agent.json of the template and its parent, validates, merges, applies the environment, compiles the input/output schemas (compiled validators are shared process-wide by schema text), bundles or reads the bundle cache, and digests.',
      ],
    };
  } finally {
    rmSync(cacheRoot, { recursive: true, force: true });
  }
}

await runStandalone(import.meta.url, bench);
