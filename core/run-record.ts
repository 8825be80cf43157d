/** @module core/run-record — the record every run leaves, and the sink it is handed to (the store implements it). */
import type { EffectiveLimits, ToolCounts } from './agent-spec.js';
import type { ErrorCode } from './errors.js';

/** One run, as recorded: what ran, for whom, how long it took, and how it ended. */
export interface RunRecord {
  id: string;
  template: string;
  version: string;
  /** The template digest (environment-independent; what is signed). */
  digest: string;
  env: string;
  tenant: string;
  /** Wall-clock start, epoch milliseconds. */
  startedAt: number;
  /** Time `createAgent` took for the agent that ran (0 when the agent was reused). */
  createMs: number;
  runMs: number;
  cpuMs: number;
  /** The isolate's used heap after the run, earlier runs' garbage included: for operating hosts, not for sizing. */
  heapUsedAtEndBytes: number;
  /**
   * Heap the run itself needed, bytes (see docs/architecture.md, "Per-run memory"). Absent when the run was not measured:
   * killed, crashed, refused, or recorded before this was kept.
   */
  heapGrowthBytes?: number;
  /** The limits the run ran under (after `limits.byInput`). Absent in records from before they were kept. */
  limits?: EffectiveLimits;
  /**
   * The limit that stopped the run. Its figure for that resource is then a lower bound (the limit in force); its figures
   * for the others are absent or, for wall time of a CPU-killed run, a lower bound too.
   */
  censoredBy?: 'cpuMs' | 'timeoutMs' | 'memoryMb';
  inputBytes: number;
  outputBytes: number;
  outcome: 'ok' | 'error';
  errorCode?: ErrorCode;
  /** Tool calls by tool name. */
  tools: ToolCounts;
  /** Denied tool calls. */
  denials: Array<{ permission: string; target: string }>;
  /**
   * Grants the run used, as keys (`env:LOG_LEVEL`, `net:api.example.com`, `kv`), sorted. Absent in records from
   * before it was kept, which least privilege then does not count for single entries.
   */
  grantsUsed?: string[];
  /** Log entries dropped past `limits.logKb`. */
  logsDropped: number;
  /** Spawn depth: 0 for a run started by a caller. */
  depth: number;
  /** The run that spawned this one, if any. */
  parentId?: string;
  /** Input shape for the learner: array lengths, string lengths, depth (no values). */
  inputShape?: InputShape;
  /**
   * What a failed run was given and gave back: only for templates that opt in (`debug.captureFailures`), only when
   * the run failed. Values, unlike everything above: inputs may hold secrets. Stored apart from the run (`run_captures`).
   */
  capture?: RunCapture;
}

/** A failed run's input, output or error message, and logs, each as text cut to `maxBytes` (UTF-8) with a marker. */
export interface RunCapture {
  /** The input as JSON; absent when it has no JSON form. Not valid JSON when `inputTruncated`. */
  input?: string;
  inputTruncated: boolean;
  /** The output as JSON, when the run produced one (an output its schema refused). */
  output?: string;
  outputTruncated: boolean;
  errorMessage?: string;
  /** The log entries as a JSON array (`{ level, message, fields? }`). Not valid JSON when `logsTruncated`. */
  logs: string;
  logsTruncated: boolean;
  /** The bound each part was cut to. */
  maxBytes: number;
}

/** What the learner may know about an input without seeing its values. */
export interface InputShape {
  /** Deepest nesting of arrays and objects. */
  depth: number;
  /** Longest array anywhere in the input. */
  maxArrayLength: number;
  /** Longest string anywhere in the input. */
  maxStringLength: number;
  /** Number of keys of the top-level object (0 otherwise). */
  topLevelKeys: number;
  /**
   * Lengths of the top-level object's array and string properties (at most 16 of them): what the
   * learner needs to suggest `maxItems`/`maxLength` where long inputs fail.
   */
  lengths?: Record<string, number>;
}

/**
 * Receives run records. `write` must not block the run: implementations queue and batch.
 * `flush` resolves when everything written so far is durable.
 */
export interface RunSink {
  write(record: RunRecord): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The limit a run's error code says stopped it, in the load phase as in the run (`details.phase` tells them apart;
 * the code is the same). `E_MEMORY_LIMIT` covers the isolate's heap limit and the host's memory cap alike.
 */
export function censoredByCode(code: ErrorCode | undefined): RunRecord['censoredBy'] {
  if (code === 'E_CPU_LIMIT') return 'cpuMs';
  if (code === 'E_TIMEOUT') return 'timeoutMs';
  if (code === 'E_MEMORY_LIMIT') return 'memoryMb';
  return undefined;
}

/**
 * Error codes of runs that went to their end in a live isolate, whose memory figure is kept: the agent threw, or its
 * output or a tool call was refused. Every other failure (a limit, a crash, a refusal before the run) has none.
 */
const MEASURED_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_AGENT_THREW', 'E_OUTPUT_INVALID', 'E_OUTPUT_LIMIT', 'E_PERMISSION_DENIED', 'E_SPAWN_LIMIT', 'E_KV_QUOTA', 'E_FETCH']);

/** Whether a run that ended with `code` (undefined: it succeeded) keeps its memory figure. */
export function keepsHeapGrowth(code: ErrorCode | undefined): boolean {
  return code === undefined || MEASURED_FAILURES.has(code);
}
