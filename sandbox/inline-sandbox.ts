/** @module sandbox/inline-sandbox — isolates in the calling process; same engine, prelude and tools as the hosts, for trusted templates and benchmarks. */
import type { AgentSpec } from '../core/agent-spec.js';
import { decodeResult, disposedResult, encodeInput, envValuesFor, spawnViaServices } from './calling-side.js';
import { SandboxEngine } from './engine.js';
import { runKvCall } from './host-tools.js';
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
  /** Record ids of the runs in flight, by the engine's run id: what their spawns name as parent. */
  readonly #recordIds = new Map<number, string>();
  #closed = false;

  constructor(options: ResolvedSandboxOptions) {
    this.#options = options;
    const { services, logger } = options;
    this.#engine = new SandboxEngine({
      services: {
        // In this process the engine's own record of the run is the only one there is.
        kv: (caller, call) => runKvCall(services.kv, { template: caller.spec.name, tenant: caller.tenant }, caller.spec.limits.kvKb, call),
        spawn: (caller, name, inputJson, signal) =>
          spawnViaServices(services, { name, inputJson, tenant: caller.tenant, env: caller.env, depth: caller.depth + 1, parentId: this.#recordIds.get(caller.runId) }, signal),
        onDenial: (denial) => services.onDenial?.(denial),
      },
      clock: options.clock,
      logger,
      maxIsolatesPerPool: options.maxIsolatesPerPool,
      isolateMaxRuns: options.isolateMaxRuns,
      tools: { fetchMaxBytes: options.fetchMaxBytes, readMaxBytes: options.readMaxBytes },
      onCatastrophicError: (message) => logger.error('sandbox: catastrophic isolate error; restart the process', { message }),
    });
  }

  register(spec: AgentSpec): void {
    if (this.#closed) return;
    this.#engine.register(spec, envValuesFor(spec, this.#options.processEnv));
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
    if (options.recordId !== undefined) this.#recordIds.set(runId, options.recordId);
    try {
      const result = await this.#engine.run(digest, encoded.json, { runId, tenant: options.tenant, env: options.env, depth: options.depth ?? 0 }, options.signal);
      return decodeResult(result, encoded.bytes);
    } finally {
      this.#recordIds.delete(runId);
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
