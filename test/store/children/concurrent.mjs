// One of several processes writing the same database at once: runs, kv and audit entries. Exits non-zero on any error.
import { openStore } from '../../../dist/store/index.js';

const [file, name, count] = process.argv.slice(2);
const store = openStore({ path: file, writer: { batchSize: 200, flushIntervalMs: 10 } });
const total = Number(count);
for (let i = 0; i < total; i++) {
  store.runs.write({
    id: `${name}-${i}`, template: name, version: '1.0.0', digest: 'd'.repeat(64), env: 'dev', tenant: 't',
    startedAt: Date.now(), createMs: 0, runMs: 1, cpuMs: 1, heapUsedAtEndBytes: 1, inputBytes: 1, outputBytes: 1, outcome: 'ok', tools: {}, denials: [], logsDropped: 0, depth: 0,
  });
  if (i % 50 === 0) {
    const result = store.kv.set({ template: 'shared', tenant: 't' }, `${name}-${i}`, JSON.stringify(i), 10_000_000);
    if (!result.ok) throw new Error('kv quota');
    store.audit.append({ type: 'test.write', subject: name, data: { i } });
  }
  if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await store.close();
process.stdout.write(JSON.stringify({ name, written: store.runs.written, dropped: store.runs.dropped }));
