/** @module sandbox/watchdogs — what stops a run or a load that overruns: the CPU poll (and the stuck-isolate check), the wall timer, the caller's abort, and whom the host's memory watch blames. */
import type { AgentSpec } from '../core/agent-spec.js';
import type { Clock } from '../core/clock.js';
import type { PooledIsolate } from './isolate-pool.js';
import { CANCELLED_ERROR, cpuError, inLoad, type RuleMeasure, timeoutError } from './run-errors.js';
import type { RunError } from './types.js';

const CPU_POLL_MS = 5;
/**
 * How long a run or load may go on after isolated-vm disposed its isolate before its thread is taken for stuck. A run
 * isolated-vm stops at its memory limit fails "memory limit" at once (within a poll or two). On isolated-vm 6.2
 * (Node 22, 24) one huge allocation (measured: `new Array(2e8).fill(0)` under memoryMb 64) can instead leave the
 * thread in V8's last-resort collections after the disposal: the run never ends and would be blamed E_TIMEOUT, its
 * memory is not given back, and V8 later kills the whole host (SIGSEGV at ~14 s measured on Node 24) or never does.
 */
const STUCK_ISOLATE_MS = 2_000;
/** After a cancel, how long `ctx.signal` gets before the isolate goes. */
const CANCEL_GRACE_MS = 50;

/** One run or load the CPU poll watches. */
export interface Watched {
  /** The pooled isolate, to tell a disposal of ours from isolated-vm's (see {@link STUCK_ISOLATE_MS}). */
  readonly iso: PooledIsolate;
  /** When the poll first found the isolate disposed by isolated-vm with this run or load still going. */
  lostAt?: number;
  readonly cpu0: bigint;
  /** limits.cpuMs, and the CPU (since cpu0) past which the poll kills, in nanoseconds. Moved once, by {@link startRunPhase}. */
  cpuMs: number;
  limitNs: bigint;
  /** Set when a `limits.byInput` rule set `cpuMs` for this run: the kill names the measure it came from. */
  cpuMeasure?: RuleMeasure;
  kill(error: RunError): void;
  lastCpuNs: bigint;
}

export function watched(iso: PooledIsolate, cpu0: bigint, cpuMs: number, kill: (error: RunError) => void, cpuMeasure?: RuleMeasure): Watched {
  return { iso, cpu0, cpuMs, limitNs: BigInt(Math.round(cpuMs * 1e6)), kill, lastCpuNs: 0n, ...(cpuMeasure ? { cpuMeasure } : {}) };
}

/**
 * The CPU and wall limits one run is held to: the calling side's effective limits for its input (`limits.byInput`),
 * never above the template's flat ones; each `…Measure` is set when a rule set that limit.
 */
export interface RunLimits {
  cpuMs: number;
  timeoutMs: number;
  /** The template's flat limits.cpuMs: the budget of a load on demand when a rule set `cpuMs` (see {@link startRunPhase}). */
  flatCpuMs: number;
  cpuMeasure?: RuleMeasure;
  timeoutMeasure?: RuleMeasure;
}

/**
 * The limits of a run from the spec and what the calling side sent with it. The min() is belt and braces: the calling
 * side computes them under the flat limits already, and a host is where they are enforced, not decided.
 */
export function runLimitsOf(spec: AgentSpec, sent: { cpuMs: number; timeoutMs: number; measure?: { name: string; value: number } } | undefined): RunLimits {
  const { cpuMs, timeoutMs, byInput } = spec.limits;
  if (sent === undefined || sent.measure === undefined || !byInput) return { cpuMs, timeoutMs, flatCpuMs: cpuMs };
  return {
    flatCpuMs: cpuMs,
    cpuMs: Math.min(cpuMs, sent.cpuMs),
    timeoutMs: Math.min(timeoutMs, sent.timeoutMs),
    ...(byInput.cpuMs ? { cpuMeasure: sent.measure } : {}),
    ...(byInput.timeoutMs ? { timeoutMeasure: sent.measure } : {}),
  };
}

/**
 * After a load on demand, holds a run whose `cpuMs` a `limits.byInput` rule set to that limit for the CPU it uses from
 * now on. The load (a cold isolate's prelude and compile, the agent's top-level code: ~50 ms measured in a fresh
 * isolate) was held to the flat limit, as a load ahead of demand is: a rule sized on the run's work (a few ms for a
 * small input) would otherwise kill the first run of every fresh isolate. A run whose limit is flat is unchanged:
 * its load counts toward its limit, as before.
 */
export function startRunPhase(w: Watched, limits: RunLimits, usedNs: bigint): void {
  if (limits.cpuMeasure === undefined) return;
  w.cpuMs = limits.cpuMs;
  w.cpuMeasure = limits.cpuMeasure;
  w.limitNs = usedNs + BigInt(Math.round(limits.cpuMs * 1e6));
}

/**
 * Polls the CPU time of every run and load in flight every {@link CPU_POLL_MS} while there is one, and kills those
 * over their limits.cpuMs. One timer per engine, not per run.
 */
export class CpuWatchdog {
  readonly #watched = new Set<Watched>();
  readonly #clock: Clock;
  readonly #onStuck: (message: string, runId: number | undefined, loading: string | undefined) => void;
  #timer: NodeJS.Timeout | undefined;

  /** @param onStuck the engine's onCatastrophicError: an isolate's thread that cannot be stopped takes the host. */
  constructor(clock: Clock, onStuck: (message: string, runId: number | undefined, loading: string | undefined) => void) {
    this.#clock = clock;
    this.#onStuck = onStuck;
  }

  watch(w: Watched): void {
    this.#watched.add(w);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#poll(), CPU_POLL_MS);
      this.#timer.unref();
    }
  }

  unwatch(w: Watched): void {
    try {
      if (!w.iso.isolate.isDisposed) w.lastCpuNs = w.iso.isolate.cpuTime - w.cpu0;
    } catch {
      // disposed meanwhile
    }
    this.#watched.delete(w);
    if (this.#watched.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #poll(): void {
    for (const w of this.#watched) {
      let used: bigint;
      try {
        used = w.iso.isolate.cpuTime - w.cpu0;
      } catch {
        this.#checkStuck(w);
        continue;
      }
      w.lastCpuNs = used;
      if (used > w.limitNs) w.kill(cpuError(w.cpuMs, w.cpuMeasure));
    }
  }

  /**
   * A run or load still going {@link STUCK_ISOLATE_MS} after isolated-vm disposed its isolate (not us: a disposal of
   * ours marks it dead first) has a thread nothing in this process can stop. That is V8 out of memory in all but
   * name, and is reported as such: a host process goes, blaming the run (or the template loading ahead) it served.
   */
  #checkStuck(w: Watched): void {
    if (w.iso.dead || !w.iso.isolate.isDisposed) return;
    const now = this.#clock.monotonic();
    w.lostAt ??= now;
    if (now - w.lostAt < STUCK_ISOLATE_MS) return;
    this.unwatch(w);
    this.#onStuck('the isolate passed its memory limit and its thread did not stop', w.iso.runId, w.iso.loading);
  }
}

/**
 * One run's watchdogs from its start (an on-demand load included) to its end: the CPU poll and the wall timer at the
 * run's own limits ({@link RunLimits}), and the caller's abort (`ctx.signal` first, the isolate after a grace). Whichever fires first
 * disposes the isolate, the only way to stop code spinning after an await or a promise that never settles.
 */
export class RunWatch {
  /** Limit errors say "loading the agent's module" while its top-level code runs. */
  phase: 'load' | 'run';
  /** Why the run was stopped, if it was. */
  killed: RunError | undefined;
  /** Settles when the run is killed. */
  readonly whenKilled: Promise<void>;
  readonly watched: Watched;
  readonly timeout: RunError;
  #done = false;
  #endKilled!: () => void;
  readonly #cpu: CpuWatchdog;
  readonly #signal: AbortSignal | undefined;
  readonly #onCancel: (graceMs: number) => void;
  readonly #timeoutMs: number;
  #wall: NodeJS.Timeout | undefined;
  #grace: NodeJS.Timeout | undefined;

  /** @param onCancel tells the agent (fires `ctx.signal`) when the caller aborts; the isolate goes after `graceMs`. */
  constructor(iso: PooledIsolate, limits: RunLimits, cpu0: bigint, phase: 'load' | 'run', cpu: CpuWatchdog, signal: AbortSignal | undefined, onCancel: (graceMs: number) => void) {
    this.phase = phase;
    this.#cpu = cpu;
    this.#signal = signal;
    this.#onCancel = onCancel;
    this.timeout = timeoutError(limits.timeoutMs, limits.timeoutMeasure);
    this.#timeoutMs = limits.timeoutMs;
    this.whenKilled = new Promise<void>((resolve) => {
      this.#endKilled = resolve;
    });
    // A load on demand under a byInput CPU rule has the flat budget a load ahead would have had; startRunPhase then
    // holds the run's own work to its rule's limit.
    const isRuledLoad = phase === 'load' && limits.cpuMeasure !== undefined;
    this.watched = watched(iso, cpu0, isRuledLoad ? limits.flatCpuMs : limits.cpuMs, (error) => {
      if (this.killed || this.#done) return;
      this.killed = this.phase === 'load' && error.code !== 'E_DISPOSED' ? inLoad(error) : error;
      iso.dispose();
      this.#endKilled();
    }, isRuledLoad ? undefined : limits.cpuMeasure);
  }

  start(): void {
    this.#wall = setTimeout(() => this.watched.kill(this.timeout), this.#timeoutMs);
    this.#cpu.watch(this.watched);
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The run ended (or failed to load): every watchdog stops. */
  settle(): void {
    this.#done = true;
    clearTimeout(this.#wall);
    if (this.#grace) clearTimeout(this.#grace);
    this.#cpu.unwatch(this.watched);
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  readonly #onAbort = (): void => {
    this.#onCancel(CANCEL_GRACE_MS);
    this.#grace = setTimeout(() => this.watched.kill(CANCELLED_ERROR), CANCEL_GRACE_MS);
  };
}

/** A run in flight as the host's memory watch sees it. */
export interface RunningRun {
  iso: PooledIsolate;
  spec: AgentSpec;
  watched: Watched;
}

/**
 * The run in flight most likely behind the host's memory growth, for the host's memory watch to blame. Heap
 * statistics of an isolate running JavaScript wait until it yields, so each isolate gets `waitMs` to answer.
 * In order: a run whose heap is over its own limits.memoryMb (V8 overshoots it; measured up to 3.6× on one big
 * allocation), then a run granted WebAssembly (its memory is outside the heap limit), then a run busy in
 * JavaScript that did not answer (largest memoryMb, then most CPU). A run whose heap answered within its own limit
 * is never blamed, even alone: the memory is then the pool's, not a run's.
 * @returns its run id, or undefined when no run in flight is plausibly behind it.
 */
export async function heaviestRun(running: ReadonlyMap<number, RunningRun>, waitMs: number): Promise<number | undefined> {
  const entries = [...running.entries()];
  if (entries.length === 0) return undefined;
  const scored = await Promise.all(
    entries.map(async ([runId, { iso, spec, watched }]) => {
      let heapBytes: number | undefined;
      try {
        const heap = await Promise.race([iso.isolate.getHeapStatistics(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), waitMs))]);
        if (heap) heapBytes = heap.total_heap_size + heap.externally_allocated_size;
      } catch {
        heapBytes = 0;
      }
      let cpuNs = 0n;
      try {
        cpuNs = iso.isolate.cpuTime - watched.cpu0;
      } catch {
        // disposed meanwhile
      }
      const ratio = heapBytes === undefined ? 0 : heapBytes / (spec.limits.memoryMb * 1024 * 1024);
      const tier = ratio > 1 ? 3 : spec.permissions.wasm === true ? 2 : heapBytes === undefined ? 1 : 0;
      const value = tier === 1 ? spec.limits.memoryMb * 1e6 + Number(cpuNs) / 1e6 : ratio;
      return { runId, tier, value };
    }),
  );
  scored.sort((a, b) => b.tier - a.tier || b.value - a.value);
  const top = scored[0];
  return top !== undefined && top.tier > 0 ? top.runId : undefined;
}
