/** @module sandbox/protocol — the messages between the supervisor and its sandbox host processes (JSON IPC: plain data only, no undefined-valued fields relied on). */
import type { AgentSpec, EffectiveLimits } from '../core/agent-spec.js';
import type { EngineResult } from './engine.js';

export interface HostSettings {
  maxIsolatesPerPool: number;
  isolateMaxRuns: number;
  heapProbeEvery: number;
  hostMemoryMb: number;
}

/** Supervisor → host. */
export type ToHost =
  | { t: 'init'; settings: HostSettings }
  /** `ahead: false`: load this template's module only on demand, inside a run (its top-level code once took a host down). */
  | { t: 'register'; spec: AgentSpec; ahead?: boolean }
  /**
   * `envValues`: the allowlisted env values of the template, present only when it has env grants and any of them is
   * set. The host holds them for this run only (a host never holds values of templates it is not running now).
   * `limits`: the run's effective limits, present only when a `limits.byInput` rule set them (the supervisor computed
   * them from the input; the host enforces them, and the supervisor's own hung-host timer uses them too).
   */
  | { t: 'run'; id: number; digest: string; input: string; tenant: string; env: string; depth: number; envValues?: Record<string, string>; limits?: EffectiveLimits }
  | { t: 'cancel'; id: number }
  | { t: 'svc-result'; id: number; ok: true; value: unknown }
  | { t: 'svc-result'; id: number; ok: false; error: { code: string; message: string; name: string } }
  | { t: 'close' }
  | { t: 'batch'; m: ToHost[] };

/** The tools the calling process serves (sandbox/capability-tools): a host forwards their raw arguments and decides nothing about them. */
export const CAPABILITY_TOOLS: ReadonlySet<string> = new Set(['fetch', 'readTextFile', 'writeTextFile', 'kv.get', 'kv.set', 'kv.delete', 'kv.list', 'spawn']);

/** Timers and tool calls one run may have pending, in the engine and again in the calling process (a host may lie). */
export const MAX_PENDING_CALLS = 10_000;

/**
 * A capability tool call (fetch, readTextFile, writeTextFile, kv.*, spawn: sandbox/capability-tools) on behalf of the
 * run `run` (the id the supervisor gave it), with the agent's arguments as the prelude encoded them. The supervisor
 * trusts nothing else a host says about the caller: template, tenant, depth and grants come from its own records,
 * and it makes every check and does the I/O itself.
 */
export type ServiceRequest = { op: 'tool'; run: number; tool: string; args: string };

/** Host → supervisor. */
export type FromHost =
  | { t: 'ready' }
  | { t: 'capacity'; ready: Record<string, number> }
  | { t: 'result'; id: number; result: EngineResult }
  | { t: 'svc'; id: number; request: ServiceRequest }
  /** An `env.get` denial, the only one a host decides; the supervisor takes the template from its record of `run`. */
  | { t: 'denial'; run: number; template: string; permission: string; target: string; grantKey: string }
  /**
   * The host passed its memory cap (or V8 lost an isolate to out-of-memory, `fatal`) and is exiting. `culprit` is the
   * run it blames; the supervisor accepts it only if that run is in flight on this host. `noneToBlame`: none of the
   * runs still in flight is (the host already stopped the one it blamed, or none was running, or it was loading
   * `loading` ahead of demand).
   */
  | { t: 'memory'; rssMb: number; fatal?: boolean; culprit?: number; noneToBlame?: boolean; loading?: string }
  | { t: 'batch'; m: FromHost[] };

