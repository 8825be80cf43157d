// child_process.fork — a new Node process per run, talking over the IPC channel.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentScript } from './code.mjs';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fork-child.mjs');

export default {
  name: 'child_process.fork',
  unit: 'new Node process per run',
  isolated: true,
  note: 'An OS process per run with full Node privileges inside: isolation by process boundary only, no capability model.',
  async open() {
    const scripts = { trivial: agentScript('trivial'), primes: agentScript('primes') };
    return {
      async create(kind) {
        const child = fork(CHILD, [scripts[kind]], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        await once(child);
        return {
          run: async (json) => {
            child.send(json);
            return once(child);
          },
          dispose: () =>
            new Promise((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill();
            }),
        };
      },
      async close() {},
    };
  },
};

function once(child) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      child.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code, signal) => {
      child.off('message', onMessage);
      reject(new Error(`child exited (${code ?? signal}) before answering`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}
