// Raw isolated-vm, no factory: what the factory's own layers (templates, pool, host process, IPC, prelude,
// permissions, validation, run records) cost on top of the engine it is built on. Synchronous calls in this
// process: the cheapest way to use isolated-vm, so the comparison flatters the peer, not the factory.
import { loadIsolatedVm } from '../../dist/sandbox/isolate-library.js';
import { agentScript } from './code.mjs';

// Roomy: a thousand released contexts wait for a GC in one isolate, and a tight limit would kill the isolate first.
const MEMORY_MB = 256;

async function loadIvm() {
  try {
    return loadIsolatedVm();
  } catch (error) {
    throw new Error(`isolated-vm cannot load (${error.code ?? error.message}); run node with --no-node-snapshot`);
  }
}

/** A fresh context per run in one long-lived isolate whose scripts are compiled once (the factory's model). */
export const ivmContext = {
  name: 'isolated-vm (context)',
  unit: 'new context per run in a warm isolate',
  isolated: true,
  note: 'Raw isolated-vm, fresh context per run in one isolate, script compiled once, sync calls in-process: no host process, no IPC, no prelude.',
  async open() {
    const ivm = await loadIvm();
    const isolate = new ivm.Isolate({ memoryLimit: MEMORY_MB });
    const scripts = { trivial: isolate.compileScriptSync(agentScript('trivial')), primes: isolate.compileScriptSync(agentScript('primes')) };
    return {
      async create(kind) {
        const context = isolate.createContextSync();
        scripts[kind].runSync(context);
        const run = context.global.getSync('__run', { reference: true });
        return {
          run: async (json) => run.applySync(undefined, [json]),
          dispose: async () => {
            run.release();
            context.release();
          },
        };
      },
      async close() {
        for (const script of Object.values(scripts)) script.release();
        isolate.dispose();
      },
    };
  },
};

/** A fresh isolate (its own heap) per run: the strongest in-process isolation isolated-vm offers. */
export const ivmIsolate = {
  name: 'isolated-vm (isolate)',
  unit: 'new isolate + context per run',
  isolated: true,
  note: 'Raw isolated-vm, a new isolate per run (own heap, compile per run), sync calls in-process.',
  async open() {
    const ivm = await loadIvm();
    const sources = { trivial: agentScript('trivial'), primes: agentScript('primes') };
    return {
      async create(kind) {
        const isolate = new ivm.Isolate({ memoryLimit: MEMORY_MB });
        const context = isolate.createContextSync();
        isolate.compileScriptSync(sources[kind]).runSync(context);
        const run = context.global.getSync('__run', { reference: true });
        return { run: async (json) => run.applySync(undefined, [json]), dispose: async () => isolate.dispose() };
      },
      async close() {},
    };
  },
};
