/** @module sandbox/inline-sandbox — isolates in the calling process; same engine, prelude and tools as the hosts, for trusted templates and benchmarks. */
import type { AgentSpec } from '../core/agent-spec.js';
import { compileLimitsFor, type LimitsFor } from '../core/effective-limits.js';
import { decodeResult, disposedResult, encodeInput, envValuesFor } from './calling-side.js';
import { type CapabilitySettings, mergeServed, ServedRun, serveTool } from './capability-tools.js';
import { SandboxEngine } from './engine.js';
import { ToolError } from './permissions.js';
import { type LayerStatus, lockdownReport } from './lockdown.js';
import type { ResolvedSandboxOptions } from './options.js';
import type { Reservation, RunOptions, Sandbox, SandboxRunResult, SandboxStats } from './types.js';

/**
 * A sandbox whose isolates share the caller's process. A V8 fatal out-of-memory (e.g. `new Array(2e8).fill(0)`)
 * takes the whole process down here; use it only for templates you trust.
 */
export class InlineSandbox implements Sandbox {
  readonly #options: ResolvedSandboxOptions;
  readonly #engine: SandboxEngine;
  readonly #reservations = new Map<number, string>();
  #seq = 0;
  #runSeq = 0;
  /** This side's record of each run in flight, by the engine's run id: what its capability tools are served against. */
  readonly #served = new Map<number, ServedRun>();
  /** Allowlisted env values by digest, for templates with env grants. */
  readonly #envValues = new Map<string, Record<string, string>>();
  /** Each template's limits.byInput compiled at registration: a run only evaluates it. */
  readonly #limitsFor = new Map<string, LimitsFor>();
  #closed = false;

  constructor(options: ResolvedSandboxOptions) {
    this.#options = options;
    const { services, logger } = options;
    const capabilities: CapabilitySettings = {
      services,
      fetchMaxBytes: options.fetchMaxBytes,
      readMaxBytes: options.readMaxBytes,
      onAuditError: (error) => logger.warn('sandbox: onDenial threw', { message: (error as Error)?.message }),
    };
    this.#engine = new SandboxEngine({
      services: {
        // The same code as the supervisor's, against this side's own record of the run.
        tool: (caller, tool, args) => {
          const served = this.#served.get(caller.runId);
          if (served === undefined) return Promise.reject(new ToolError('E_DISPOSED', 'the run this call belongs to has ended', 'AbortError'));
          return serveTool(served, tool, args, capabilities);
        },
        onDenial: ({ runId: _runId, ...denial }) => services.onDenial?.(denial),
      },
      clock: options.clock,
      logger,
      maxIsolatesPerPool: options.maxIsolatesPerPool,
      isolateMaxRuns: options.isolateMaxRuns,
      heapProbeEvery: options.heapProbeEvery,
      onCatastrophicError: (message) => logger.error('sandbox: catastrophic isolate error; restart the process', { message }),
    });
  }

  register(spec: AgentSpec): void {
    if (this.#closed) return;
    if (spec.permissions.env.length > 0) this.#envValues.set(spec.digest, envValuesFor(spec, this.#options.processEnv));
    if (!this.#limitsFor.has(spec.digest)) this.#limitsFor.set(spec.digest, compileLimitsFor(spec.limits));
    this.#engine.register(spec);
  }

  reserve(spec: AgentSpec): Reservation {
    if (!this.#engine.isRegistered(spec.digest)) this.register(spec);
    const id = ++this.#seq;
    this.#reservations.set(id, spec.digest);
    return { id, digest: spec.digest };
  }

  async run(reservation: Reservation, input: unknown, options: RunOptions): Promise<SandboxRunResult> {
    const digest = this.#reservations.get(reservation.id);
    if (digest === undefined || this.#closed) return disposedResult('this agent was disposed; create a new one');
    const encoded = encodeInput(input);
    if (!encoded.ok) return encoded.result;
    const runId = ++this.#runSeq;
    const spec = this.#engine.spec(digest);
    if (spec === undefined) return disposedResult('this agent was disposed; create a new one');
    const depth = options.depth ?? 0;
    const limits = (this.#limitsFor.get(digest) as LimitsFor)(input, encoded.bytes);
    const served = new ServedRun(spec, { tenant: options.tenant, env: options.env, depth, recordId: options.recordId, kv: options.kv });
    this.#served.set(runId, served);
    try {
      const meta = { runId, tenant: options.tenant, env: options.env, depth, envValues: this.#envValues.get(digest), ...(limits.measure ? { limits } : {}) };
      const result = await this.#engine.run(digest, encoded.json, meta, options.signal);
      served.end();
      return decodeResult({ ...result, stats: mergeServed(result.stats, served) }, encoded.bytes, limits);
    } finally {
      served.end();
      this.#served.delete(runId);
    }
  }

  release(reservation: Reservation): void {
    this.#reservations.delete(reservation.id);
  }

  stats(): SandboxStats {
    return {
      hosts: 0,
      pools: this.#engine.digests().map((digest) => ({ digest, ready: this.#engine.ready(digest), busy: this.#engine.busy(digest) })),
      restarts: 0,
    };
  }

  lockdown(): LayerStatus[] {
    return lockdownReport('inline');
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#engine.close();
  }
}
