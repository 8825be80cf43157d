// node:vm — a new context per run. NOT a security boundary (the Node docs say so: code can reach the host
// through prototype chains of anything passed in); listed to show what a bare V8 context costs in-process.
import vm from 'node:vm';
import { agentScript } from './code.mjs';

export default {
  name: 'node:vm',
  unit: 'new vm context per run',
  isolated: false,
  note: 'node:vm is NOT a security boundary; shown only as the floor of a fresh V8 context in-process.',
  async open() {
    const scripts = { trivial: new vm.Script(agentScript('trivial')), primes: new vm.Script(agentScript('primes')) };
    return {
      async create(kind) {
        const context = vm.createContext({});
        scripts[kind].runInContext(context);
        const run = context.__run;
        return { run: async (json) => run(json), dispose: async () => {} };
      },
      async close() {},
    };
  },
};
