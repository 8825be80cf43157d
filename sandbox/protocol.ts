/** @module sandbox/protocol — the messages between the supervisor and its sandbox host processes (JSON IPC: plain data only, no undefined-valued fields relied on). */
import type { AgentSpec } from '../core/agent-spec.js';
import type { EngineResult } from './engine.js';

export interface HostSettings {
  maxIsolatesPerPool: number;
  isolateMaxRuns: number;
  fetchMaxBytes: number;
  readMaxBytes: number;
  hostMemoryMb: number;
}

/** Supervisor → host. */
export type ToHost =
  | { t: 'init'; settings: HostSettings }
  /** `ahead: false`: load this template's module only on demand, inside a run (its top-level code once took a host down). */
  | { t: 'register'; spec: AgentSpec; env: Record<string, string>; ahead?: boolean }
  | { t: 'run'; id: number; digest: string; input: string; tenant: string; env: string; depth: number }
  | { t: 'cancel'; id: number }
  | { t: 'svc-result'; id: number; ok: true; value: unknown }
  | { t: 'svc-result'; id: number; ok: false; error: { code: string; message: string; name: string } }
  | { t: 'close' }
  | { t: 'batch'; m: ToHost[] };

/** A kv call as a host sends it: no namespace or quota, which the supervisor derives from its own record of the run. */
export type KvCall =
  | { method: 'get'; key: string }
  | { method: 'set'; key: string; json: string }
  | { method: 'delete'; key: string }
  | { method: 'list'; prefix: string; limit: number };

/**
 * A call into the services of the calling process, on behalf of the run `run` (the id the supervisor gave it).
 * The supervisor trusts nothing else a host says about the caller: template, tenant, depth and grants come from its own records.
 */
export type ServiceRequest = { op: 'kv'; run: number; call: KvCall } | { op: 'spawn'; run: number; name: string; inputJson: string };

/** Host → supervisor. */
export type FromHost =
  | { t: 'ready' }
  | { t: 'capacity'; ready: Record<string, number> }
  | { t: 'result'; id: number; result: EngineResult }
  | { t: 'svc'; id: number; request: ServiceRequest }
  | { t: 'svc-cancel'; id: number }
  | { t: 'denial'; template: string; permission: string; target: string; grantKey: string }
  /**
   * The host passed its memory cap (or V8 lost an isolate to out-of-memory, `fatal`) and is exiting. `culprit` is the
   * run it blames; the supervisor accepts it only if that run is in flight on this host. `noneToBlame`: none of the
   * runs still in flight is (the host already stopped the one it blamed, or none was running, or it was loading
   * `loading` ahead of demand).
   */
  | { t: 'memory'; rssMb: number; fatal?: boolean; culprit?: number; noneToBlame?: boolean; loading?: string }
  | { t: 'batch'; m: FromHost[] };

