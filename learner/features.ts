/** @module learner/features — turns run records into feature vectors and per-resource observations, marking runs that hit a limit as censored. */
import type { Limits } from '../core/agent-spec.js';
import type { RunRecord } from '../core/run-record.js';
import type { Observation, Resource } from './recommender.js';

/** Names of the features, in vector order. */
export const FEATURE_NAMES = [
  'log_input_bytes',
  'input_depth',
  'log_max_array_length',
  'log_max_string_length',
  'top_level_keys',
  'log_kv_calls',
  'log_fetch_calls',
  'log_file_calls',
  'log_spawn_calls',
  'log_log_calls',
  'hour_sin',
  'hour_cos',
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;

/** The error code a run ends with when it hits each limit. */
const LIMIT_CODE: Record<Resource, string> = { memoryMb: 'E_MEMORY_LIMIT', timeoutMs: 'E_TIMEOUT', cpuMs: 'E_CPU_LIMIT' };

/** Input size and shape, tools used and time of day of one run. */
export function featuresOf(record: RunRecord): number[] {
  const shape = record.inputShape;
  const tools = record.tools;
  const hour = (new Date(record.startedAt).getUTCHours() + new Date(record.startedAt).getUTCMinutes() / 60) / 24;
  return [
    Math.log1p(record.inputBytes),
    shape?.depth ?? 0,
    Math.log1p(shape?.maxArrayLength ?? 0),
    Math.log1p(shape?.maxStringLength ?? 0),
    shape?.topLevelKeys ?? 0,
    Math.log1p(tools.kv ?? 0),
    Math.log1p(tools.fetch ?? 0),
    Math.log1p((tools.readTextFile ?? 0) + (tools.writeTextFile ?? 0)),
    Math.log1p(tools.spawn ?? 0),
    Math.log1p(tools.log ?? 0),
    Math.sin(2 * Math.PI * hour),
    Math.cos(2 * Math.PI * hour),
  ];
}

/** The measured peak of a resource in the limit's unit. */
export function peakOf(record: RunRecord, resource: Resource): number {
  switch (resource) {
    case 'memoryMb':
      return record.heapUsedAtEndBytes / (1024 * 1024);
    case 'timeoutMs':
      return record.runMs;
    case 'cpuMs':
      return record.cpuMs;
  }
}

/** Did the run end because it hit this resource's limit? */
export function hitLimit(record: RunRecord, resource: Resource): boolean {
  return record.errorCode === LIMIT_CODE[resource];
}

/**
 * Runs whose record says nothing about what the agent needs: refused before it ran (invalid input, cancelled,
 * no host had room: `E_UNAVAILABLE`), or lost with their sandbox host (`E_SANDBOX_CRASHED`, which is also what a run
 * gets when another run took its host down; their stats are empty).
 */
export const NOT_MEASURED = new Set(['E_INPUT_INVALID', 'E_DISPOSED', 'E_UNAVAILABLE', 'E_SANDBOX_CRASHED']);

/**
 * Observations of one resource. A run that hit the limit is censored at the limit in force (its
 * need is at least that), found through `limitsOf` (by the run's digest and environment);
 * failed runs that say nothing about the agent's needs ({@link NOT_MEASURED}) are left out.
 */
export function observationsOf(records: readonly RunRecord[], resource: Resource, limitsOf: (record: RunRecord) => Limits | undefined): Observation[] {
  const observations: Observation[] = [];
  for (const record of records) {
    if (record.outcome === 'error' && NOT_MEASURED.has(record.errorCode ?? '')) continue;
    const censored = hitLimit(record, resource);
    const limit = censored ? limitsOf(record)?.[resource] : undefined;
    if (censored && limit === undefined) continue;
    observations.push({ at: record.startedAt, value: censored ? (limit as number) : peakOf(record, resource), censored, features: featuresOf(record), size: Math.max(1, record.inputBytes) });
  }
  return observations;
}
