/** @module benchmarks/workload/templates — which bundled agents the workload runs, how each input is drawn from a size, and which permissions each agent truly needs (the ground truth for least-privilege suggestions). */

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
 * Permissions each workload agent is granted (after `extends`) and the ones it actually uses, as permission keys:
 * `kv`, `wasm`, or `<list>:<entry>` for `read`, `write`, `net`, `env` and `spawn`. Known by construction from the
 * agents' source: `word-stats` inherits `env: LOG_LEVEL` from `base-worker` and never reads it; `csv-table` is
 * granted kv and LOG_LEVEL and uses neither; `checksum` reads CHECKSUM_SALT but never fetches.
 */
export const PERMISSION_GROUND_TRUTH = Object.freeze({
  hello: { granted: ['kv'], needed: ['kv'] },
  'word-stats': { granted: ['env:LOG_LEVEL'], needed: [] },
  'cpu-burn': { granted: [], needed: [] },
  'csv-table': { granted: ['env:LOG_LEVEL', 'kv'], needed: [] },
  checksum: { granted: ['env:CHECKSUM_SALT', 'net:hashes.example.com'], needed: ['env:CHECKSUM_SALT'] },
});

/**
 * The permissions a template is granted but does not need: what a perfect least-privilege suggester removes.
 * @param {string[]} [templates] @default every template in {@link PERMISSION_GROUND_TRUTH}
 * @returns {Record<string, string[]>}
 */
export function unneededPermissions(templates = Object.keys(PERMISSION_GROUND_TRUTH)) {
  const out = {};
  for (const name of templates) {
    const truth = PERMISSION_GROUND_TRUTH[name];
    if (truth) out[name] = truth.granted.filter((key) => !truth.needed.includes(key));
  }
  return out;
}

/**
 * Permission keys of a resolved `Permissions` object (`spec.permissions`), sorted: the vocabulary
 * {@link PERMISSION_GROUND_TRUTH} and `permissionPrecision` use.
 */
export function permissionKeysOf(permissions) {
  const keys = [];
  for (const list of ['read', 'write', 'net', 'env', 'spawn']) for (const entry of permissions[list] ?? []) keys.push(`${list}:${entry}`);
  if (permissions.kv) keys.push('kv');
  if (permissions.wasm) keys.push('wasm');
  return keys.sort();
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
 * @param {{ template: string, size: number, inputSeed: number }} run
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
    default:
      throw new TypeError(`generateWorkload: no input recipe for template "${run.template}"; known: ${Object.keys(WORKLOAD_TEMPLATES).join(', ')}`);
  }
}
