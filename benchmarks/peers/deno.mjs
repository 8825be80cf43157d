// Deno — `deno run` with no permissions (deny-by-default, like the factory), one process per run. The binary is
// the one the `deno` npm package (a development dependency) installs for this platform.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentScript } from './code.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'deno-child.js');
// The Linux x64 binary package of Deno, which the `deno` wrapper installs as its optional dependency on this platform.
const BIN = path.join(here, '../../node_modules/@deno/linux-x64-glibc/deno');
const ARGS = ['run', '--no-prompt', '--no-config', '--no-lock', '--no-remote', '--no-npm', '--quiet', '--v8-flags=--max-old-space-size=64', CHILD];

export default {
  name: 'deno',
  unit: '`deno run` (no permissions) process per run',
  isolated: true,
  note: 'A Deno process per run with no permissions granted: the closest peer in security model (deny-by-default capabilities).',
  async open() {
    if (!existsSync(BIN)) throw new Error(`no deno binary at ${path.relative(process.cwd(), BIN)} (the development dependency "deno" installs @deno/linux-x64-glibc on Linux x64 with glibc only)`);
    const probe = spawnSync(BIN, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (probe.status !== 0) throw new Error(`deno --version failed: ${(probe.stderr || probe.error?.message || `status ${probe.status}`).trim()}`);
    const version = probe.stdout.split('\n')[0];
    const scripts = { trivial: agentScript('trivial'), primes: agentScript('primes') };
    // Keep Deno's cache out of the user's home and the repo.
    const env = { PATH: process.env.PATH, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_DIR: path.join(process.env.TMPDIR ?? '/tmp', 'af-bench-deno') };
    return {
      version,
      async create(kind) {
        const child = spawn(BIN, [...ARGS, scripts[kind]], { env, stdio: ['pipe', 'pipe', 'inherit'] });
        const lines = lineReader(child);
        const ready = await lines.next();
        if (ready !== 'ready') throw new Error(`deno child said ${JSON.stringify(ready)} instead of ready`);
        return {
          run: async (json) => {
            child.stdin.write(`${json}\n`);
            return lines.next();
          },
          dispose: () =>
            new Promise((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.stdin.end();
              child.kill();
            }),
        };
      },
      async close() {},
    };
  },
};

/** Hands out the child's stdout one line at a time. */
function lineReader(child) {
  let buffered = '';
  const waiting = [];
  const lines = [];
  let failure;
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const next = waiting.shift();
      if (next) next.resolve(line);
      else lines.push(line);
    }
  });
  child.once('error', (error) => fail(error));
  child.once('exit', (code, signal) => fail(new Error(`deno exited (${code ?? signal})`)));
  function fail(error) {
    failure = error;
    for (const next of waiting.splice(0)) next.reject(error);
  }
  return {
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift())
        : failure
          ? Promise.reject(failure)
          : new Promise((resolve, reject) => waiting.push({ resolve, reject })),
  };
}
