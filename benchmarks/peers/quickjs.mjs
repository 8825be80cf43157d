// QuickJS (quickjs-emscripten, WebAssembly): a new QuickJS runtime and context per run. An interpreter, so no JIT:
// cheap to create, slow on CPU-bound code.
import { agentScript } from './code.mjs';

export default {
  name: 'quickjs',
  unit: 'new QuickJS runtime + context per run',
  isolated: true,
  note: 'quickjs-emscripten: a separate interpreter heap inside WebAssembly linear memory; no JIT.',
  async open() {
    let getQuickJS;
    try {
      ({ getQuickJS } = await import('quickjs-emscripten'));
    } catch (error) {
      throw new Error(`quickjs-emscripten is not installed (${error.code ?? error.message})`);
    }
    // Loading the WebAssembly module happens once per process, like isolated-vm's native addon: not per run.
    const QuickJS = await getQuickJS();
    const scripts = { trivial: agentScript('trivial'), primes: agentScript('primes') };
    return {
      async create(kind) {
        const runtime = QuickJS.newRuntime();
        runtime.setMemoryLimit(64 * 1024 * 1024);
        const context = runtime.newContext();
        context.unwrapResult(context.evalCode(scripts[kind])).dispose();
        return {
          run: async (json) => {
            const handle = context.unwrapResult(context.evalCode(`__run(${JSON.stringify(json)})`));
            const out = context.getString(handle);
            handle.dispose();
            return out;
          },
          dispose: async () => {
            context.dispose();
            runtime.dispose();
          },
        };
      },
      async close() {},
    };
  },
};
