/** @module sandbox/engine — runs registered templates in pooled isolates: keeps contexts ready ahead of demand and takes one run from an isolate to its result; shared by host processes and inline mode. */
import type { AgentSpec, EffectiveLimits } from '../core/agent-spec.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { preludeSettingsJson } from './context-bridge.js';
import type { EngineServices, EnvValues } from './host-tools.js';
import { IsolatePool, reuseKey, type CatastrophicErrorHandler, type PooledIsolate } from './isolate-pool.js';
import { failure, loadAhead, runInIsolate, type IsolateRunDeps, type RunTemplate } from './isolate-run.js';
import type { RunError, SandboxRunStats } from './types.js';
import { CpuWatchdog, heaviestRun, type RunningRun } from './watchdogs.js';

/** What one run produced, before the output JSON is parsed (it is parsed once, in the calling process). */
export interface EngineResult {
  ok: boolean;
  /** Output as JSON text; absent when the agent returned undefined or the run failed. */
  outputJson?: string;
  error?: RunError;
  /** `inputBytes` is added by the calling side, which holds the input JSON. */
  stats: EngineStats;
}

export type EngineStats = Omit<SandboxRunStats, 'inputBytes'>;

export interface EngineOptions {
  services: EngineServices;
  clock: Clock;
  logger: Logger;
  maxIsolatesPerPool: number;
  isolateMaxRuns: number;
  /** One run in this many per isolate gets the memory figure (SandboxOptions.heapProbeEvery). */
  heapProbeEvery: number;
  /**
   * V8 lost control of an isolate; a host process should abort so the supervisor replaces it. `runId` is the run
   * that isolate was serving: the run to blame. Absent while it prepared a context ahead of demand; `loading` is then
   * the digest whose top-level code it was running, which should not be loaded ahead again.
   */
  onCatastrophicError: CatastrophicErrorHandler;
  /** Ready slots for a digest changed. */
  onCapacity?(digest: string): void;
}

export interface EngineRunMeta {
  /** The caller's id for the run; service calls carry it (see {@link ServiceCaller}). */
  runId: number;
  tenant: string;
  env: string;
  depth: number;
  /** The allowlisted env values of this run's template, when it has any: held for this run only. */
  envValues?: EnvValues | undefined;
  /**
   * The run's effective limits, from the calling side when a `limits.byInput` rule set them for its input (with the
   * measure). Absent: the template's flat limits. Never above them (isolate-run takes the smaller).
   */
  limits?: EffectiveLimits | undefined;
}

interface Registered extends RunTemplate {
  /** Background preparation failed (the bundle throws at load); retry only on demand. */
  prepFailed: boolean;
  /** Never load ahead of demand: its top-level code once took a whole host down doing so. */
  noAhead: boolean;
  inflight: number;
  peak: number;
  peakAt: number;
  preparing: number;
}

const PEAK_DECAY_MS = 5_000;

/** Runs registered templates in pooled isolates. Never throws for agent misbehaviour. */
export class SandboxEngine {
  readonly #options: EngineOptions;
  readonly #registered = new Map<string, Registered>();
  readonly #pools = new Map<number, IsolatePool>();
  readonly #cpu: CpuWatchdog;
  /** Runs in flight by run id: whom the host's memory watch can blame and stop. */
  readonly #running = new Map<number, RunningRun>();
  readonly #runDeps: IsolateRunDeps;
  /** Tells the bridge's calls of one run from another's in the same context; 0 is "no run" to the prelude. */
  #tokenSeq = 0;
  #topUpScheduled = false;
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#cpu = new CpuWatchdog(options.clock, options.onCatastrophicError);
    const { clock, services, isolateMaxRuns, heapProbeEvery } = options;
    const onCapacity = options.onCapacity;
    this.#runDeps = { clock, services, cpu: this.#cpu, running: this.#running, isolateMaxRuns, heapProbeEvery, onCapacity: (digest) => onCapacity?.(digest) };
  }

  /**
   * Registers (or refreshes) a template and starts preparing contexts for it in the background, unless
   * `options.ahead` is false: then its module loads only on demand, inside a run and its limits.
   */
  register(spec: AgentSpec, options: { ahead?: boolean } = {}): void {
    const existing = this.#registered.get(spec.digest);
    if (existing) {
      if (options.ahead === false) existing.noAhead = true;
      return;
    }
    this.#registered.set(spec.digest, {
      spec,
      settingsJson: preludeSettingsJson(spec),
      prepFailed: false,
      noAhead: options.ahead === false,
      inflight: 0,
      peak: 0,
      peakAt: 0,
      preparing: 0,
    });
    this.#scheduleTopUp();
  }

  /** The spec registered under a digest. */
  spec(digest: string): AgentSpec | undefined {
    return this.#registered.get(digest)?.spec;
  }

  isRegistered(digest: string): boolean {
    return this.#registered.has(digest);
  }

  /** Contexts ready now for a digest, across isolates. */
  ready(digest: string): number {
    const reg = this.#registered.get(digest);
    return reg === undefined ? 0 : (this.#pools.get(reg.spec.limits.memoryMb)?.ready(digest) ?? 0);
  }

  busy(digest: string): number {
    return this.#registered.get(digest)?.inflight ?? 0;
  }

  digests(): string[] {
    return [...this.#registered.keys()];
  }

  /** Runs a registered template once. `inputJson` is `''` for undefined input. */
  async run(digest: string, inputJson: string, meta: EngineRunMeta, signal?: AbortSignal): Promise<EngineResult> {
    const started = this.#options.clock.monotonic();
    const reg = this.#registered.get(digest);
    if (!reg) return failure('E_INTERNAL', `template ${digest} is not registered with this sandbox`, started, this.#options.clock);
    if (this.#closed) return failure('E_DISPOSED', 'the sandbox is closed', started, this.#options.clock);
    if (signal?.aborted) return failure('E_DISPOSED', 'the run was cancelled before it started', started, this.#options.clock);
    reg.inflight++;
    const now = this.#options.clock.monotonic();
    if (reg.inflight > reg.peak || now - reg.peakAt > PEAK_DECAY_MS) {
      reg.peak = reg.inflight;
      reg.peakAt = now;
    }
    const pool = this.#pool(reg.spec.limits.memoryMb);
    let iso: PooledIsolate | undefined;
    try {
      iso = await pool.acquire(digest, reg.spec.pool.reuseContext ? reuseKey(digest, meta.tenant) : undefined, signal);
      if (iso === undefined) {
        return failure('E_DISPOSED', this.#closed ? 'the sandbox is closed' : 'the run was cancelled while waiting for an isolate', started, this.#options.clock);
      }
      return await runInIsolate(this.#runDeps, iso, reg, ++this.#tokenSeq, inputJson, meta, signal, started);
    } finally {
      reg.inflight--;
      if (iso) this.#releaseIsolate(pool, iso);
    }
  }

  /** The run in flight most likely behind the host's memory growth (see {@link heaviestRun}). */
  heaviestRun(waitMs = 25): Promise<number | undefined> {
    return heaviestRun(this.#running, waitMs);
  }

  /** Ends a run in flight now with `error` (its isolate is disposed). @returns whether it was in flight. */
  stopRun(runId: number, error: RunError): boolean {
    const running = this.#running.get(runId);
    if (!running) return false;
    running.watched.kill(error);
    return true;
  }

  close(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) pool.close();
    this.#cpu.close();
  }

  // ---- isolates and contexts ahead of demand ------------------------------------------------

  #pool(memoryMb: number): IsolatePool {
    let pool = this.#pools.get(memoryMb);
    if (!pool) {
      pool = new IsolatePool(memoryMb, this.#options.maxIsolatesPerPool, this.#options.onCatastrophicError);
      this.#pools.set(memoryMb, pool);
    }
    return pool;
  }

  /** An isolate finished a run or a preparation: the pool retires it or hands it on, then top up. */
  #releaseIsolate(pool: IsolatePool, iso: PooledIsolate): void {
    pool.release(iso, this.#closed);
    for (const digest of this.#registered.keys()) this.#options.onCapacity?.(digest);
    this.#scheduleTopUp();
  }

  #scheduleTopUp(): void {
    if (this.#topUpScheduled || this.#closed) return;
    this.#topUpScheduled = true;
    // Two hops: an immediate queued from an immediate runs in the next loop turn, after its I/O poll. So results
    // queued this turn are written first (the IPC outbox flushes on setImmediate) and runs that arrived meanwhile
    // are started before a context is prepared, without a timer's 1 ms floor.
    setImmediate(() =>
      setImmediate(() => {
        this.#topUpScheduled = false;
        this.#topUp();
      }),
    );
  }

  /**
   * Keeps `max(prewarm, recent concurrency)` contexts ready per template, spread over idle isolates. Starts one
   * preparation per call: its first half is synchronous (see {@link prepareContext}), so the event loop gets a turn
   * between contexts, and reschedules itself while there is a deficit.
   */
  #topUp(): void {
    if (this.#closed) return;
    for (const reg of this.#registered.values()) {
      if (reg.prepFailed || reg.noAhead) continue;
      const pool = this.#pool(reg.spec.limits.memoryMb);
      if (pool.waiting > 0) continue;
      const want = Math.min(this.#options.maxIsolatesPerPool * 2, Math.max(reg.spec.pool.prewarm, reg.peak));
      if (want - this.ready(reg.spec.digest) - reg.preparing <= 0) continue;
      const iso = pool.pickForTopUp(reg.spec.digest);
      if (!iso) continue;
      iso.busy = true;
      reg.preparing++;
      void loadAhead(this.#runDeps, iso, reg)
        .then(
          (prepared) => {
            if (iso.dead) return;
            reg.prepFailed = false;
            iso.keepReady(reg.spec.digest, prepared);
          },
          () => {
            // Threw, or overran its load budget: no more background loads, which would each hold an isolate that
            // long. Runs still load it on demand, inside their own limits, and a success there resumes them.
            reg.prepFailed = true;
          },
        )
        .finally(() => {
          reg.preparing--;
          this.#options.onCapacity?.(reg.spec.digest);
          this.#releaseIsolate(pool, iso);
        });
      this.#scheduleTopUp();
      return;
    }
  }
}
