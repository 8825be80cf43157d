/** @module sandbox/types — the public shapes of the sandbox: options, services it is given, reservations and run results. */
import type { LayerStatus } from './lockdown.js';
import type { AgentSpec, EffectiveLimits, ToolCounts } from '../core/agent-spec.js';
import type { Clock } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import type { KvStore } from '../core/kv.js';
import type { Logger } from '../core/logger.js';

// The kv contract lives in core: the store implements it too, and may not import the sandbox.
export type { KvNamespace, KvSetResult, KvStore } from '../core/kv.js';

export interface SpawnRequest {
  name: string;
  input: unknown;
  tenant: string;
  env: string;
  /** Depth of the child run (the parent's depth + 1). */
  depth: number;
  /** The record id of the run that spawned it (its {@link RunOptions.recordId}), from the calling side's own record. */
  parentId?: string;
  signal?: AbortSignal;
  /**
   * The spawning run's own kv ({@link RunOptions.kv}), when its caller gave one: the child's `ctx.kv` goes through it
   * too (in the child's own namespace, under the child's own permission), so a queued run's children write only when it
   * completes, and nothing when it does not.
   */
  kv?: KvStore;
}

export interface DenialEvent {
  template: string;
  /** The tenant of the run that was denied (from the calling side's own record of the run): whose audit chain it goes to. */
  tenant: string;
  permission: string;
  target: string;
  /** The manifest key that would grant it, e.g. `permissions.net`. */
  grantKey: string;
}

/** What the calling process provides; in process isolation, `kv` and `spawn` calls come back to it over IPC. */
export interface ToolServices {
  kv: KvStore;
  /**
   * Resolves and runs the child template with the child's own permissions and returns its output.
   * Throw a FactoryError (or any error with a `code`) to fail the `ctx.spawn` call.
   */
  spawn(request: SpawnRequest): Promise<unknown>;
  /** Called for every denied tool call, for the audit log. */
  onDenial?(denial: DenialEvent): void;
}

export interface SandboxOptions {
  /** `process` runs isolates in sandbox host processes; `inline` in the calling process (trusted templates, benchmarks). @default 'process' */
  isolation?: 'process' | 'inline';
  /** Number of sandbox host processes. @default os.availableParallelism() */
  hosts?: number;
  /**
   * Resident-memory cap per host process in MB. Runs are admitted to a host only while their charges fit its budget
   * (2 × limits.memoryMb + 8 MB each, within hostMemoryMb − 64 MB; see sandbox/memory-budget), so a template's
   * limits.memoryMb can be at most (hostMemoryMb − 72) / 2. A host past its cap stops the run behind it, or is
   * restarted. @default 1024
   */
  hostMemoryMb?: number;
  /** Isolates per memory class per host (one run at a time per isolate). @default 4 */
  maxIsolatesPerPool?: number;
  /** Contexts an isolate releases (fresh-context runs, mostly; a reused context counts once, when dropped) before it is replaced. @default 2000 */
  isolateMaxRuns?: number;
  /**
   * One run in this many, per isolate, gets the per-run memory figure (`heapGrowthBytes`; docs/architecture.md,
   * "Per-run memory"); 1 measures every run. Measuring costs a run with a fresh context about 1 ms (two scavenges that
   * promote the context), so by default a sample is measured. @default 8
   */
  heapProbeEvery?: number;
  /** Largest `fetch` response body, in bytes. @default 4 MiB */
  fetchMaxBytes?: number;
  /** Largest file `readTextFile` returns, in bytes. @default 8 MiB */
  readMaxBytes?: number;
  services: ToolServices;
  logger?: Logger;
  clock?: Clock;
  /** What `ctx.env.get` reads, after the allowlist check. @default process.env */
  processEnv?: Record<string, string | undefined>;
  /**
   * The operating-system lockdown of host processes (sandbox/lockdown): `auto` applies every layer this machine
   * supports, `off` none. Process isolation only. @default 'auto'
   */
  lockdown?: 'auto' | 'off';
}

/** A slot handed out by {@link Sandbox.reserve}; opaque to callers. */
export interface Reservation {
  readonly id: number;
  readonly digest: string;
}

export interface RunOptions {
  tenant: string;
  env: string;
  /** Spawn depth of this run; 0 for a run started by a caller. @default 0 */
  depth?: number;
  /** The run's record id: spawns it makes name it as their parent. Never sent to a host. */
  recordId?: string;
  /** Aborting it cancels the run: `ctx.signal` fires and the run ends with `E_DISPOSED`. */
  signal?: AbortSignal;
  /**
   * Serves this run's `ctx.kv` instead of the sandbox's kv (`services.kv`): a runner gives each run a kv that holds its
   * writes until the run is completed, so they are applied once even when the run itself runs twice. Passed on to the
   * runs it spawns ({@link SpawnRequest.kv}), whose writes are then held and applied with it.
   */
  kv?: KvStore;
}

export interface RunLogEntry {
  level: string;
  message: string;
  fields?: unknown;
}

/**
 * What a run cost and did, as the runtime reports it (`RunReport.stats`, the API's `RunStats`): one type for every
 * module. The sandbox measures all of it but `createMs` ({@link SandboxRunStats}).
 */
export interface RunStats {
  /** Time `createAgent` took for the agent that ran (0 for later runs of the same agent). The runtime adds it. */
  createMs: number;
  runMs: number;
  cpuMs: number;
  /**
   * Used heap of the isolate when the run ended. V8 reports no per-run peak, and reading heap statistics while
   * the isolate runs waits for it to yield, so the CPU watchdog cannot sample it.
   */
  heapUsedAtEndBytes: number;
  /**
   * Bytes the run grew its isolate's heap by, earlier runs' garbage left out (sandbox/heap-probe; docs/architecture.md,
   * "Per-run memory"). Absent when the run was not measured: stopped by a limit, crashed, or refused before it ran.
   */
  heapGrowthBytes?: number;
  /** UTF-8 bytes of the input as JSON (0 for undefined). */
  inputBytes: number;
  /** UTF-8 bytes of the output as JSON (0 for undefined or a failed run). */
  outputBytes: number;
  tools: ToolCounts;
  denials: Array<{ permission: string; target: string }>;
  logs: RunLogEntry[];
  /** Log entries dropped after `limits.logKb` was reached. */
  logsDropped: number;
}

/** What the sandbox reports of one run: {@link RunStats} but `createMs`, which only the runtime knows, and with the grants used. */
export interface SandboxRunStats extends Omit<RunStats, 'createMs'> {
  /**
   * Grant keys whose checks passed (`env:LOG_LEVEL`, `kv`), sorted; absent when the run never reached a tool. The
   * runtime keeps the ones the template was granted in the run record (`RunRecord.grantsUsed`), not in its stats.
   */
  grantsUsed?: string[];
  /**
   * The limits the run was held to, computed by the calling side from the input before the run (`limits.byInput`), or
   * the flat ones; never what a host reported. Absent only for a run refused before its input was encoded.
   */
  limits?: EffectiveLimits;
}

export interface RunError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export type SandboxRunResult = { ok: true; output: unknown; stats: SandboxRunStats } | { ok: false; error: RunError; stats: SandboxRunStats };

export interface SandboxStats {
  hosts: number;
  pools: Array<{ digest: string; ready: number; busy: number }>;
  restarts: number;
}

export interface Sandbox {
  /** Compiles the bundle in pooled isolates and prewarms `spec.pool.prewarm` contexts, in the background. */
  register(spec: AgentSpec): void;
  /**
   * Synchronous, no IPC, no context creation: hands out a slot kept ready ahead of demand. Registers the spec if needed.
   * @throws FactoryError `E_POLICY_DENIED` when the template's limits.memoryMb cannot fit a sandbox host.
   */
  reserve(spec: AgentSpec): Reservation;
  /** Runs the agent once. Never throws for agent misbehaviour: limits, exceptions, denials and crashes are `{ ok: false }`. */
  run(reservation: Reservation, input: unknown, options: RunOptions): Promise<SandboxRunResult>;
  /** Gives the slot back (agent.dispose). Later runs with it end with `E_DISPOSED`. */
  release(reservation: Reservation): void;
  stats(): SandboxStats;
  /** The operating-system lockdown of its host processes, layer by layer (none in inline isolation). */
  lockdown(): LayerStatus[];
  /** Stops every host and disposes every isolate; runs still in flight end with `E_DISPOSED`. */
  close(): Promise<void>;
}
