#!/usr/bin/env node
// The terminal UI's memory over a long session: the real `af` UI in a tmux pseudo-terminal, first doing what a
// person does (:learn, the suggestions, :runs with a filter, a few resizes), then left on :live while a separate
// process runs agents at a steady rate into the same store. Samples the UI process's RSS and CPU every interval.
//
// Standalone, not part of `npm run bench` (it takes minutes):
//   node scripts/build.mjs && node benchmarks/tui-memory.mjs [--minutes 10] [--interval 10] [--rate 20] [--repo DIR] [--json FILE]
// --repo points at another checkout (with dist/ built) to measure it the same way, e.g. the code before a change.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    interval: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    repo: { type: 'string' },
    json: { type: 'string' },
    'no-warmup': { type: 'boolean', default: false },
    // Extra flags for the UI's node, e.g. --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp to look inside it.
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const REPO = path.resolve(values.repo ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const MINUTES = Number(values.minutes);
const INTERVAL_S = Number(values.interval);
const RATE = Number(values.rate);
const SESSION = `af-tui-memory-${process.pid}`;

if (spawnSync('tmux', ['-V']).status !== 0) {
  console.error('tui-memory: needs tmux (apt-get install tmux)');
  process.exit(2);
}

const tmux = (...args) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', SESSION);
async function waitFor(pattern, timeoutMs = 60_000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const text = screen();
    if (pattern.test(text)) return text;
    await sleep(200);
  }
  throw new Error(`the UI never showed ${pattern}; it shows:\n${screen()}`);
}
async function keys(...items) {
  for (const item of items) {
    if (item.literal !== undefined) tmux('send-keys', '-t', SESSION, '-l', item.literal);
    else tmux('send-keys', '-t', SESSION, item);
    await sleep(150);
  }
}
const type = (text) => ({ literal: text });

function procStatus(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime, fields 14 and 15 of /proc/PID/stat (counted after the command name).
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMb: rssKb / 1024, cpuS: ticks / 100 };
}

const root = mkdtempSync(path.join(os.tmpdir(), 'af-tui-memory-'));
for (const name of ['hello', 'echo', 'word-stats', 'base-worker']) cpSync(path.join(REPO, 'agents', name), path.join(root, 'agents', name), { recursive: true });

// The load: its own process, as `af serve` or a library user would be, writing runs into the project's store.
const loadScript = path.join(root, 'load.mjs');
writeFileSync(
  loadScript,
  `import { createFactory } from ${JSON.stringify(path.join(REPO, 'dist/index.js'))};
const factory = await createFactory({ root: ${JSON.stringify(root)} });
const inputs = [['hello', { name: 'Ada' }], ['echo', { n: 1 }], ['word-stats', { text: 'the quick brown fox jumps over the lazy dog' }], ['hello', { name: '' }]];
let i = 0, stopping = false;
process.on('SIGTERM', () => { stopping = true; });
const gap = 1000 / ${RATE};
let next = Date.now();
while (!stopping) {
  const [name, input] = inputs[i++ % inputs.length];
  await factory.runSettled(name, input);
  next += gap;
  const wait = next - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait)); else next = Date.now();
}
await factory.close();
`,
);

let cleanedUp = false;
function cleanUp() {
  if (cleanedUp) return;
  cleanedUp = true;
  load.kill('SIGTERM');
  spawnSync('tmux', ['kill-session', '-t', SESSION]);
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp();
    setTimeout(() => {
      rmSync(root, { recursive: true, force: true });
      process.exit(130);
    }, 1000);
  });
}

const load = spawn(process.execPath, ['--no-node-snapshot', loadScript], { stdio: ['ignore', 'ignore', 'inherit'] });
// `exec` makes the pane's process the UI itself (no shell, no launcher re-run in between), so its pid is the one to watch.
const command = `cd ${JSON.stringify(root)} && AF_ROOT=${JSON.stringify(root)} exec ${JSON.stringify(process.execPath)} --no-node-snapshot ${values['node-arg'].map((arg) => JSON.stringify(arg)).join(' ')} ${JSON.stringify(path.join(REPO, 'bin/af.js'))} 2>${JSON.stringify(path.join(root, 'af.stderr'))}`;
tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', 'sh', '-c', command);
const pid = Number(tmux('display-message', '-p', '-t', SESSION, '#{pane_pid}').trim());

const samples = [];
let exitCode = 0;
try {
  await waitFor(/hello\s+1\.0\.0/);
  console.error(`tui-memory: UI pid ${pid}, ${RATE} runs/s, ${MINUTES} min on :live, sampling every ${INTERVAL_S}s (${REPO})`);
  if (!values['no-warmup']) {
    // What a session does before it sits on :live: learn, look at suggestions and runs, filter, resize.
    await sleep(15_000); // some runs for the learner
    await keys(type(':learn'), 'Enter');
    await waitFor(/learned from|E_[A-Z_]+|needs? /, 120_000).catch(() => undefined);
    // Reject one suggestion with a reason, accept the next (keys that find no suggestion do nothing).
    await keys(type(':suggestions'), 'Enter');
    await sleep(1500);
    await keys('Enter');
    await sleep(1500);
    await keys('x', type('not now'), 'Enter');
    await sleep(1500);
    await keys('Escape', 'Enter');
    await sleep(1500);
    await keys('a', 'y');
    await sleep(5000);
    await keys('Escape', type(':runs'), 'Enter', type('/hello'), 'Enter');
    await sleep(1500);
    for (const [x, y] of [[100, 30], [80, 24], [140, 45], [120, 40]]) {
      tmux('resize-window', '-t', SESSION, '-x', String(x), '-y', String(y));
      await sleep(500);
    }
    await keys('Escape', type(':audit'), 'Enter');
    await sleep(1500);
  }
  await keys(type(':live'), 'Enter');
  await waitFor(/runs\/s/);
  const started = Date.now();
  const first = procStatus(pid);
  let lastCpu = first.cpuS;
  let lastAt = started;
  samples.push({ s: 0, rssMb: first.rssMb, cpuPct: 0 });
  while (Date.now() - started < MINUTES * 60_000) {
    await sleep(INTERVAL_S * 1000 - ((Date.now() - started) % (INTERVAL_S * 1000)));
    const now = Date.now();
    const current = procStatus(pid);
    samples.push({ s: Math.round((now - started) / 1000), rssMb: current.rssMb, cpuPct: (100 * (current.cpuS - lastCpu)) / ((now - lastAt) / 1000) });
    lastCpu = current.cpuS;
    lastAt = now;
    const last = samples.at(-1);
    console.error(`  ${String(last.s).padStart(4)} s  rss ${last.rssMb.toFixed(1)} MB  cpu ${last.cpuPct.toFixed(1)}%`);
  }
  // Still answering keys after the session?
  await keys(type(':runs'), 'Enter');
  await waitFor(/STARTED \(UTC\)/, 30_000);
  await keys(type(':q'), 'Enter');
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  cleanUp();
  await sleep(1000);
  rmSync(root, { recursive: true, force: true });
}

if (samples.length > 0) {
  const start = samples[0].rssMb;
  const end = samples.at(-1).rssMb;
  const peak = Math.max(...samples.map((sample) => sample.rssMb));
  const perMinute = samples.filter((sample) => sample.s % 60 === 0 || sample === samples.at(-1));
  const cpu = samples.slice(1).map((sample) => sample.cpuPct);
  const summary = {
    repo: REPO,
    minutes: MINUTES,
    rate: RATE,
    startMb: +start.toFixed(1),
    endMb: +end.toFixed(1),
    peakMb: +peak.toFixed(1),
    growthMb: +(end - start).toFixed(1),
    // RSS saws up and down with garbage collection; the lowest point of the first and last minute shows retention.
    firstMinuteLowMb: +Math.min(...samples.filter((sample) => sample.s <= 60).map((sample) => sample.rssMb)).toFixed(1),
    lastMinuteLowMb: +Math.min(...samples.filter((sample) => sample.s >= samples.at(-1).s - 60).map((sample) => sample.rssMb)).toFixed(1),
    meanCpuPct: cpu.length ? +(cpu.reduce((a, b) => a + b, 0) / cpu.length).toFixed(1) : 0,
    perMinute: perMinute.map((sample) => ({ s: sample.s, rssMb: +sample.rssMb.toFixed(1) })),
    samples,
  };
  console.log(`tui-memory: rss ${summary.startMb} → ${summary.endMb} MB (growth ${summary.growthMb} MB, peak ${summary.peakMb} MB), mean cpu ${summary.meanCpuPct}%`);
  console.log(`  lowest rss, first minute ${summary.firstMinuteLowMb} MB, last minute ${summary.lastMinuteLowMb} MB`);
  console.log(`  per minute: ${summary.perMinute.map((sample) => `${sample.s / 60}m ${sample.rssMb}`).join(' · ')}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
}
process.exit(exitCode);
