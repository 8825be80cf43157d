// The HTTP API: requests per second and latency of POST /v1/agents/hello/runs over loopback, with auth and rate limiting on.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createApiServer } from '../dist/api/index.js';
import { createFactory, openStore } from '../dist/index.js';
import { metric, summarise } from './lib/measure.mjs';
import { createBenchProject } from './lib/project.mjs';

const HELLO = `export default async function (input, ctx) {
  const n = ((await ctx.kv.get('n')) ?? 0) + 1;
  await ctx.kv.set('n', n);
  return { greeting: 'Hello, ' + input.name, n };
}
`;

function fire(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

export default async function bench({ quick = false } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'af-bench-api-'));
  const project = createBenchProject({
    hello: {
      manifest: {
        permissions: { kv: true },
        pool: { prewarm: 8 },
        input: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: false },
      },
      source: HELLO,
    },
  });
  const store = openStore({ path: path.join(dir, 'factory.db') });
  const factory = await createFactory({ root: project.root, store, prewarm: ['hello'] });
  const { key } = store.tenants.createApiKey('bench', 'operator', 'benchmark');
  // Rate limiting stays on (every request is counted against the key) with a budget the benchmark cannot exhaust.
  const app = createApiServer({ factory, store, telemetry: false, rateLimit: { timeWindowMs: 60_000, max: { operator: 1_000_000_000 } } });
  try {
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const connections = 2 * os.availableParallelism();
    const request = {
      url: `${base}/v1/agents/hello/runs`,
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { name: 'Ada' } }),
      connections,
      pipelining: 1,
    };
    await fire({ ...request, duration: 1 });

    const rounds = quick ? 1 : 3;
    const duration = quick ? 3 : 10;
    const rps = [];
    const p50 = [];
    const p99 = [];
    let failures = 0;
    let total = 0;
    for (let i = 0; i < rounds; i++) {
      const result = await fire({ ...request, duration });
      rps.push(result.requests.average);
      p50.push(result.latency.p50);
      p99.push(result.latency.p99);
      failures += result.non2xx + result.errors + result.timeouts;
      total += result.requests.total;
    }
    if (failures > 0) throw new Error(`${failures} of ${total} requests failed; the numbers would not measure successful runs`);
    const recorded = (store.runs.flushNow(), store.queries.count());

    return {
      name: 'api',
      title: 'HTTP API: POST /v1/agents/hello/runs over loopback (auth + rate limiting on)',
      metrics: [
        metric(`requests/s, ${connections} connections`, 'req/s', { ...summarise(rps), n: rps.length }),
        metric('latency p50 (per round)', 'ms', { ...summarise(p50), n: p50.length }),
        metric('latency p99 (per round)', 'ms', { ...summarise(p99), n: p99.length }),
      ],
      notes: [
        `autocannon, ${connections} connections, no pipelining, ${rounds} round(s) of ${duration} s after a 1 s warm-up; each figure's p50 is the median of its rounds.`,
        'Each request: Bearer key check (SHA-256 + SQLite lookup), per-key rate limit (budget 1e9/min so it never throttles), body validation, createAgent + run + dispose in a sandbox host process (kv get/set), the run recorded in SQLite, the answer serialised by schema.',
        `Telemetry SDK off for this measurement; ${total} requests, all 2xx; ${recorded} runs recorded (the warm-up included).`,
      ],
    };
  } finally {
    await app.close();
    await factory.close();
    await store.close();
    rmSync(project.root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
