/** @module learner/features — turns run records into feature vectors and per-resource observations, marking runs that hit a limit as censored. */
import type { Limits } from '../core/agent-spec.js';
import type { RunRecord } from '../core/run-record.js';
import { type Observation, RESOURCES, type Resource } from './recommender.js';

/** Names of the features, in vector order: the admission-time ones, then the tools the run called. */
export const FEATURE_NAMES = [
  'log_input_bytes',
  'input_depth',
  'log_max_array_length',
  'log_max_string_length',
  'top_level_keys',
  'hour_sin',
  'hour_cos',
  'log_kv_calls',
  'log_fetch_calls',
  'log_file_calls',
  'log_spawn_calls',
  'log_log_calls',
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;

/**
 * The features known before a run starts: its input's size and shape, and the time of day. Anything that sets a limit
 * uses only these; tool-call counts are known only after the run and would leak the outcome into the prediction.
 */
export const ADMISSION_FEATURE_NAMES = FEATURE_NAMES.slice(0, 7);

/** Input size and shape and time of day of one run: {@link ADMISSION_FEATURE_NAMES}, in order. */
export function admissionFeaturesOf(record: RunRecord): number[] {
  const shape = record.inputShape;
  const hour = (new Date(record.startedAt).getUTCHours() + new Date(record.startedAt).getUTCMinutes() / 60) / 24;
  return [
    Math.log1p(record.inputBytes),
    shape?.depth ?? 0,
    Math.log1p(shape?.maxArrayLength ?? 0),
    Math.log1p(shape?.maxStringLength ?? 0),
    shape?.topLevelKeys ?? 0,
    Math.sin(2 * Math.PI * hour),
    Math.cos(2 * Math.PI * hour),
  ];
}

/** The error code a run ends with when it hits each limit. */
const LIMIT_CODE: Record<Resource, string> = { memoryMb: 'E_MEMORY_LIMIT', timeoutMs: 'E_TIMEOUT', cpuMs: 'E_CPU_LIMIT' };

/** Input size and shape, time of day and tools used of one run: {@link FEATURE_NAMES}, in order. */
export function featuresOf(record: RunRecord): number[] {
  const tools = record.tools;
  return [
    ...admissionFeaturesOf(record),
    Math.log1p(tools.kv ?? 0),
    Math.log1p(tools.fetch ?? 0),
    Math.log1p((tools.readTextFile ?? 0) + (tools.writeTextFile ?? 0)),
    Math.log1p(tools.spawn ?? 0),
    Math.log1p(tools.log ?? 0),
  ];
}

/**
 * What an isolate holds before any run's own work: the prelude, the bridge and a ready context (measured: 1.1 MB with
 * one context), rounded up for a second ready context. `limits.memoryMb` is the isolate's heap limit, so a run needs this
 * plus its own growth.
 */
export const ISOLATE_BASE_BYTES = 2 * 1024 * 1024;

/**
 * The measured need of a resource in the limit's unit, or undefined when the record has none: memory is the run's own
 * heap growth (`heapGrowthBytes`) plus {@link ISOLATE_BASE_BYTES}, absent for killed and unsampled runs and for records
 * from before it was kept (the isolate's heap after the run includes earlier runs' garbage, so it is not a need).
 */
export function peakOf(record: RunRecord, resource: Resource): number | undefined {
  switch (resource) {
    case 'memoryMb':
      return record.heapGrowthBytes === undefined ? undefined : (record.heapGrowthBytes + ISOLATE_BASE_BYTES) / (1024 * 1024);
    case 'timeoutMs':
      return record.runMs;
    case 'cpuMs':
      return record.cpuMs;
  }
}

/** The limit that stopped the run, if one did: its recorded `censoredBy`, or for older records the error code. */
export function stoppedBy(record: RunRecord): Resource | undefined {
  // Read from a database row: only a resource name counts (an edited row cannot invent a fourth).
  if (record.censoredBy !== undefined && (RESOURCES as readonly string[]).includes(record.censoredBy)) return record.censoredBy;
  for (const resource of ['memoryMb', 'timeoutMs', 'cpuMs'] as const) if (record.errorCode === LIMIT_CODE[resource]) return resource;
  return undefined;
}

/** Did the run end because it hit this resource's limit? */
export function hitLimit(record: RunRecord, resource: Resource): boolean {
  return stoppedBy(record) === resource;
}

/**
 * Runs whose record says nothing about what the agent needs: refused before it ran (invalid input, cancelled,
 * no host had room: `E_UNAVAILABLE`), or lost with their sandbox host (`E_SANDBOX_CRASHED`, which is also what a run
 * gets when another run took its host down; their stats are empty).
 */
export const NOT_MEASURED = new Set(['E_INPUT_INVALID', 'E_DISPOSED', 'E_UNAVAILABLE', 'E_SANDBOX_CRASHED']);

/**
 * The limit a run ran under: its recorded effective limit, which is never above its version's flat limit (a byInput rule
 * only lowers it) — so a recorded value above that, or not a positive number, is an edited row and the flat limit counts.
 */
function limitRanUnder(record: RunRecord, resource: Resource, flat: Limits | undefined): number | undefined {
  const recorded: unknown = record.limits?.[resource];
  const ceiling = flat?.[resource];
  if (typeof recorded === 'number' && recorded > 0 && (ceiling === undefined || recorded <= ceiling)) return recorded;
  return ceiling;
}

/** The time resources: a run stopped by one of them was also cut short in the other, whose figure is then a lower bound. */
const TIME_RESOURCES: ReadonlySet<Resource> = new Set(['cpuMs', 'timeoutMs']);

/**
 * Observations of one resource:
 * - a run stopped by this resource's limit is censored at the limit it ran under (its need is at least that): the
 *   record's own effective `limits`, or for older records `limitsOf` (by the run's digest and environment);
 * - a run stopped by the other time limit is censored at what it used (CPU of a timed-out run, wall time of a
 *   CPU-killed run: lower bounds, not needs);
 * - a run stopped by any limit says nothing about its memory, nor does a record without a memory figure;
 * - failed runs that say nothing about the agent's needs ({@link NOT_MEASURED}) are left out.
 * `size` is the run's input bytes, or `measureOf(record)` when given (a byInput rule's measure).
 */
export function observationsOf(
  records: readonly RunRecord[],
  resource: Resource,
  limitsOf: (record: RunRecord) => Limits | undefined,
  measureOf: (record: RunRecord) => number | undefined = () => undefined,
): Observation[] {
  const observations: Observation[] = [];
  for (const record of records) {
    if (record.outcome === 'error' && NOT_MEASURED.has(record.errorCode ?? '')) continue;
    const stopper = stoppedBy(record);
    let value: number | undefined;
    let censored = false;
    if (stopper === resource) {
      value = limitRanUnder(record, resource, limitsOf(record));
      censored = true;
    } else if (stopper !== undefined) {
      if (!TIME_RESOURCES.has(resource) || !TIME_RESOURCES.has(stopper)) continue;
      value = peakOf(record, resource);
      censored = true;
    } else {
      value = peakOf(record, resource);
    }
    if (value === undefined || !Number.isFinite(value)) continue;
    const size = Math.max(1, measureOf(record) ?? record.inputBytes);
    observations.push({ at: record.startedAt, value, censored, features: admissionFeaturesOf(record), size });
  }
  return observations;
}
