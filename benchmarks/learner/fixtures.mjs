/** @module benchmarks/learner/fixtures — frozen replay fixtures for the learner's evaluation: run records of a synthetic fleet drawn from a seeded PRNG alone (no real timings), the same bytes on every machine and every run. */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRandom } from '../workload/random.mjs';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MB = 1024 * 1024;

/** The seeds the benchmark replays. */
export const FIXTURE_SEEDS = Object.freeze([1, 2, 3]);

/**
 * The fleet. Per template: how its input measure x is drawn (log-normal per tenant), how CPU ms, wall ms and heap growth
 * (MB) grow with x (power laws with log-normal noise), the limits in force, its permissions (granted, and what its runs
 * use), and its failure modes. Chosen so that the structure real fleets have is there and known:
 * - `ingest-csv`: CPU and memory grow with the CSV's size; big tenants' inputs reach the memory limit (killed, censored).
 * - `render-report`: wall time dominated by a call to another service, slow at peak hours and during incidents (bursts
 *   of timeouts and errors); CPU grows weakly with the item count.
 * - `hash-files`: CPU-bound, CPU ∝ x^1.05 (tight); a version bump 6 h into day 5 makes it 40 % slower (a step change).
 * - `tokenize`: a deterministic bug: texts longer than 80,000 characters throw (a failure pattern on `/text`).
 * - `ping`: tiny, nothing grows.
 */
export const FIXTURE_TEMPLATES = Object.freeze({
  'ingest-csv': {
    weight: 0.25,
    measure: { median: 40_000, sigma: 0.8, min: 200, max: 4_000_000 },
    property: { name: 'csv', type: 'string', lengthOf: (x) => Math.max(0, x - 12) },
    cpu: { a: 0.004, b: 0.95, sigma: 0.25 },
    wall: { overhead: 1.3, fixed: 5, ioMedian: 0, ioSigma: 0 },
    memory: { fixed: 2, a: 0.00012, b: 1, sigma: 0.15 },
    limits: { cpuMs: 1500, timeoutMs: 3000, memoryMb: 64 },
    permissions: { kv: true, env: ['LOG_LEVEL', 'REGION'] },
    uses: ['env:LOG_LEVEL', 'kv'],
    tools: { env: 1, kv: 2 },
  },
  'render-report': {
    weight: 0.2,
    measure: { median: 50, sigma: 0.7, min: 1, max: 5000, bytesPer: 200 },
    property: { name: 'items', type: 'array', lengthOf: (x) => x },
    cpu: { a: 0.8, b: 0.7, sigma: 0.3 },
    wall: { overhead: 1, fixed: 3, ioMedian: 40, ioSigma: 0.4, incidentSlowdown: 4 },
    memory: { fixed: 3, a: 0.02, b: 1, sigma: 0.2 },
    limits: { cpuMs: 500, timeoutMs: 600, memoryMb: 64 },
    permissions: { kv: true, net: ['api.example.com'] },
    uses: ['net:api.example.com'],
    tools: { fetch: 1 },
  },
  'hash-files': {
    weight: 0.2,
    measure: { median: 20_000, sigma: 0.9, min: 10, max: 3_000_000 },
    property: { name: 'data', type: 'string', lengthOf: (x) => Math.max(0, x - 12) },
    cpu: { a: 0.002, b: 1.05, sigma: 0.15 },
    wall: { overhead: 1.05, fixed: 2, ioMedian: 0, ioSigma: 0 },
    memory: { fixed: 1.5, a: 0.00002, b: 1, sigma: 0.3 },
    limits: { cpuMs: 2000, timeoutMs: 3000, memoryMb: 16 },
    permissions: { env: ['SALT', 'LOG_LEVEL'], net: ['hashes.example.com'] },
    uses: ['env:SALT'],
    tools: { env: 1 },
    bump: { at: 4 * DAY_MS + 6 * HOUR_MS, cpu: 1.4, version: '1.1.0' },
  },
  tokenize: {
    weight: 0.2,
    measure: { median: 8000, sigma: 1.0, min: 20, max: 1_000_000 },
    property: { name: 'text', type: 'string', lengthOf: (x) => Math.max(0, x - 11) },
    cpu: { a: 0.01, b: 0.9, sigma: 0.2 },
    wall: { overhead: 1.1, fixed: 2, ioMedian: 0, ioSigma: 0 },
    memory: { fixed: 1, a: 0.0004, b: 0.85, sigma: 0.2 },
    limits: { cpuMs: 3000, timeoutMs: 5000, memoryMb: 64 },
    permissions: { env: ['LOG_LEVEL'] },
    uses: [],
    tools: {},
    throwsAbove: 80_000,
  },
  ping: {
    weight: 0.15,
    measure: { median: 30, sigma: 0.3, min: 2, max: 200 },
    property: { name: 'name', type: 'string', lengthOf: (x) => Math.max(0, x - 12) },
    cpu: { a: 2, b: 0, sigma: 0.3 },
    wall: { overhead: 1, fixed: 1, ioMedian: 4, ioSigma: 0.5 },
    memory: { fixed: 0.3, a: 0.2, b: 0, sigma: 0.3 },
    limits: { cpuMs: 100, timeoutMs: 500, memoryMb: 16 },
    permissions: { kv: true },
    uses: ['kv'],
    tools: { kv: 1 },
  },
});

/**
 * Tenants: each scales the input measure's median and widens or narrows its spread. `umbrella` arrives on day 3 with
 * large inputs (the population shifts under the limits).
 */
export const FIXTURE_TENANTS = Object.freeze({
  acme: { share: 0.4, scale: 0.3, sigma: 0.8, from: 0 },
  globex: { share: 0.25, scale: 3, sigma: 0.9, from: 0 },
  initech: { share: 0.25, scale: 1, sigma: 1.3, from: 0 },
  umbrella: { share: 0.1, scale: 2, sigma: 0.8, from: 2 * DAY_MS },
});

/**
 * Permissions each template does not need, and the failure patterns a failure-pattern suggestion should find (property,
 * and the range of thresholds that refuse the failing inputs and little else), for precision/recall scoring.
 */
export const FIXTURE_TRUTH = Object.freeze({
  permissions: {
    needed: { 'ingest-csv': ['env:LOG_LEVEL', 'kv'], 'render-report': ['net:api.example.com'], 'hash-files': ['env:SALT'], tokenize: [], ping: ['kv'] },
    unneeded: { 'ingest-csv': ['env:REGION'], 'render-report': ['kv'], 'hash-files': ['env:LOG_LEVEL', 'net:hashes.example.com'], tokenize: ['env:LOG_LEVEL'], ping: [] },
  },
  // tokenize: every text over 80,000 characters throws, so a threshold in [64,000, 80,000] refuses the failing inputs and
  // few others. ingest-csv's memory kills are too few and too spread (noise on the heap) to be a reliable pattern.
  failurePatterns: {
    tokenize: { property: 'text', lo: 64_000, hi: 80_000 },
  },
});

/** The knobs, every default resolved here. */
function resolveOptions(options = {}) {
  const resolved = {
    seed: options.seed ?? 1,
    days: options.days ?? 7,
    runsPerDay: options.runsPerDay ?? 700,
    startAt: options.startAt ?? Date.UTC(2025, 0, 6),
    peakHourUtc: options.peakHourUtc ?? 14,
    diurnalAmplitude: options.diurnalAmplitude ?? 0.6,
    /** Incidents: this many per week, each 1–3 h, during which render-report's dependency is slow and 30 % of all runs throw. */
    incidentsPerWeek: options.incidentsPerWeek ?? 3,
  };
  if (!(Number.isInteger(resolved.runsPerDay) && resolved.runsPerDay > 0)) throw new TypeError(`generateFixture: option "runsPerDay" must be a positive integer, got ${options.runsPerDay}`);
  if (!(resolved.days > 0)) throw new TypeError(`generateFixture: option "days" must be positive, got ${options.days}`);
  return resolved;
}

const round2 = (v) => Math.round(v * 100) / 100;

/** How busy the fleet is at `at`: 0 off-peak, up to 1 at the peak hour (contention inflates CPU and, more, wall time). */
function contentionAt(at, startAt, peakHourUtc) {
  const hour = (((at - startAt) % DAY_MS) + DAY_MS) % DAY_MS / HOUR_MS;
  return Math.max(0, Math.cos((2 * Math.PI * (hour - peakHourUtc)) / 24)) ** 2;
}

/**
 * Generates one fixture: run records (the only thing a method sees) and, per run, the true needs (what it would have used
 * with no limit: for the closed-loop replay and for checking the generator), all from `seed`.
 * @param {{ seed?: number, days?: number, runsPerDay?: number, startAt?: number, peakHourUtc?: number, diurnalAmplitude?: number, incidentsPerWeek?: number }} options
 * @returns {{ options: object, records: import('../../dist/index.js').RunRecord[], needs: Array<{ cpuMs: number, timeoutMs: number, memoryMb: number }>, incidents: Array<{ from: number, to: number }>, templates: typeof FIXTURE_TEMPLATES, truth: typeof FIXTURE_TRUTH }}
 */
export function generateFixture(options = {}) {
  const o = resolveOptions(options);
  const random = createRandom(o.seed * 7919 + 17);
  const spanMs = o.days * DAY_MS;
  const count = Math.round(o.runsPerDay * o.days);

  const incidents = [];
  const incidentCount = Math.max(1, Math.round((o.incidentsPerWeek * o.days) / 7));
  for (let i = 0; i < incidentCount; i++) {
    const from = o.startAt + Math.floor(random.next() * (spanMs - 3 * HOUR_MS));
    incidents.push({ from, to: from + Math.floor(random.uniform(1, 3) * HOUR_MS) });
  }
  incidents.sort((a, b) => a.from - b.from);
  const inIncident = (at) => incidents.some((incident) => at >= incident.from && at < incident.to);

  // Arrivals: thinning of uniform draws against the diurnal intensity, as the real workload does.
  const times = [];
  while (times.length < count) {
    const at = o.startAt + random.next() * spanMs;
    const phase = Math.cos((2 * Math.PI * ((((at - o.startAt) % DAY_MS) / HOUR_MS) - o.peakHourUtc)) / 24);
    if (random.next() < (1 + o.diurnalAmplitude * phase) / (1 + o.diurnalAmplitude)) times.push(Math.floor(at));
  }
  times.sort((a, b) => a - b);

  const weights = Object.fromEntries(Object.entries(FIXTURE_TEMPLATES).map(([name, t]) => [name, t.weight]));
  const records = [];
  const needs = [];
  for (let index = 0; index < times.length; index++) {
    const at = times[index];
    const name = random.weighted(weights);
    const t = FIXTURE_TEMPLATES[name];
    const tenants = Object.fromEntries(Object.entries(FIXTURE_TENANTS).filter(([, tenant]) => at - o.startAt >= tenant.from).map(([key, tenant]) => [key, tenant.share]));
    const tenantName = random.weighted(tenants);
    const tenant = FIXTURE_TENANTS[tenantName];
    const x = Math.round(Math.min(t.measure.max, Math.max(t.measure.min, random.lognormal(t.measure.median * tenant.scale, t.measure.sigma * tenant.sigma))));
    const contention = contentionAt(at, o.startAt, o.peakHourUtc);
    const incident = inIncident(at);
    const bumped = t.bump !== undefined && at - o.startAt >= t.bump.at;
    // Every draw is made whatever the branch, so one template's change never shifts another's numbers.
    const zCpu = random.normal();
    const zMem = random.normal();
    const zIo = random.normal();
    const uThrow = random.next();
    const uFraction = random.next();
    const outputBytes = random.int(40, 400);

    const cpuNeed = t.cpu.a * x ** t.cpu.b * Math.exp(t.cpu.sigma * zCpu) * (1 + 0.25 * contention) * (bumped ? t.bump.cpu : 1);
    const io = t.wall.ioMedian > 0 ? t.wall.ioMedian * Math.exp(t.wall.ioSigma * zIo) * (1 + 1.5 * contention) * (incident ? (t.wall.incidentSlowdown ?? 1) : 1) : 0;
    const wallNeed = cpuNeed * t.wall.overhead * (1 + 0.5 * contention) + t.wall.fixed + io;
    const memNeed = t.memory.fixed + t.memory.a * x ** t.memory.b * Math.exp(t.memory.sigma * zMem);

    // A run that throws stops early: it used only part of what it would have.
    const throws = (t.throwsAbove !== undefined && t.property.lengthOf(x) > t.throwsAbove) || (incident && uThrow < 0.3);
    const fraction = throws ? 0.05 + 0.45 * uFraction : 1;
    const cpuUsed = cpuNeed * fraction;
    const wallUsed = wallNeed * fraction;
    const memUsed = memNeed * (throws ? Math.sqrt(fraction) : 1);

    // The first limit a run reaches stops it; how far into the run each is reached, assuming steady use.
    const limits = t.limits;
    const reach = [
      ['cpuMs', limits.cpuMs / cpuUsed],
      ['timeoutMs', limits.timeoutMs / wallUsed],
      ['memoryMb', limits.memoryMb / memUsed],
    ].filter(([, f]) => f < 1);
    reach.sort((a, b) => a[1] - b[1]);
    const killedBy = reach[0]?.[0];
    const killedAt = reach[0]?.[1] ?? 1;

    const version = bumped ? t.bump.version : '1.0.0';
    const inputBytes = t.measure.bytesPer ? x * t.measure.bytesPer : x;
    const length = t.property.lengthOf(x);
    const record = {
      id: `fx${o.seed}-${String(index).padStart(5, '0')}`,
      template: name,
      version,
      digest: `fixture-${name}-${version}`,
      env: 'prod',
      tenant: tenantName,
      startedAt: at,
      createMs: 0,
      runMs: round2(killedBy === 'timeoutMs' ? limits.timeoutMs : wallUsed * killedAt),
      cpuMs: round2(killedBy === 'cpuMs' ? limits.cpuMs : cpuUsed * killedAt),
      // The shared isolate's heap after the run, earlier runs' garbage included: grows through the day, not the figure to size by.
      heapUsedAtEndBytes: Math.round((memUsed * (killedBy ? killedAt : 1) + 4 + 20 * (((at - o.startAt) % DAY_MS) / DAY_MS)) * MB),
      ...(killedBy ? {} : { heapGrowthBytes: Math.round(memUsed * MB) }),
      limits: { cpuMs: limits.cpuMs, timeoutMs: limits.timeoutMs, memoryMb: limits.memoryMb },
      ...(killedBy ? { censoredBy: killedBy } : {}),
      inputBytes,
      outputBytes: killedBy || throws ? 0 : outputBytes,
      outcome: killedBy || throws ? 'error' : 'ok',
      ...(killedBy ? { errorCode: { cpuMs: 'E_CPU_LIMIT', timeoutMs: 'E_TIMEOUT', memoryMb: 'E_MEMORY_LIMIT' }[killedBy] } : throws ? { errorCode: 'E_AGENT_THREW' } : {}),
      tools: { ...t.tools },
      denials: [],
      grantsUsed: [...t.uses],
      logsDropped: 0,
      depth: 0,
      inputShape: {
        depth: t.property.type === 'array' ? 2 : 1,
        maxArrayLength: t.property.type === 'array' ? length : 0,
        maxStringLength: t.property.type === 'string' ? length : 16,
        topLevelKeys: 1,
        lengths: { [t.property.name]: length },
      },
    };
    records.push(record);
    needs.push({ cpuMs: round2(cpuUsed), timeoutMs: round2(wallUsed), memoryMb: round2(memUsed) });
  }
  return { options: o, records, needs, incidents, templates: FIXTURE_TEMPLATES, truth: FIXTURE_TRUTH };
}

/** A fixture as JSONL: one run record per line, in time order. */
export function fixtureJsonl(fixture) {
  return fixture.records.map((record) => JSON.stringify(record)).join('\n') + '\n';
}

/** SHA-256 of a fixture's JSONL and of its true needs: what "frozen" means (see fixtures/SHA256SUMS). */
export function fixtureDigest(fixture) {
  const hash = createHash('sha256');
  hash.update(fixtureJsonl(fixture));
  hash.update(JSON.stringify(fixture.needs));
  return hash.digest('hex');
}

/**
 * The template as the learner's generators see it (`TemplateHistory.template` and `raw`): the current version's digest,
 * its permissions resolved, its input schema.
 */
export function fixtureTemplate(name, records) {
  const t = FIXTURE_TEMPLATES[name];
  const latest = records.filter((record) => record.template === name).at(-1);
  const version = latest?.version ?? '1.0.0';
  const input = { type: 'object', required: [t.property.name], properties: { [t.property.name]: { type: t.property.type } } };
  const raw = { name, version, entry: 'main.ts', permissions: structuredClone(t.permissions), limits: { ...t.limits }, input };
  const permissions = { read: [], write: [], net: [], env: [], kv: false, spawn: [], wasm: false, ...structuredClone(t.permissions) };
  return {
    raw,
    template: { name, version, digest: `fixture-${name}-${version}`, manifest: { name, version, permissions, limits: { ...t.limits }, input } },
  };
}

// `node benchmarks/learner/fixtures.mjs [dir]` writes each seed's JSONL and the digests, for a look at the data.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
  mkdirSync(dir, { recursive: true });
  const sums = [];
  for (const seed of FIXTURE_SEEDS) {
    const fixture = generateFixture({ seed });
    writeFileSync(path.join(dir, `seed-${seed}.jsonl`), fixtureJsonl(fixture));
    sums.push(`${fixtureDigest(fixture)}  seed-${seed}`);
  }
  process.stdout.write(`${sums.join('\n')}\n`);
}
