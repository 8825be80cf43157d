// worker_threads — a new worker (its own V8 isolate and event loop, same process) per run.
import { Worker } from 'node:worker_threads';
import { agentScript } from './code.mjs';

const BOOT = (kind) => `
const { parentPort } = require('node:worker_threads');
${agentScript(kind)}
parentPort.on('message', (json) => parentPort.postMessage(globalThis.__run(json)));
parentPort.postMessage('ready');
`;

export default {
  name: 'worker_threads',
  unit: 'new Worker per run',
  isolated: true,
  note: 'A separate isolate in the same process: memory-isolated, but shares the process (no OS boundary).',
  async open() {
    const boot = { trivial: BOOT('trivial'), primes: BOOT('primes') };
    return {
      async create(kind) {
        // execArgv [] so workers do not inherit --no-node-snapshot flags or the like from the benchmark process.
        const worker = new Worker(boot[kind], { eval: true, execArgv: [] });
        await once(worker);
        return {
          run: async (json) => {
            worker.postMessage(json);
            return once(worker);
          },
          dispose: () => worker.terminate(),
        };
      },
      async close() {},
    };
  },
};

function once(worker) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      worker.off('error', onError);
      resolve(message);
    };
    const onError = (error) => {
      worker.off('message', onMessage);
      reject(error);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}
