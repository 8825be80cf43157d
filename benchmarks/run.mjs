// Runs every benchmarks/*.bench.mjs in this process and writes results/latest.json and BENCHMARKS.md
// (--quick: results/quick.json only, smaller sample counts, the whole suite in under a minute; naming benchmarks
// without --quick: results/partial.json only).
// Usage: node --no-node-snapshot benchmarks/run.mjs [--quick] [name-prefix ...]
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatNumber, markdownTable } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const quick = process.argv.includes('--quick');
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));

/** Where each scenario of the suite is measured, for the index at the top of the report. */
const SCENARIOS = [
  ['1. create an isolated unit and run a trivial agent once', 'peers (create + run trivial + dispose), runtime'],
  ['2. warm createAgent', 'runtime, peers (against every peer\'s creation)'],
  ['3. throughput, fresh and reused contexts, concurrency 1 and 2 × cores', 'runtime'],
  ['4. CPU-bound agent vs the same code natively', 'runtime (time inside the isolate), peers (wall time, every peer)'],
  ['5. tool-heavy agent: cost per tool call', 'tools, tool-call (one call\'s round trip: readTextFile, fetch, kv.get)'],
  ['6. memory per idle pooled agent', 'memory'],
  ['7. run records on vs off', 'store (slowdown with the store on); telemetry (OpenTelemetry instrumentation)'],
  ['8. cold start of `af` to a first run\'s output', 'cold-start'],
];

const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.mjs'))
  .filter((file) => only.length === 0 || only.some((name) => file.startsWith(name)))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no benchmark matches ${only.join(', ')}\n`);
  process.exit(2);
}

const suiteStarted = performance.now();
const meta = {
  date: new Date().toISOString(),
  commit: gitCommit(),
  node: process.version,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
  quick,
  only,
};

const results = [];
for (const file of files) {
  process.stderr.write(`running ${file}${quick ? ' (quick)' : ''}…\n`);
  const started = performance.now();
  // Other engineers rebuild dist/ while this runs (scripts/build.mjs deletes it first), which can fail a benchmark
  // or crash a sandbox host mid-run: wait for a complete dist/ and retry a failed benchmark once, saying so.
  let retried;
  for (let attempt = 0; ; attempt++) {
    try {
      await waitForDist();
      const module = await importBench(path.join(here, file), attempt);
      const result = await module.default({ quick });
      if (retried) result.notes = [...(result.notes ?? []), `Retried once after the first attempt failed: ${retried}`];
      results.push({ ...result, seconds: (performance.now() - started) / 1000 });
      break;
    } catch (error) {
      if (attempt === 0) {
        retried = error.message.split('\n')[0];
        process.stderr.write(`  ${file} failed (${retried}); retrying once\n`);
        continue;
      }
      results.push({ name: file.replace('.bench.mjs', ''), title: file, skipped: `failed: ${error.message}`, metrics: [], seconds: (performance.now() - started) / 1000 });
      break;
    }
  }
  process.stderr.write(`  ${file}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
meta.seconds = Number(((performance.now() - suiteStarted) / 1000).toFixed(1));
meta.loadAverageAfter = os.loadavg().map((load) => Number(load.toFixed(2)));

const headlines = results.flatMap((result) => result.headlines ?? []);
const peersSkipped = results.flatMap((result) => result.peersSkipped ?? []);
mkdirSync(path.join(here, 'results'), { recursive: true });
// A filtered full run must not overwrite the report of the whole suite.
const outFile = quick ? 'quick.json' : only.length > 0 ? 'partial.json' : 'latest.json';
writeFileSync(path.join(here, 'results', outFile), `${JSON.stringify({ meta, headlines, peersSkipped, results }, null, 2)}\n`);
const markdown = report(meta, results);
if (!quick && only.length === 0) writeFileSync(path.join(root, 'BENCHMARKS.md'), markdown);
process.stdout.write(markdown);
process.stderr.write(`suite: ${meta.seconds} s\n`);
// A benchmark that failed twice is in the report as skipped, and the suite fails: a measurement that did not happen
// (the trust suite, say) must not pass CI as if it had.
const failed = results.filter((result) => typeof result.skipped === 'string' && result.skipped.startsWith('failed'));
if (failed.length > 0) process.stderr.write(`${failed.length === 1 ? '1 benchmark' : `${failed.length} benchmarks`} failed: ${failed.map((result) => `${result.name} (${result.skipped})`).join('; ')}\n`);
// Peers and hosts are closed by each benchmark; exit anyway so a stray handle cannot hold the suite open.
process.exit(failed.length > 0 ? 1 : 0);

function report(meta, results) {
  const lines = [
    '# Benchmarks',
    '',
    `Measured ${meta.date} on ${meta.cpu} (${meta.cores} cores, ${meta.memoryGb} GB), ${meta.platform}, Node ${meta.node}, commit ${meta.commit}${meta.quick ? ', **--quick**' : ''}. The suite took ${meta.seconds} s; load average ${meta.loadAverage.join(' / ')} before and ${meta.loadAverageAfter.join(' / ')} after.`,
    '',
    'Produced by `npm run bench` (or `af bench`). Every timing is a percentile (p50/p95/p99) over many samples after warm-up; throughput, ratios and other derived figures are the median of repeated rounds (n is the number of rounds), and every ratio to a peer is taken within one run. The machine is shared and small: absolute timings are noisy, so compare ratios within one run rather than figures across runs.',
    '',
  ];
  const heads = results.flatMap((result) => result.headlines ?? []);
  if (heads.length > 0) {
    lines.push('## Headlines', '', '| headline | value | target | met |', '|---|---:|---|---|');
    for (const h of heads) {
      if (h.skipped) lines.push(`| ${h.name} | skipped: ${h.skipped} | | |`);
      else lines.push(`| ${h.name} | ${formatNumber(h.value)}${h.unit === '×' ? '×' : ''} | ${h.target ?? 'none'} | ${h.target === undefined ? '' : h.met ? 'yes' : '**no**'} |`);
    }
    lines.push('');
    for (const h of heads) if (h.detail) lines.push(`- ${h.name}: ${h.detail}.`);
    if (heads.some((h) => h.detail)) lines.push('');
  }
  const skipped = results.flatMap((result) => result.peersSkipped ?? []);
  if (results.some((result) => result.name === 'peers')) {
    lines.push(skipped.length === 0 ? 'Peers skipped: none (every peer started).' : `Peers skipped: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`, '');
  }
  lines.push('## Scenarios', '', '| scenario | section |', '|---|---|');
  for (const [scenario, where] of SCENARIOS) lines.push(`| ${scenario} | ${where} |`);
  lines.push('');
  for (const result of results) {
    lines.push(`## ${result.title}`, '');
    if (result.skipped) lines.push(`Skipped: ${result.skipped}`, '');
    if (result.metrics.length > 0) lines.push(markdownTable(result.metrics), '');
    for (const note of result.notes ?? []) lines.push(`- ${note}`);
    if (result.notes?.length) lines.push('');
  }
  lines.push(...tuiMemorySection());
  return `${lines.join('\n')}\n`;
}

/**
 * The terminal UI's memory over a long session: measured by the standalone `benchmarks/tui-memory.mjs` (ten minutes,
 * too long for the suite), whose saved before/after results are reported here so they stay with the other numbers.
 */
function tuiMemorySection() {
  const runs = ['before', 'after']
    .map((label) => ({ label, file: path.join(here, 'results', `tui-memory-${label}.json`) }))
    .filter(({ file }) => existsSync(file))
    .map(({ label, file }) => ({ label, ...JSON.parse(readFileSync(file, 'utf8')) }));
  if (runs.length === 0) return [];
  const minutes = runs[0].perMinute.map((point) => `${Math.round(point.s / 60)}m`);
  const lines = [
    '## Terminal UI: RSS over a 10-minute `:live` session under load (standalone: `node benchmarks/tui-memory.mjs`)',
    '',
    `The real \`af\` UI in tmux at 120×40; a separate process runs ${runs[0].rate} agents a second into the same store. Warm-up: \`:learn\`, reject and accept suggestions, filter \`:runs\`, four resizes, \`:audit\`; then ${runs[0].minutes} minutes on \`:live\`, RSS sampled every 10 s. Target: growth under 20 MB. "before" is the code before the UI's memory fixes.`,
    '',
    `| run | ${minutes.join(' | ')} | growth | lowest, first → last minute | peak | mean CPU |`,
    `|---|${minutes.map(() => '---:').join('|')}|---:|---|---:|---:|`,
  ];
  for (const run of runs) {
    const growth = `${run.growthMb > 0 ? '+' : ''}${run.growthMb.toFixed(1)} MB`;
    lines.push(`| ${run.label} | ${run.perMinute.map((point) => point.rssMb.toFixed(1)).join(' | ')} | ${growth} | ${run.firstMinuteLowMb} → ${run.lastMinuteLowMb} MB | ${run.peakMb} MB | ${run.meanCpuPct}% |`);
  }
  lines.push('');
  return lines;
}

/** dist/ may be mid-rebuild by another build (scripts/build.mjs removes it first): retry briefly. */
async function importBench(file, round) {
  for (let attempt = 0; ; attempt++) {
    try {
      // A query per attempt: a failed ESM import is cached by URL.
      return await import(`${pathToFileURL(file).href}${attempt > 0 || round > 0 ? `?attempt=${round}-${attempt}` : ''}`);
    } catch (error) {
      if (attempt >= 20 || error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      await sleep(500);
    }
  }
}

/** Waits (up to a minute) until dist/ holds the library entry and the sandbox host entry. */
async function waitForDist() {
  const needed = ['dist/index.js', 'dist/sandbox/host-main.js', 'dist/cli/main.js'].map((file) => path.join(root, file));
  for (let i = 0; i < 120 && !needed.every((file) => existsSync(file)); i++) await sleep(500);
}

function gitCommit() {
  try {
    const commit = execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}
