// A child process that writes run records as fast as it can, printing (synchronously) how many it has issued before each tick.
import { writeSync } from 'node:fs';
import { openStore } from '../../../dist/store/index.js';

const [file, batchSize] = process.argv.slice(2);
const store = openStore({ path: file, writer: { batchSize: Number(batchSize), flushIntervalMs: 20 } });
let issued = 0;
function tick() {
  writeSync(1, `issued ${issued}\n`);
  for (let i = 0; i < 100; i++) {
    store.runs.write({
      id: `run-${String(issued).padStart(8, '0')}`, template: 'crash', version: '1.0.0', digest: 'd'.repeat(64), env: 'dev', tenant: 't',
      startedAt: issued, createMs: 0, runMs: 1, cpuMs: 1, heapUsedAtEndBytes: 1, inputBytes: 1, outputBytes: 1, outcome: 'ok', tools: {}, denials: [], logsDropped: 0, depth: 0,
    });
    issued++;
  }
  setImmediate(tick);
}
tick();
