/** @module sandbox/calling-side — what both sandbox kinds do in the calling process: input encoding, result decoding, the spawn adapter, env capture. */
import type { AgentSpec, EffectiveLimits } from '../core/agent-spec.js';
import { isErrorCode } from '../core/errors.js';
import type { EngineResult } from './engine.js';
import { ToolError } from './permissions.js';
import type { KvStore, SandboxRunResult, SandboxRunStats, ToolServices } from './types.js';

/** The values of the variables a template may read, and only those: nothing else leaves the calling process. */
export function envValuesFor(spec: AgentSpec, processEnv: Record<string, string | undefined>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of spec.permissions.env) {
    const value = processEnv[name];
    if (value !== undefined) values[name] = value;
  }
  return values;
}

export function emptyStats(runMs = 0, inputBytes = 0, limits?: EffectiveLimits): SandboxRunStats {
  return { runMs, cpuMs: 0, heapUsedAtEndBytes: 0, inputBytes, outputBytes: 0, tools: {}, denials: [], logs: [], logsDropped: 0, ...(limits ? { limits } : {}) };
}

/**
 * The host is not trusted: its memory figure is kept only if it could be one — a finite number of bytes, at most
 * {@link HEAP_GROWTH_BOUND} times the isolate's limit (V8 passes `memoryMb` by up to 3.6× before it stops a run,
 * docs/architecture.md "Memory budget"). Anything else is dropped, as for a run that was not measured.
 */
export function checkedHeapGrowth<S extends { heapGrowthBytes?: number }>(stats: S, memoryMb: number): S {
  if (!('heapGrowthBytes' in stats)) return stats;
  const value: unknown = stats.heapGrowthBytes;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= memoryMb * HEAP_GROWTH_BOUND * 1024 * 1024) return stats;
  const { heapGrowthBytes: _dropped, ...rest } = stats;
  return rest as S;
}

/** How many times `limits.memoryMb` a reported heap growth may be (see {@link checkedHeapGrowth}). */
export const HEAP_GROWTH_BOUND = 4;

/** Encodes the input once, in the calling process; `''` stands for undefined. `bytes` is its UTF-8 length. */
export function encodeInput(input: unknown): { ok: true; json: string; bytes: number } | { ok: false; result: SandboxRunResult } {
  try {
    const json = (input === undefined ? '' : JSON.stringify(input)) ?? '';
    return { ok: true, json, bytes: Buffer.byteLength(json) };
  } catch (error) {
    return { ok: false, result: { ok: false, error: { code: 'E_INPUT_INVALID', message: `input is not JSON-serialisable: ${(error as Error).message}` }, stats: emptyStats() } };
  }
}

/**
 * Parses the output JSON once, at the edge, and adds what the calling side knows itself: the input size and the run's
 * limits. `result.stats` must be the calling side's own copy (mergeServed makes one): it is completed in place, not
 * copied again, on every run's path.
 */
export function decodeResult(result: EngineResult, inputBytes: number, limits: EffectiveLimits): SandboxRunResult {
  const stats = result.stats as SandboxRunStats;
  stats.inputBytes = inputBytes;
  stats.limits = limits;
  if (!result.ok) {
    return { ok: false, error: result.error ?? { code: 'E_INTERNAL', message: 'run failed without an error' }, stats };
  }
  return { ok: true, output: result.outputJson === undefined ? undefined : JSON.parse(result.outputJson), stats };
}

export function disposedResult(message: string): SandboxRunResult {
  return { ok: false, error: { code: 'E_DISPOSED', message }, stats: emptyStats() };
}

/** Runs `services.spawn` for a tool call and turns its outcome into what the bridge carries (JSON text or a coded error). */
export async function spawnViaServices(
  services: ToolServices,
  request: { name: string; inputJson: string; tenant: string; env: string; depth: number; parentId?: string | undefined; kv?: KvStore | undefined },
  signal: AbortSignal,
): Promise<string> {
  let output: unknown;
  try {
    output = await services.spawn({
      name: request.name,
      input: request.inputJson === '' ? undefined : JSON.parse(request.inputJson),
      tenant: request.tenant,
      env: request.env,
      depth: request.depth,
      ...(request.parentId !== undefined ? { parentId: request.parentId } : {}),
      ...(request.kv !== undefined ? { kv: request.kv } : {}),
      signal,
    });
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown } | null;
    const code = e && isErrorCode(e.code) ? e.code : 'E_AGENT_THREW';
    throw new ToolError(code, `spawn ${JSON.stringify(request.name)} failed: ${e && typeof e.message === 'string' ? e.message : String(error)}`, 'SpawnError');
  }
  if (output === undefined) return '';
  return JSON.stringify(output) ?? '';
}
