/** @module sandbox/protocol — the messages between the supervisor and its sandbox host processes (structured-clone IPC). */
import type { AgentSpec } from '../core/agent-spec.js';
import type { EngineResult } from './engine.js';
import type { KvNamespace } from './types.js';

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
  | { t: 'register'; spec: AgentSpec; env: Record<string, string> }
  | { t: 'run'; id: number; digest: string; input: string; tenant: string; env: string; depth: number }
  | { t: 'cancel'; id: number }
  | { t: 'svc-result'; id: number; ok: true; value: unknown }
  | { t: 'svc-result'; id: number; ok: false; error: { code: string; message: string; name: string } }
  | { t: 'close' };

export type KvCall =
  | { method: 'get'; ns: KvNamespace; key: string }
  | { method: 'set'; ns: KvNamespace; key: string; json: string; quotaBytes: number }
  | { method: 'delete'; ns: KvNamespace; key: string }
  | { method: 'list'; ns: KvNamespace; prefix: string; limit: number };

/** A call into the services of the calling process. */
export type ServiceRequest = { op: 'kv'; call: KvCall } | { op: 'spawn'; name: string; inputJson: string; tenant: string; env: string; depth: number };

/** Host → supervisor. */
export type FromHost =
  | { t: 'ready' }
  | { t: 'capacity'; ready: Record<string, number> }
  | { t: 'result'; id: number; result: EngineResult }
  | { t: 'svc'; id: number; request: ServiceRequest }
  | { t: 'svc-cancel'; id: number }
  | { t: 'denial'; template: string; permission: string; target: string; grantKey: string }
  | { t: 'memory'; rssMb: number };
