// Scenario 8: cold start of the `af` process to a first run's output — `af run echo --input '{}'`, wall time of
// the whole process, in a temp project holding a copy of the bundled echo agent (nothing in the repo changes).
// Bare `node` and `deno run` printing the same output are measured alongside, as the floor a process start costs.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { metric, runStandalone, summarise } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const AF = path.join(here, '../bin/af.js');
// The Linux x64 binary package of Deno (an optional dependency).
const DENO = path.join(here, '../node_modules/@deno/linux-x64-glibc/deno');

export default async function bench({ quick = false } = {}) {
  const samples = quick ? 2 : 15;
  const project = mkdtempSync(path.join(os.tmpdir(), 'af-bench-cold-'));
  cpSync(path.join(here, '../agents/echo'), path.join(project, 'agents/echo'), { recursive: true });
  const env = { ...process.env, NO_COLOR: '1', AF_ROOT: project };
  delete env.AF_HOME;
  const notes = [];
  const metrics = [];
  try {
    // The very first run in a fresh project also creates .af/ (store, bundle cache): reported on its own.
    const first = wall(() => af(project, env));
    const afRuns = times(samples, () => af(project, env), false);
    const noHandoff = { ...env, AF_NO_HANDOFF: '1' };
    const unbundled = times(samples, () => af(project, noHandoff, path.join(here, '../dist/cli/main.js')), false);
    metrics.push(
      metric('`af run echo --input {}`, first run in a fresh project', 'ms', { ...summarise([first]), n: 1 }),
      metric('`af run echo --input {}`, process start to output', 'ms', summarise(afRuns)),
      metric('… the same, unbundled (dist/cli/main.js)', 'ms', summarise(unbundled)),
    );
    // A one-shot run handed to a running `af serve` of the project (cli/handoff-client): the server is started here,
    // warmed by one run, and stopped after.
    const served = await startServer(project, env);
    try {
      af(project, env);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const handed = served.handedOver();
      const handoffRuns = times(samples, () => af(project, env), false);
      // This process was blocked in execFileSync: let the server's log lines arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (served.handedOver() - handed !== samples) throw new Error(`af serve took ${served.handedOver() - handed} of ${samples} runs`);
      metrics.push(metric('`af run echo --input {}` handed to a running `af serve`, process start to output', 'ms', summarise(handoffRuns)));
      const server = served.serverMs().slice(-samples);
      metrics.push(metric('… of which the server (request read to answer written)', 'ms', summarise(server)));
    } finally {
      await served.stop();
    }
    const node = times(samples, () => execFileSync(process.execPath, ['-e', 'console.log("{}")'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    metrics.push(metric('floor: `node -e` printing {}', 'ms', summarise(node)));
    if (existsSync(DENO)) {
      const denoEnv = { PATH: process.env.PATH, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_DIR: path.join(os.tmpdir(), 'af-bench-deno') };
      const deno = times(samples, () => execFileSync(DENO, ['eval', '--quiet', 'console.log("{}")'], { env: denoEnv, stdio: ['ignore', 'pipe', 'ignore'] }));
      metrics.push(metric('peer: `deno eval` printing {}', 'ms', summarise(deno)));
    } else {
      notes.push('Skipped the deno row: no deno binary in node_modules/.bin (the optional dependency @deno/linux-x64-glibc is not installed: it exists for Linux x64 with glibc only).');
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
  notes.unshift(
    `${samples} runs per row after one warm-up (for af, the "first run" row is that warm-up, timed); each is a whole process, started with execFileSync, until it exits after printing the output.`,
    '`af` is `node bin/af.js` (the bundled CLI, dist/cli-bundle/): Node start, loading the bundle, forking the sandbox host first (its start overlaps the rest), the lockdown probe from .af/cache (per boot), opening the store, resolving the template (bundle cache warm after the first run), one run, shutting down. AF_NO_HANDOFF=1 for these rows: no server is running then anyway.',
    'Handed over: `af run` finds .af/serve.json, connects to the server\'s Unix socket, and the server runs the same command on its warm factory (template resolved fresh from disk); the client prints what it answers. The server row is that work alone, from the server\'s log.',
  );
  return { name: 'cold-start', title: 'Cold start: the `af` process to a first run\'s output', metrics, notes };
}

/** `af serve` in the project, until `{"url"}`: its count of handed-over runs and their server-side times, from its log. */
async function startServer(project, env) {
  const child = spawn(AF, ['serve', '--port', '0', '--json'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('{"url"')) resolve();
    });
    exited.then(() => reject(new Error(`af serve exited:\n${stderr}`)));
  });
  const lines = () => stderr.split('\n').filter((line) => line.includes('(handed over by pid'));
  return {
    handedOver: () => lines().length,
    serverMs: () => lines().map((line) => Number(/ exit \d+ ([\d.]+) ms/.exec(line)?.[1])),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function af(project, env, entry = AF) {
  const out = execFileSync(process.execPath, [entry, 'run', 'echo', '--input', '{}'], { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (out.trim() !== '{}') throw new Error(`af run echo printed ${JSON.stringify(out)}`);
}

function wall(fn) {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

function times(samples, fn, warmup = true) {
  if (warmup) fn(); // file system caches, Deno's cache directory
  return Array.from({ length: samples }, () => wall(fn));
}

await runStandalone(import.meta.url, bench);
