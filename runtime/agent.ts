/** @module runtime/agent — a live instance of a resolved template bound to a sandbox slot; runs it and records every run. */
import type { KvStore } from '../core/kv.js';
import type { Clock } from '../core/clock.js';
import { isGranted, type Permissions } from '../core/agent-spec.js';
import { FactoryError, type ErrorCode, type Problem } from '../core/errors.js';
import { censoredByCode, keepsHeapGrowth, type RunRecord, type RunSink } from '../core/run-record.js';
import type { Reservation, RunStats, Sandbox, SandboxRunStats } from '../sandbox/index.js';
import type { TrustedTemplate } from '../templates/index.js';
import { captureFailure } from './failure-capture.js';
import { inputShape } from './input-shape.js';
import { isRunId, newRunId } from './run-id.js';
import type { Telemetry } from './telemetry/index.js';

export type { RunStats } from '../sandbox/index.js';

/**
 * Where the code of a run came from: the template folder as it is now (`on-disk`), a version kept in the store
 * (`stored`: a canary's stable version, a rollback target, an explicit `version`), or the candidate of a running
 * canary (`canary`). In a dev environment it is always `on-disk` unless a version was asked for by name.
 */
export type RunSource = 'on-disk' | 'stored' | 'canary';

/** Which code ran: the exact version and digest, where it came from, and whether it was signed (and by which key). */
export interface RunOrigin {
  version: string;
  digest: string;
  source: RunSource;
  /** True for a verified signature; false for a dev run of unsigned or edited code (the signature was waived). */
  signed: boolean;
  /** The signer's key id, when signed. */
  keyId?: string;
}

/** The outcome of one run as data: never thrown, for adapters (CLI `--json`, HTTP). */
export type RunReport = RunOrigin &
  (
    | { ok: true; runId: string; output: unknown; stats: RunStats }
    | { ok: false; runId: string; error: { code: ErrorCode; message: string; problems?: Problem[] }; stats: RunStats }
  );

export interface AgentRunOptions {
  /** Aborting cancels the run (`ctx.signal` fires; the run ends with `E_DISPOSED`). */
  signal?: AbortSignal;
  /**
   * The run's id, when its caller assigned one before it ran (a run taken from the queue keeps the id it was queued
   * under). Must look like one `newRunId` makes. @default a new id
   */
  runId?: string;
  /** Serves this run's `ctx.kv`, and that of the runs it spawns, instead of the factory's kv (see the sandbox's `RunOptions.kv`). */
  kv?: KvStore;
}

/** @internal what the factory hands an agent. */
export interface AgentBinding {
  /** Only what the trust gate admitted runs: there is no other way to make one. */
  template: TrustedTemplate;
  tenant: string;
  sandbox: Sandbox;
  reservation: Reservation;
  sink: RunSink;
  clock: Clock;
  telemetry: Telemetry;
  createMs: number;
  depth: number;
  /** Where the template's code came from. @default 'on-disk' ('stored' for a template rebuilt from the store) */
  source?: RunSource;
  parentId?: string;
  onDispose(agent: Agent): void;
}

// For runs refused before the sandbox (disposed agent, invalid input): they used no grant.
const EMPTY_STATS = { runMs: 0, cpuMs: 0, heapUsedAtEndBytes: 0, outputBytes: 0, tools: {}, denials: [], grantsUsed: [], logs: [], logsDropped: 0 };

/**
 * An agent: created by `factory.createAgent`, run any number of times, then disposed.
 * @example
 * const agent = await factory.createAgent('hello');
 * const { output } = await agent.run({ name: 'Ada' });
 * await agent.dispose();
 */
export class Agent {
  readonly #binding: AgentBinding;
  readonly #runAttributes: { template: string; version: string; env: string; tenant: string };
  /** Bytes kept of each part of a failed run's data; 0 unless the template opted in (`debug.captureFailures`). */
  readonly #captureBytes: number;
  /** Computed at the first run, not in createAgent (a hot path): every report of this agent's runs carries it. */
  #origin: RunOrigin | undefined;
  #createMs: number;
  #isDisposed = false;

  constructor(binding: AgentBinding) {
    this.#binding = binding;
    this.#createMs = binding.createMs;
    const { template } = binding;
    this.#runAttributes = { template: template.name, version: template.version, env: template.env, tenant: binding.tenant };
    this.#captureBytes = template.manifest.debug?.captureFailures === true ? template.manifest.debug.maxCaptureKb * 1024 : 0;
  }

  get name(): string {
    return this.#binding.template.name;
  }

  get version(): string {
    return this.#binding.template.version;
  }

  get digest(): string {
    return this.#binding.template.digest;
  }

  get env(): string {
    return this.#binding.template.env;
  }

  /** Which code this agent runs: version, digest, where it came from, and its signature. */
  get origin(): Readonly<RunOrigin> {
    return (this.#origin ??= originOf(this.#binding.template, this.#binding.source));
  }

  get tenant(): string {
    return this.#binding.tenant;
  }

  get isDisposed(): boolean {
    return this.#isDisposed;
  }

  /**
   * Runs the agent once.
   * @returns the output and what the run cost.
   * @throws FactoryError with the run's code (`E_INPUT_INVALID`, `E_TIMEOUT`, `E_AGENT_THREW`, …); its `details`
   *   carry `runId` and `stats`.
   */
  async run(input: unknown, options: AgentRunOptions = {}): Promise<{ output: unknown; stats: RunStats; runId: string } & RunOrigin> {
    const report = await this.runSettled(input, options);
    if (report.ok) return { output: report.output, stats: report.stats, runId: report.runId, ...this.origin };
    throw new FactoryError(report.error.code, report.error.message, {
      ...(report.error.problems ? { problems: report.error.problems } : {}),
      details: { runId: report.runId, stats: report.stats },
    });
  }

  /** Runs the agent once and reports the outcome as data; never throws for a failed run. */
  runSettled(input: unknown, options: AgentRunOptions = {}): Promise<RunReport> {
    return this.#binding.telemetry.traceRun(this.#runAttributes, () => this.#runOnce(input, options));
  }

  async #runOnce(input: unknown, options: AgentRunOptions): Promise<RunReport> {
    const binding = this.#binding;
    const { template } = binding;
    const startedAt = binding.clock.now();
    if (options.runId !== undefined && !isRunId(options.runId)) throw new FactoryError('E_USAGE', `run id ${JSON.stringify(options.runId)} is not a run id (a UUID version 7, as newRunId makes)`);
    const runId = options.runId ?? newRunId(startedAt);
    const createMs = this.#createMs;
    this.#createMs = 0;

    if (this.#isDisposed) {
      return this.#finish(runId, startedAt, createMs, input, { code: 'E_DISPOSED', message: `agent "${template.name}" was disposed; create a new one` });
    }
    const inputCheck = template.validateInput(input);
    if (!inputCheck.valid) {
      const problems = inputCheck.errors;
      const message = `input does not match the input schema of "${template.name}": ${problems.map((p) => `${p.pointer || '/'} ${p.message}`).join('; ')}`;
      return this.#finish(runId, startedAt, createMs, input, { code: 'E_INPUT_INVALID', message, problems });
    }

    const result = await binding.sandbox.run(binding.reservation, input, {
      tenant: binding.tenant,
      env: template.env,
      depth: binding.depth,
      recordId: runId,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.kv ? { kv: options.kv } : {}),
    });
    if (!result.ok) return this.#finish(runId, startedAt, createMs, input, result.error, result.stats);

    const outputCheck = template.validateOutput(result.output);
    if (!outputCheck.valid) {
      const problems = outputCheck.errors;
      const message = `output of "${template.name}" does not match its output schema: ${problems.map((p) => `${p.pointer || '/'} ${p.message}`).join('; ')}`;
      return this.#finish(runId, startedAt, createMs, input, { code: 'E_OUTPUT_INVALID', message, problems }, result.stats, result.output);
    }
    return this.#finish(runId, startedAt, createMs, input, undefined, result.stats, result.output);
  }

  /** Gives the sandbox slot back. Later runs end with `E_DISPOSED`. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#isDisposed) return;
    this.#isDisposed = true;
    this.#binding.sandbox.release(this.#binding.reservation);
    this.#binding.onDispose(this);
  }

  #finish(
    runId: string,
    startedAt: number,
    createMs: number,
    input: unknown,
    error: { code: ErrorCode; message: string; problems?: Problem[] } | undefined,
    sandboxStats: Omit<SandboxRunStats, 'inputBytes'> & { inputBytes?: number } = EMPTY_STATS,
    output?: unknown,
  ): RunReport {
    const { template } = this.#binding;
    // Decided here, from the run's error code, not by the host: a killed or crashed run has no memory figure.
    const heapGrowthBytes = sandboxStats.heapGrowthBytes !== undefined && keepsHeapGrowth(error?.code) ? sandboxStats.heapGrowthBytes : undefined;
    const censoredBy = censoredByCode(error?.code);
    const stats: RunStats = {
      createMs,
      runMs: sandboxStats.runMs,
      cpuMs: sandboxStats.cpuMs,
      heapUsedAtEndBytes: sandboxStats.heapUsedAtEndBytes,
      ...(heapGrowthBytes !== undefined ? { heapGrowthBytes } : {}),
      inputBytes: sandboxStats.inputBytes ?? 0,
      outputBytes: sandboxStats.outputBytes,
      tools: sandboxStats.tools,
      denials: sandboxStats.denials,
      logs: sandboxStats.logs,
      logsDropped: sandboxStats.logsDropped,
    };
    const record: RunRecord = {
      id: runId,
      template: template.name,
      version: template.version,
      digest: template.digest,
      env: template.env,
      tenant: this.#binding.tenant,
      startedAt,
      createMs,
      runMs: stats.runMs,
      cpuMs: stats.cpuMs,
      heapUsedAtEndBytes: stats.heapUsedAtEndBytes,
      ...(heapGrowthBytes !== undefined ? { heapGrowthBytes } : {}),
      ...(censoredBy !== undefined ? { censoredBy } : {}),
      inputBytes: stats.inputBytes,
      outputBytes: stats.outputBytes,
      outcome: error ? 'error' : 'ok',
      ...(error ? { errorCode: error.code } : {}),
      tools: stats.tools,
      denials: stats.denials,
      // The calling side's own figures (limits.byInput evaluated on the input before the run); a run refused before the
      // sandbox ran under nothing, and records the flat limits it would have had.
      limits: sandboxStats.limits ?? { cpuMs: template.spec.limits.cpuMs, timeoutMs: template.spec.limits.timeoutMs, memoryMb: template.spec.limits.memoryMb },
      // From the sandbox host, which is not trusted: only keys this template was granted are kept. Absent when the
      // host reported nothing (it crashed, or never ran the agent): such a run says nothing about what it needs.
      ...(sandboxStats.grantsUsed !== undefined ? { grantsUsed: grantedOnly(template.spec.permissions, sandboxStats.grantsUsed) } : {}),
      logsDropped: stats.logsDropped,
      depth: this.#binding.depth,
      ...(this.#binding.parentId ? { parentId: this.#binding.parentId } : {}),
      inputShape: inputShape(input),
    };
    // Failed runs of opted-in templates only: a successful run never serialises its input here.
    if (error !== undefined && this.#captureBytes > 0) {
      record.capture = captureFailure({ input, output, errorMessage: error.message, logs: stats.logs }, this.#captureBytes);
    }
    this.#binding.sink.write(record);
    const origin = this.origin;
    return error ? { ...origin, ok: false, runId, error, stats } : { ...origin, ok: true, runId, output, stats };
  }
}

function originOf(template: TrustedTemplate, source: RunSource | undefined): RunOrigin {
  const { trust } = template;
  return {
    version: template.version,
    digest: template.digest,
    source: source ?? (template.bundleOrigin === 'store' ? 'stored' : 'on-disk'),
    signed: trust?.status === 'signed',
    ...(trust?.status === 'signed' && trust.verification ? { keyId: trust.verification.keyId } : {}),
  };
}

/** The keys of `used` the template was granted; anything else a host sent (not strings, not granted) is dropped. */
function grantedOnly(permissions: Permissions, used: unknown): string[] {
  if (!Array.isArray(used)) return [];
  return used.filter((key): key is string => typeof key === 'string' && isGranted(permissions, key));
}
