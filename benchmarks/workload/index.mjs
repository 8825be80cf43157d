/** @module benchmarks/workload — runs the real bundled agents on seeded, varied inputs at simulated times, giving run records for the demo, the learner's evaluation and the benchmarks. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFactory, createMemoryRunSink } from '../../dist/index.js';
import { createRandom } from './random.mjs';
import { createCorpus, INPUT_RECIPES, inputOf, PERMISSION_GROUND_TRUTH, permissionKeysOf, unneededPermissions, WORKLOAD_TEMPLATES } from './templates.mjs';

export { createRandom } from './random.mjs';
export {
  BUNDLED_TEMPLATES,
  DEMO_WEIGHTS,
  INPUT_RECIPES,
  inputOf,
  PERMISSION_GROUND_TRUTH,
  permissionKeysOf,
  syntheticDocuments,
  syntheticLockfile,
  syntheticLog,
  syntheticMetrics,
  unneededPermissions,
  WORKLOAD_TEMPLATES,
} from './templates.mjs';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The workload's knobs, every default resolved in one place.
 * @typedef {object} WorkloadOptions
 * @property {string} [root] project root whose `agents/` holds the templates. @default the repository root (the bundled agents)
 * @property {number} [runs] runs to plan. @default 1000
 * @property {number} [seed] PRNG seed: equal seeds give equal times, templates, tenants and inputs. @default 1
 * @property {number} [startAt] simulated start, epoch ms. @default 2025-01-06T00:00Z (a Monday)
 * @property {number} [spanMs] simulated span the runs are spread over. @default 7 days
 * @property {string[] | Record<string, number>} [templates] templates to run (equal weights) or template → weight; any of INPUT_RECIPES (DEMO_WEIGHTS runs every bundled agent). @default WORKLOAD_TEMPLATES' weights
 * @property {number} [diurnalAmplitude] arrivals per hour ∝ 1 + a·cos(2π(hour − peakHourUtc)/24), a in [0, 1). @default 0.6
 * @property {number} [peakHourUtc] busiest hour of the day, UTC. @default 14
 * @property {number} [diurnalSize] input sizes scale by 1 + d·cos(2π(hour − peakHourUtc)/24): bigger batches at peak. @default 0.25
 * @property {number} [drift] input sizes grow linearly by this fraction from start to end of the span, so old data goes stale. @default 0.5
 * @property {number} [sizeScale] multiplies every drawn size (not the oversize ranges). @default 1
 * @property {number} [oversizeRate] chance that a template with an `oversize` range draws from it (a limit hit). @default 0.02
 * @property {string[]} [tenants] tenants runs are spread over, uniformly. @default ['acme', 'globex', 'initech']
 * @property {number} [projectReadRate] chance that a supply-chain-auditor run reads its own ./project folder instead of getting a lockfile as text; the caller must have put package-lock.json there. @default 0
 */

/** @param {WorkloadOptions} options */
export function resolveWorkloadOptions(options = {}) {
  const templates = options.templates ?? Object.fromEntries(Object.entries(WORKLOAD_TEMPLATES).map(([name, spec]) => [name, spec.weight]));
  const weights = Array.isArray(templates) ? Object.fromEntries(templates.map((name) => [name, 1])) : { ...templates };
  for (const name of Object.keys(weights)) {
    if (!INPUT_RECIPES[name]) throw new TypeError(`generateWorkload: option "templates" names "${name}", which has no input recipe; known: ${Object.keys(INPUT_RECIPES).join(', ')}`);
  }
  const resolved = {
    root: options.root ?? REPO_ROOT,
    runs: options.runs ?? 1000,
    seed: options.seed ?? 1,
    startAt: options.startAt ?? Date.UTC(2025, 0, 6),
    spanMs: options.spanMs ?? 7 * DAY_MS,
    weights,
    diurnalAmplitude: options.diurnalAmplitude ?? 0.6,
    peakHourUtc: options.peakHourUtc ?? 14,
    diurnalSize: options.diurnalSize ?? 0.25,
    drift: options.drift ?? 0.5,
    sizeScale: options.sizeScale ?? 1,
    oversizeRate: options.oversizeRate ?? 0.02,
    tenants: options.tenants ?? ['acme', 'globex', 'initech'],
    projectReadRate: options.projectReadRate ?? 0,
  };
  if (!Number.isInteger(resolved.runs) || resolved.runs < 0) throw new TypeError(`generateWorkload: option "runs" must be a non-negative integer, got ${options.runs}`);
  if (!(resolved.spanMs > 0)) throw new TypeError(`generateWorkload: option "spanMs" must be positive, got ${options.spanMs}`);
  if (!(resolved.diurnalAmplitude >= 0 && resolved.diurnalAmplitude < 1)) throw new TypeError(`generateWorkload: option "diurnalAmplitude" must be in [0, 1), got ${options.diurnalAmplitude}`);
  if (!(resolved.oversizeRate >= 0 && resolved.oversizeRate <= 1)) throw new TypeError(`generateWorkload: option "oversizeRate" must be in [0, 1], got ${options.oversizeRate}`);
  if (resolved.tenants.length === 0) throw new TypeError('generateWorkload: option "tenants" must name at least one tenant');
  return resolved;
}

/** cos of the hour's distance from the peak: 1 at the peak hour, −1 twelve hours away. */
function dayPhase(at, peakHourUtc) {
  const hour = (((at % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  return Math.cos((2 * Math.PI * (hour - peakHourUtc)) / 24);
}

/**
 * Plans a workload without running it: the times, templates, tenants and input sizes, all from the seed.
 * Inputs are materialised later by {@link inputOf} (with the plan's corpus), so thousands of planned runs
 * do not hold megabytes of text.
 * @param {WorkloadOptions} options
 * @returns {{ options: ReturnType<typeof resolveWorkloadOptions>, runs: Array<{ index: number, at: number, template: string, tenant: string, size: number, oversize: boolean, inputSeed: number }>, corpus: { vocabulary: string[], text: string } }}
 */
export function planWorkload(options = {}) {
  const o = resolveWorkloadOptions(options);
  const random = createRandom(o.seed);
  // The corpus has its own stream so changing the number of runs does not change the text.
  const corpus = createCorpus(createRandom(o.seed ^ 0x5eed), 640_000);
  // Arrival times: rejection sampling of a uniform draw against the diurnal intensity (thinning).
  const times = [];
  while (times.length < o.runs) {
    const at = o.startAt + random.next() * o.spanMs;
    const intensity = (1 + o.diurnalAmplitude * dayPhase(at, o.peakHourUtc)) / (1 + o.diurnalAmplitude);
    if (random.next() < intensity) times.push(Math.floor(at));
  }
  times.sort((a, b) => a - b);
  const runs = times.map((at, index) => {
    const template = random.weighted(o.weights);
    const spec = INPUT_RECIPES[template];
    const tenant = random.pick(o.tenants);
    const oversize = spec.oversize !== undefined && random.next() < o.oversizeRate;
    let size;
    if (oversize) size = random.int(spec.oversize[0], spec.oversize[1]);
    else {
      const scale = o.sizeScale * (1 + o.drift * ((at - o.startAt) / o.spanMs)) * (1 + o.diurnalSize * dayPhase(at, o.peakHourUtc));
      size = Math.round(Math.min(spec.max, Math.max(spec.min, random.lognormal(spec.median, spec.sigma) * scale)));
    }
    const inputSeed = random.int(0, 1_000_000);
    // Drawn only when asked for, so plans made without it keep their random sequence.
    const readsProject = o.projectReadRate > 0 && template === 'supply-chain-auditor' && random.next() < o.projectReadRate;
    return { index, at, template, tenant, size, oversize, inputSeed, ...(readsProject ? { readsProject } : {}) };
  });
  return { options: o, runs, corpus };
}

/**
 * A clock whose wall time is the simulated one (so run records carry simulated `startedAt`) and whose monotonic
 * time is real (so durations, timeouts and `createMs` are measured, not simulated).
 */
function simulatedWallClock(start, owned) {
  let wall = start;
  return {
    now: () => (owned ? owned.now() : wall),
    monotonic: () => performance.now(),
    set(at) {
      if (owned) owned.set(at);
      else wall = at;
    },
  };
}

/** Writes to the in-memory sink the records are returned from and to another sink, whose close is left to its owner. */
function teeSink(memory, other) {
  return {
    write(record) {
      memory.write(record);
      other.write(record);
    },
    flush: () => other.flush(),
    close: () => other.flush(),
  };
}

/**
 * Runs a planned workload through a real factory: real agents in real sandboxes, simulated timestamps.
 * @param {WorkloadOptions & {
 *   store?: import('../../dist/index.js').Store,
 *   runSink?: import('../../dist/index.js').RunSink,
 *   clock?: { now(): number, set(at: number): void },
 *   isolation?: 'process' | 'inline',
 *   hosts?: number,
 *   concurrency?: number,
 *   env?: string,
 *   devEnvironments?: string[],
 *   home?: string,
 *   onProgress?: (done: number, total: number) => void,
 * }} options
 *   `store`: also write records (and kv, versions, audit) to this open store; `runSink`: also write records to
 *   this sink; `clock`: a manual clock to move to each run's simulated time (it must have `set`), e.g. the one the
 *   caller's store uses; `isolation` @default 'process'; `hosts` @default 1 (one run at a time; measurements are
 *   less disturbed); `concurrency`: runs in flight at once @default 1 (records then come in plan order); `env`: the
 *   environment agents are created in @default the factory's ($AF_ENV, else dev); `devEnvironments`: environments
 *   that may run unsigned templates @default ['dev']; `home`: the `.af` state folder @default a temporary folder,
 *   removed afterwards.
 * @returns {Promise<{ records: import('../../dist/index.js').RunRecord[], plan: ReturnType<typeof planWorkload>,
 *   limits: Record<string, import('../../dist/index.js').Limits>, limitsOf: (record: import('../../dist/index.js').RunRecord) => import('../../dist/index.js').Limits | undefined,
 *   permissions: Record<string, string[]>, groundTruth: { needed: Record<string, string[]>, unneeded: Record<string, string[]> },
 *   summary: { runs: number, seconds: number, byTemplate: Record<string, { runs: number, errors: Record<string, number> }> } }>}
 */
export async function generateWorkload(options = {}) {
  const plan = planWorkload(options);
  const o = plan.options;
  const names = Object.keys(o.weights);
  const ownsHome = options.home === undefined;
  const home = options.home ?? mkdtempSync(path.join(os.tmpdir(), 'af-workload-'));
  const memory = createMemoryRunSink(plan.runs.length * 2 + 16);
  const other = options.runSink ?? options.store?.runs;
  const clock = simulatedWallClock(o.startAt, options.clock);
  const started = performance.now();
  const factory = await createFactory({
    root: o.root,
    home,
    store: options.store ?? false,
    runSink: other ? teeSink(memory, other) : memory,
    clock,
    isolation: options.isolation ?? 'process',
    hosts: options.hosts ?? 1,
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.devEnvironments !== undefined ? { devEnvironments: options.devEnvironments } : {}),
    prewarm: names,
    // Fixed, so runs do not depend on the machine's environment.
    processEnv: { LOG_LEVEL: 'info', CHECKSUM_SALT: 'workload', AF_REGION: 'sim' },
  });
  const byTemplate = Object.fromEntries(names.map((name) => [name, { runs: 0, errors: {} }]));
  const limits = {};
  const permissions = {};
  const limitsByDigest = new Map();
  try {
    const concurrency = Math.max(1, Math.trunc(options.concurrency ?? 1));
    let next = 0;
    let done = 0;
    // Workers take runs in plan order, so simulated time only moves forward.
    const worker = async () => {
      while (next < plan.runs.length) {
        const run = plan.runs[next++];
        clock.set(run.at);
        const report = await factory.runSettled(run.template, inputOf(run, plan.corpus), { tenant: run.tenant });
        const counts = byTemplate[run.template];
        counts.runs++;
        if (!report.ok) counts.errors[report.error.code] = (counts.errors[report.error.code] ?? 0) + 1;
        options.onProgress?.(++done, plan.runs.length);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    for (const name of names) {
      const template = await factory.registry.resolve(name);
      limits[name] = { ...template.spec.limits };
      permissions[name] = permissionKeysOf(template.spec.permissions);
      limitsByDigest.set(template.digest, limits[name]);
    }
  } finally {
    await factory.close();
    if (ownsHome) rmSync(home, { recursive: true, force: true });
  }
  const records = memory.records();
  return {
    records,
    plan,
    limits,
    // By digest first: a record of another version of the template must not be judged against this one's limits.
    limitsOf: (record) => limitsByDigest.get(record.digest) ?? limits[record.template],
    permissions,
    groundTruth: {
      needed: Object.fromEntries(names.map((name) => [name, [...PERMISSION_GROUND_TRUTH[name].needed]])),
      unneeded: unneededPermissions(names),
    },
    summary: { runs: records.length, seconds: (performance.now() - started) / 1000, byTemplate },
  };
}
