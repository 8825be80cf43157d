// Runs every benchmarks/*.bench.mjs in this process and writes results/latest.json and BENCHMARKS.md.
import { execSync } from 'node:child_process';
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { markdownTable } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const quick = process.argv.includes('--quick');
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));

const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.mjs'))
  .filter((file) => only.length === 0 || only.some((name) => file.startsWith(name)))
  .sort();

const results = [];
for (const file of files) {
  process.stderr.write(`running ${file}${quick ? ' (quick)' : ''}…\n`);
  const started = performance.now();
  const module = await import(pathToFileURL(path.join(here, file)).href);
  try {
    const result = await module.default({ quick });
    results.push({ ...result, seconds: (performance.now() - started) / 1000 });
  } catch (error) {
    results.push({ name: file.replace('.bench.mjs', ''), title: file, skipped: `failed: ${error.message}`, metrics: [] });
  }
}

const meta = {
  date: new Date().toISOString(),
  commit: gitCommit(),
  node: process.version,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  quick,
};

mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(path.join(here, 'results', quick ? 'quick.json' : 'latest.json'), `${JSON.stringify({ meta, results }, null, 2)}\n`);
if (!quick) writeFileSync(path.join(root, 'BENCHMARKS.md'), report(meta, results));
process.stdout.write(report(meta, results));

function report(meta, results) {
  const lines = [
    '# Benchmarks',
    '',
    `Measured ${meta.date} on ${meta.cpu} (${meta.cores} cores, ${meta.memoryGb} GB), ${meta.platform}, Node ${meta.node}, commit ${meta.commit}.`,
    'Produced by `npm run bench`; every figure is a percentile over many samples after warm-up. Timings on a shared 2-core machine are noisy: compare ratios within one run.',
    '',
  ];
  for (const result of results) {
    lines.push(`## ${result.title}`, '');
    if (result.skipped) lines.push(`Skipped: ${result.skipped}`, '');
    if (result.metrics.length > 0) lines.push(markdownTable(result.metrics), '');
    for (const note of result.notes ?? []) lines.push(`- ${note}`);
    if (result.notes?.length) lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

function gitCommit() {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
