/** @module benchmarks/workload/templates — which bundled agents the workload runs, how each input is drawn from a size, and which permissions each agent truly needs (the ground truth for least-privilege suggestions). */
import { grantKeysOf } from '../../dist/core/agent-spec.js';
import { createRandom } from './random.mjs';

/**
 * How the workload drives each template. `size` is drawn log-normally around `median` (log-space `sigma`),
 * scaled by the time of day and the drift, clamped to [`min`, `max`]; with probability `oversizeRate` a template
 * with an `oversize` range draws uniformly from it instead, past what its limits allow, so censored runs
 * (limit hits) occur. What the size means, and so which resource it drives, is per template.
 */
export const WORKLOAD_TEMPLATES = Object.freeze({
  hello: { weight: 0.15, median: 8, sigma: 0.5, min: 1, max: 200, drives: 'nothing much: a kv round trip', unit: 'name length' },
  'word-stats': { weight: 0.25, median: 4000, sigma: 1.1, min: 20, max: 400_000, drives: 'memory and time (tokens held at once)', unit: 'text characters' },
  'cpu-burn': { weight: 0.15, median: 20_000, sigma: 0.8, min: 2, max: 200_000, drives: 'CPU and time; invisible in the input shape (one integer)', unit: 'n' },
  'csv-table': { weight: 0.25, median: 2000, sigma: 0.9, min: 1, max: 40_000, oversize: [90_000, 140_000], drives: 'memory (rows live at once); oversize inputs hit limits.memoryMb', unit: 'CSV rows' },
  checksum: { weight: 0.2, median: 8000, sigma: 1.0, min: 1, max: 150_000, oversize: [250_000, 500_000], drives: 'CPU and time; oversize inputs hit limits.cpuMs', unit: 'data characters' },
});


/**
 * Input recipes for the other bundled agents, which the demo runs beside {@link WORKLOAD_TEMPLATES}. They are kept
 * apart so the learner's evaluation workload (the default set, with its known limit-hit behaviour) stays as it was;
 * a caller opts in by naming them in `templates`. `http-probe` has none: it needs a server to probe.
 */
export const BUNDLED_TEMPLATES = Object.freeze({
  echo: { weight: 0.05, median: 200, sigma: 1.0, min: 1, max: 20_000, drives: 'nothing: only the runtime costs anything', unit: 'payload characters' },
  'fan-out': { weight: 0.04, median: 3000, sigma: 0.8, min: 40, max: 60_000, drives: 'spawns 2-4 word-stats children', unit: 'text characters over all children' },
  'env-report': { weight: 0.03, median: 3, sigma: 0.3, min: 1, max: 6, drives: 'env reads; names past the grant are denied and audited', unit: 'variable names asked for' },
  'file-stats': { weight: 0.03, median: 1, sigma: 0, min: 1, max: 1, drives: 'one granted file read', unit: '-' },
  'log-triage': { weight: 0.12, median: 400, sigma: 0.9, min: 5, max: 20_000, drives: 'CPU and memory (lines normalised)', unit: 'log lines' },
  'json-schema-infer': { weight: 0.1, median: 60, sigma: 0.9, min: 1, max: 3000, drives: 'CPU (documents walked)', unit: 'sample documents' },
  'markdown-report': { weight: 0.1, median: 12, sigma: 0.6, min: 1, max: 200, drives: 'string building', unit: 'metrics' },
  'supply-chain-auditor': { weight: 0.1, median: 150, sigma: 0.8, min: 3, max: 3000, drives: 'CPU and memory (lockfile parsed)', unit: 'locked packages' },
  coordinator: { weight: 0.04, median: 60, sigma: 0.6, min: 5, max: 600, drives: 'spawns the auditor, log-triage, json-schema-infer and markdown-report', unit: 'scale of each child input' },
});

/** Every template the workload has an input recipe for. */
export const INPUT_RECIPES = Object.freeze({ ...WORKLOAD_TEMPLATES, ...BUNDLED_TEMPLATES });

/**
 * The demo's mix: every bundled agent with a recipe, lighter on the CPU-heavy evaluation templates so a few
 * thousand runs finish in seconds on two cores.
 */
export const DEMO_WEIGHTS = Object.freeze({
  hello: 0.08,
  'word-stats': 0.08,
  'cpu-burn': 0.03,
  'csv-table': 0.06,
  checksum: 0.05,
  ...Object.fromEntries(Object.entries(BUNDLED_TEMPLATES).map(([name, spec]) => [name, spec.weight])),
});

/**
 * Permissions each workload agent is granted (after `extends`) and the ones it actually uses, as permission keys:
 * `kv`, `wasm`, or `<list>:<entry>` for `read`, `write`, `net`, `env` and `spawn`. Known by construction from the
 * agents' source: `word-stats` inherits `env: LOG_LEVEL` from `base-worker` and never reads it; `csv-table` is
 * granted kv and LOG_LEVEL and uses neither; `checksum` reads CHECKSUM_SALT but not LOG_LEVEL, and never fetches.
 */
export const PERMISSION_GROUND_TRUTH = Object.freeze({
  hello: { granted: ['kv'], needed: ['kv'] },
  'word-stats': { granted: ['env:LOG_LEVEL'], needed: [] },
  'cpu-burn': { granted: [], needed: [] },
  'csv-table': { granted: ['env:LOG_LEVEL', 'kv'], needed: [] },
  checksum: { granted: ['env:CHECKSUM_SALT', 'env:LOG_LEVEL', 'net:hashes.example.com'], needed: ['env:CHECKSUM_SALT'] },
  echo: { granted: [], needed: [] },
  'fan-out': { granted: ['spawn:word-stats'], needed: ['spawn:word-stats'] },
  'env-report': { granted: ['env:AF_REGION', 'env:LOG_LEVEL'], needed: ['env:AF_REGION', 'env:LOG_LEVEL'] },
  // Writes happen only when an input asks for a report, which this workload never does (it must not write to the repository).
  'file-stats': { granted: ['read:./data', 'write:./out'], needed: ['read:./data'] },
  'log-triage': { granted: ['env:LOG_LEVEL'], needed: [] },
  'json-schema-infer': { granted: [], needed: [] },
  'markdown-report': { granted: [], needed: [] },
  // Needed by `af audit` even where a workload passes every lockfile as text (projectReadRate 0).
  'supply-chain-auditor': { granted: ['read:./project'], needed: ['read:./project'] },
  coordinator: {
    granted: ['spawn:json-schema-infer', 'spawn:log-triage', 'spawn:markdown-report', 'spawn:supply-chain-auditor'],
    needed: ['spawn:json-schema-infer', 'spawn:log-triage', 'spawn:markdown-report', 'spawn:supply-chain-auditor'],
  },
});

/**
 * The permissions a template is granted but does not need: what a perfect least-privilege suggester removes.
 * @param {string[]} [templates] @default the templates of {@link WORKLOAD_TEMPLATES}
 * @returns {Record<string, string[]>}
 */
export function unneededPermissions(templates = Object.keys(WORKLOAD_TEMPLATES)) {
  const out = {};
  for (const name of templates) {
    const truth = PERMISSION_GROUND_TRUTH[name];
    if (truth) out[name] = truth.granted.filter((key) => !truth.needed.includes(key));
  }
  return out;
}

/**
 * Permission keys of a resolved `Permissions` object (`spec.permissions`), sorted: the vocabulary
 * {@link PERMISSION_GROUND_TRUTH} and `permissionPrecision` use, and runs record in `grantsUsed`.
 */
export function permissionKeysOf(permissions) {
  return grantKeysOf(permissions).sort();
}

// Syllables for pseudo-words: a vocabulary with a realistic spread of word lengths and repeats.
const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'shi', 'vo', 'pel', 'dar', 'in', 'or', 'ex', 'qui', 'sta', 'ben', 'gro', 'fa', 'lu', 'zen'];

/** Builds the text corpus and vocabulary an input draws from (deterministic in `random`). */
export function createCorpus(random, chars) {
  const vocabulary = [];
  for (let i = 0; i < 1500; i++) {
    let word = '';
    const syllables = random.int(1, 4);
    for (let s = 0; s < syllables; s++) word += random.pick(SYLLABLES);
    vocabulary.push(word);
  }
  const words = [];
  let length = 0;
  while (length < chars) {
    // Zipf-like: low indexes are common, as in natural text.
    const word = vocabulary[Math.floor(vocabulary.length * random.next() ** 3)];
    words.push(word);
    length += word.length + 1;
  }
  return { vocabulary, text: words.join(' ') };
}

/** A slice of `length` characters of the corpus starting at `offset` (wrapping around). */
function sliceText(corpus, offset, length) {
  const text = corpus.text;
  let out = '';
  let at = offset % text.length;
  while (out.length < length) {
    const take = Math.min(length - out.length, text.length - at);
    out += text.slice(at, at + take);
    at = 0;
  }
  return out;
}

/** A deterministic 32-bit hash of an integer, so CSV row `i` is the same row whatever the run. */
function mix(i) {
  let h = Math.imul(i ^ 0x5bd1e995, 0x27d4eb2d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * The input of one planned run, from its template, size and input seed.
 * @param {{ template: string, size: number, inputSeed: number, readsProject?: boolean }} run
 */
export function inputOf(run, corpus) {
  const { size, inputSeed } = run;
  switch (run.template) {
    case 'hello':
      return { name: sliceText(corpus, inputSeed, size).trim() || 'Ada' };
    case 'word-stats':
      return { text: sliceText(corpus, inputSeed, size) };
    case 'cpu-burn':
      return { n: Math.max(2, size) };
    case 'checksum':
      return { data: sliceText(corpus, inputSeed, size) };
    case 'csv-table': {
      const lines = ['id,category,name,score'];
      for (let r = 0; r < size; r++) {
        const id = inputSeed + r;
        const h = mix(id);
        lines.push(`${id},c${h % 23},${corpus.vocabulary[(h >>> 5) % corpus.vocabulary.length]},${(h >>> 11) % 1000}`);
      }
      return { csv: `${lines.join('\n')}\n` };
    }
    case 'echo':
      return { payload: sliceText(corpus, inputSeed, size) };
    case 'fan-out': {
      const parts = 2 + (inputSeed % 3);
      const each = Math.max(1, Math.floor(size / parts));
      return { texts: Array.from({ length: parts }, (_, i) => sliceText(corpus, inputSeed + i * each, each)) };
    }
    case 'env-report':
      // HOME is not granted: asking for it is a denial the run reports and the audit log records.
      return { names: ['LOG_LEVEL', 'AF_REGION', 'HOME', 'PATH', 'TZ', 'USER'].slice(0, Math.max(1, size)) };
    case 'file-stats':
      return { path: 'data/sample.txt' };
    case 'log-triage':
      return { log: syntheticLog(createRandom(inputSeed), size) };
    case 'json-schema-infer':
      return { samples: syntheticDocuments(createRandom(inputSeed), size, corpus) };
    case 'markdown-report':
      return { title: `Weekly report ${inputSeed % 52}`, metrics: syntheticMetrics(createRandom(inputSeed), size) };
    case 'supply-chain-auditor':
      // A planned project read makes the auditor read its own ./project folder, which the caller must have filled.
      if (run.readsProject) return {};
      return { lockfile: JSON.stringify(syntheticLockfile(createRandom(inputSeed), size, corpus)) };
    case 'coordinator': {
      const random = createRandom(inputSeed);
      const logs = Array.from({ length: 1 + (inputSeed % 3) }, (_, i) => ({ name: `service-${i}.log`, text: syntheticLog(random, size) }));
      return { title: 'Nightly checks', logs, samples: syntheticDocuments(random, Math.ceil(size / 4), corpus), audit: { lockfile: JSON.stringify(syntheticLockfile(random, size, corpus)) } };
    }
    default:
      throw new TypeError(`generateWorkload: no input recipe for template "${run.template}"; known: ${Object.keys(INPUT_RECIPES).join(', ')}`);
  }
}

const LOG_MESSAGES = [
  (r) => `ERROR db: connection to 10.0.${r.int(0, 9)}.${r.int(1, 254)}:5432 refused after ${r.int(1, 5000)}ms (attempt ${r.int(1, 9)})`,
  (r) => `ERROR http: GET /api/v1/orders/${r.int(1000, 99999)} failed with status ${r.pick([500, 502, 503])} in ${r.int(3, 900)}ms`,
  (r) => `ERROR worker-${r.int(1, 16)}: job ${hex(r, 8)}-${hex(r, 4)} crashed: cannot read /var/lib/app/cache/${hex(r, 12)}.bin`,
  (r) => `FATAL out of memory allocating ${r.int(1, 512)} MB at 0x${hex(r, 12)}`,
  (r) => `ERROR auth: token for user "${r.pick(['ada', 'bob', 'cy', 'dee'])}${r.int(1, 999)}" expired at 2025-01-${String(r.int(10, 28))}T${String(r.int(10, 23))}:00:00Z`,
];
const INFO_MESSAGES = [
  (r) => `INFO http: GET /health 200 in ${r.int(0, 9)}ms`,
  (r) => `INFO scheduler: ${r.int(1, 40)} jobs queued`,
  (r) => `WARN cache: hit ratio ${r.int(40, 99)}% below target`,
];

function hex(random, digits) {
  let out = '';
  for (let i = 0; i < digits; i++) out += '0123456789abcdef'[random.int(0, 15)];
  return out;
}

/** A service log of `lines` lines, one in five an error drawn from a few recurring messages with varying details. */
export function syntheticLog(random, lines) {
  const out = [];
  const start = Date.UTC(2025, 0, 6);
  for (let i = 0; i < lines; i++) {
    const at = new Date(start + i * 1370).toISOString();
    // Skewed: the first error message is the most common, as one failure usually dominates a bad night.
    const message = random.next() < 0.2 ? LOG_MESSAGES[Math.floor(LOG_MESSAGES.length * random.next() ** 2)](random) : random.pick(INFO_MESSAGES)(random);
    out.push(`${at} ${message}`);
  }
  return `${out.join('\n')}\n`;
}

/** `count` JSON documents of one evolving shape: some fields optional, some nullable, a nested object and an array. */
export function syntheticDocuments(random, count, corpus) {
  return Array.from({ length: count }, (_, i) => ({
    id: random.int(1, 1_000_000),
    name: corpus.vocabulary[random.int(0, corpus.vocabulary.length - 1)],
    createdAt: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
    score: Math.round(random.next() * 1000) / 10,
    tags: Array.from({ length: random.int(0, 3) }, () => random.pick(['new', 'vip', 'trial', 'churned'])),
    ...(random.next() < 0.7 ? { email: `user${i}@example.com` } : {}),
    ...(random.next() < 0.5 ? { address: { city: random.pick(['Oslo', 'Lima', 'Pune']), zip: String(random.int(1000, 9999)) } } : {}),
    ...(random.next() < 0.2 ? { note: null } : {}),
  }));
}

/** A metrics object with `count` entries: counters, rates, a nested breakdown and a list of records. */
export function syntheticMetrics(random, count) {
  const metrics = {};
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) metrics[`requests_${i}`] = random.int(0, 2_000_000);
    else if (kind === 1) metrics[`errorRate${i}`] = Math.round(random.next() * 10_000) / 1_000_000;
    else if (kind === 2) metrics[`region${i}`] = { p50Ms: random.int(1, 50), p95Ms: random.int(50, 900), healthy: random.next() < 0.9 };
    else metrics[`slowest${i}`] = Array.from({ length: random.int(1, 5) }, (_, j) => ({ route: `/api/r${j}`, ms: random.int(100, 5000) }));
  }
  return metrics;
}

/**
 * A package-lock.json (v3) of `count` packages from the registry, with the problems the auditor looks for at
 * realistic rates: a missing integrity, a plain-http or non-registry source, install scripts, duplicate versions,
 * packages without a licence.
 */
export function syntheticLockfile(random, count, corpus) {
  const packages = { '': { name: 'synthetic-app', version: '1.0.0', dependencies: {} } };
  for (let i = 0; i < count; i++) {
    const name = `${corpus.vocabulary[random.int(0, corpus.vocabulary.length - 1)]}-${i % 97}`;
    const version = `${random.int(0, 9)}.${random.int(0, 20)}.${random.int(0, 30)}`;
    const nested = random.next() < 0.05 && i > 0;
    const installPath = nested ? `node_modules/${Object.keys(packages)[1].slice('node_modules/'.length)}/node_modules/${name}` : `node_modules/${name}`;
    const roll = random.next();
    const resolved =
      roll < 0.01 ? `http://registry.npmjs.org/${name}/-/${name}-${version}.tgz`
      : roll < 0.03 ? `https://codeload.github.com/someone/${name}/tar.gz/${hex(random, 40)}`
      : `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz`;
    packages[installPath] = {
      version,
      resolved,
      ...(random.next() < 0.98 ? { integrity: `sha512-${hex(random, 86)}==` } : {}),
      ...(random.next() < 0.9 ? { license: random.pick(['MIT', 'MIT', 'MIT', 'ISC', 'Apache-2.0', 'BSD-3-Clause']) } : {}),
      ...(random.next() < 0.03 ? { hasInstallScript: true } : {}),
      ...(random.next() < 0.4 ? { dev: true } : {}),
    };
    if (!nested && random.next() < 0.3) packages[''].dependencies[name] = `^${version}`;
  }
  return { name: 'synthetic-app', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}
