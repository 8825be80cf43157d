// Scenario 8: cold start of the `af` process to a first run's output — `af run echo --input '{}'`, wall time of
// the whole process, in a temp project holding a copy of the bundled echo agent (nothing in the repo changes).
// Bare `node` and `deno run` printing the same output are measured alongside, as the floor a process start costs.
import { execFileSync } from 'node:child_process';
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
    metrics.push(
      metric('`af run echo --input {}`, first run in a fresh project', 'ms', { ...summarise([first]), n: 1 }),
      metric('`af run echo --input {}`, process start to output', 'ms', summarise(afRuns)),
    );
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
    '`af` is bin/af.js started directly (its shebang passes --no-node-snapshot, so it does not re-launch itself): Node start, loading dist/, resolving the template (bundle cache warm after the first run), starting sandbox hosts, one run, shutting down.',
  );
  return { name: 'cold-start', title: 'Cold start: the `af` process to a first run\'s output', metrics, notes };
}

function af(project, env) {
  const out = execFileSync(AF, ['run', 'echo', '--input', '{}'], { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
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
