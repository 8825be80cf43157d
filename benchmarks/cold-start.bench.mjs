// Scenario 8: cold start of the `af` process to a first run's output — `af run echo --input '{}'`, wall time of
// the whole process, in a temp project holding a copy of the bundled echo agent (nothing in the repo changes).
// Bare `node` and `deno run` printing the same output are measured alongside, as the floor a process start costs.
// Where the time goes: the same runs with AF_STARTUP_TRACE=1 (core/startup-trace), whose marks of the `af` process and
// of its sandbox host share one clock (ms from the `af` process's start); rows are each mark's p50 and the segments
// between them, so what is left above the floors is visible.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
  const headlines = [];
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
    const coldP50 = summarise(afRuns).p50;
    headlines.push({ name: '`af run echo` cold, process start to output, p50 (ms)', value: coldP50, target: 'p50 ≤ 250 ms', met: coldP50 <= 250 });
    const traced = Array.from({ length: samples }, () => marksOf(project, { ...env, AF_STARTUP_TRACE: '1' }));
    const at = (mark) => traced.map((marks) => marks[mark]).filter((value) => value !== undefined);
    const between = (from, to) => traced.filter((marks) => marks[from] !== undefined && marks[to] !== undefined).map((marks) => marks[to] - marks[from]);
    for (const mark of TIMELINE) if (at(mark).length > 0) metrics.push(metric(`timeline of a run here: ${mark}`, 'ms', summarise(at(mark))));
    for (const [label, from, to] of SEGMENTS) if (between(from, to).length > 0) metrics.push(metric(`segment: ${label}`, 'ms', summarise(between(from, to))));
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
      const handoffP50 = summarise(handoffRuns).p50;
      headlines.push({ name: '`af run echo` handed to a running `af serve`, process start to output, p50 (ms)', value: handoffP50, target: 'p50 ≤ 50 ms', met: handoffP50 <= 50 });
      const server = served.serverMs().slice(-samples);
      metrics.push(metric('… of which the server (request read to answer written)', 'ms', summarise(server)));
      const handedTrace = Array.from({ length: samples }, () => marksOf(project, { ...env, AF_STARTUP_TRACE: '1' }));
      metrics.push(
        metric('timeline handed over: cli: first line (Node\'s bootstrap)', 'ms', summarise(handedTrace.map((marks) => marks['cli: first line']))),
        metric('segment handed over: first line → answer from af serve (client, socket, server)', 'ms', summarise(handedTrace.map((marks) => marks['cli: answer from af serve'] - marks['cli: first line']))),
        metric('segment handed over: answer → exit', 'ms', summarise(handedTrace.map((marks) => marks['cli: exit'] - marks['cli: answer from af serve']))),
      );
    } finally {
      await served.stop();
    }
    const node = times(samples, () => execFileSync(process.execPath, ['-e', 'console.log("{}")'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    metrics.push(metric('floor: `node -e` printing {}', 'ms', summarise(node)));
    headlines.push({ name: 'floor for both: `node -e` printing {}, p50 (ms)', value: summarise(node).p50 });
    // What every sandbox host pays before its first line: isolated-vm needs --no-node-snapshot (Node then builds its
    // start-up state instead of loading it).
    const bootstrap = (flags) => Number(execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write(performance.now().toFixed(2))'], { encoding: 'utf8' }));
    metrics.push(
      metric('floor: `node -e` wall, with --no-node-snapshot (as a sandbox host starts)', 'ms', summarise(times(samples, () => execFileSync(process.execPath, ['--no-node-snapshot', '-e', 'console.log("{}")'], { stdio: ['ignore', 'pipe', 'ignore'] })))),
      metric('floor: Node bootstrap, process start → first line', 'ms', summarise(Array.from({ length: samples }, () => bootstrap([])))),
      metric('floor: Node bootstrap with --no-node-snapshot, process start → first line', 'ms', summarise(Array.from({ length: samples }, () => bootstrap(['--no-node-snapshot'])))),
    );
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
    '`af` is `node bin/af.js` (the bundled CLI, dist/cli-bundle/): Node start, the hand-off check (dist/cli-bundle/handoff.cjs), forking the sandbox host (dist/cli-bundle/prestart.cjs, before the ES module loader and the bundle load; its start overlaps the rest), loading the bundle, the lockdown probe from .af/cache (per boot), opening the store, resolving the template (bundle cache warm after the first run), one run, shutting down. AF_NO_HANDOFF=1 for these rows: no server is running then anyway.',
    'Handed over: `af run` finds .af/serve.json, connects to the server\'s Unix socket, and the server runs the same command on its warm factory (template resolved fresh from disk); the client prints what it answers. The server row is that work alone, from the server\'s log. bin/af.js is CommonJS and loads only the hand-off client (dist/cli-bundle/handoff.cjs, Node\'s modules only) for it: no ES module loader, no CLI.',
    `Timeline and segment rows: ${samples} more runs each with AF_STARTUP_TRACE=1; each mark is ms from the \`af\` process's start (the host's marks on the same clock), p50 per mark, so the timeline rows need not add up. A run here is critical-path bound by the host: its start (fork → ready) runs while the CLI opens its factory, and the CLI then waits for it; what the host pays before its first line is the --no-node-snapshot floor row.`,
  );
  return { name: 'cold-start', title: 'Cold start: the `af` process to a first run\'s output', metrics, headlines, notes };
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

/** The marks of a traced run here, in the order a cold run reaches them. */
const TIMELINE = [
  'cli: first line',
  'cli: hand-off checked, runs here',
  'cli: host forked',
  'host: node started',
  'cli: command tree loaded',
  'cli: runtime loaded',
  'cli: factory open',
  'host: modules loaded',
  'host: init done, ready sent',
  'host: run received',
  'host: isolated-vm loaded',
  'host: result sent',
  'cli: run settled',
  'cli: result printed, closing',
  'host: close received',
  'cli: factory closed',
  'cli: exit',
];

/** [label, from mark, to mark]: the stretches of a traced run here. */
const SEGMENTS = [
  ['Node bootstrap of `af` (process start → first line)', 'cli: process started', 'cli: first line'],
  ['first line → host forked (hand-off check, CLI chunks, lockdown probe cache)', 'cli: first line', 'cli: host forked'],
  ['host forked → host\'s Node started (launchers prlimit, unshare, setpriv; exec)', 'cli: host forked', 'host: node started'],
  ['host\'s Node started → host modules loaded (bootstrap with --no-node-snapshot, the host bundle)', 'host: node started', 'host: modules loaded'],
  ['host forked → host ready (the host\'s whole start)', 'cli: host forked', 'host: init done, ready sent'],
  ['in the CLI meanwhile: host forked → factory open (command tree, runtime, store, template)', 'cli: host forked', 'cli: factory open'],
  ['host: run received → result sent (isolated-vm load, first context, the run)', 'host: run received', 'host: result sent'],
  ['result printed → factory closed (teardown: host exit, store close)', 'cli: result printed, closing', 'cli: factory closed'],
];

/** `af run echo` with AF_STARTUP_TRACE=1: each mark's time (ms from the `af` process's start). */
function marksOf(project, env) {
  const run = spawnSync(process.execPath, [AF, 'run', 'echo', '--input', '{}'], { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0 || run.stdout.trim() !== '{}') throw new Error(`af run echo (traced) exited ${run.status}: ${run.stderr}`);
  const marks = {};
  for (const line of run.stderr.split('\n')) {
    const found = /^af-trace ([\d.]+) (.+)$/.exec(line);
    if (found) marks[found[2]] ??= Number(found[1]);
  }
  return marks;
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
