/** @module sandbox/engine — isolate pools, contexts kept ready ahead of demand, one run's execution and every limit's watchdog; shared by host processes and inline mode. */
import type ivm from 'isolated-vm';
import type { AgentSpec } from '../core/agent-spec.js';
import type { Clock } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { loadIsolatedVm } from './isolate-library.js';
import { callTool, RunScope, syncTool, toolErrorJson, type EngineServices, type EnvValues } from './host-tools.js';
import { NULL_INIT_IS_STRING, PLUS_ENDS_ESCAPE, PRELUDE_SOURCE, type PreludeSettings } from './prelude.js';
import type { RunError, RunStats } from './types.js';

// isolated-vm is loaded when the first isolate is made, not when this module is imported (sandbox/isolate-library.ts).
const isolatedVm = loadIsolatedVm;

/** What one run produced, before the output JSON is parsed (it is parsed once, in the calling process). */
export interface EngineResult {
  ok: boolean;
  /** Output as JSON text; absent when the agent returned undefined or the run failed. */
  outputJson?: string;
  error?: RunError;
  /** `inputBytes` is added by the calling side, which holds the input JSON. */
  stats: EngineStats;
}

export type EngineStats = Omit<RunStats, 'inputBytes'>;

export interface EngineOptions {
  services: EngineServices;
  clock: Clock;
  logger: Logger;
  maxIsolatesPerPool: number;
  isolateMaxRuns: number;
  /**
   * V8 lost control of an isolate; a host process should abort so the supervisor replaces it. `runId` is the run
   * that isolate was serving: the run to blame. Absent while it prepared a context ahead of demand; `loading` is then
   * the digest whose top-level code it was running, which should not be loaded ahead again.
   */
  onCatastrophicError(message: string, runId: number | undefined, loading: string | undefined): void;
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
}

interface Registered {
  spec: AgentSpec;
  settingsJson: string;
  /** Background preparation failed (the bundle throws at load); retry only on demand. */
  prepFailed: boolean;
  /** Never load ahead of demand: its top-level code once took a whole host down doing so. */
  noAhead: boolean;
  inflight: number;
  peak: number;
  peakAt: number;
  preparing: number;
}

/** One context with the prelude installed and the bundle evaluated. */
interface Prepared {
  context: ivm.Context;
  dispatch: ivm.Reference<(...args: unknown[]) => unknown>;
  slot: { scope: RunScope | undefined; deadline: number };
}

class PooledIsolate {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  prelude: Promise<ivm.Script> | undefined;
  readonly scripts = new Map<string, Promise<ivm.Script>>();
  /** Fresh contexts by digest: module loaded, never run. Each serves one run, whoever's it is. */
  readonly ready = new Map<string, Prepared[]>();
  /**
   * `reuseContext` contexts by digest and tenant ({@link reuseKey}), least recently used first: a context that served
   * one tenant never serves another, since its module state is that tenant's.
   */
  readonly reused = new Map<string, Prepared>();
  /** The run this isolate serves now, if any: who to blame if V8 loses it. */
  runId: number | undefined;
  /** The digest this isolate is loading ahead of demand, if any. */
  loading: string | undefined;
  busy = false;
  dead = false;
  retiring = false;
  runs = 0;

  constructor(memoryMb: number, onCatastrophicError: EngineOptions['onCatastrophicError']) {
    this.memoryMb = memoryMb;
    this.isolate = new (isolatedVm().Isolate)({ memoryLimit: memoryMb, onCatastrophicError: (message: string) => onCatastrophicError(message, this.runId, this.loading) });
  }

  /** Contexts a run of `digest` (for the tenant behind `key`, if given) could start in without loading the module. */
  readyFor(digest: string, key?: string): number {
    return (this.ready.get(digest)?.length ?? 0) + (key !== undefined && this.reused.has(key) ? 1 : 0);
  }

  /** Takes a tenant's reused context out of the pool while it runs; {@link keepReused} puts it back. */
  takeReused(key: string): Prepared | undefined {
    const prepared = this.reused.get(key);
    if (prepared !== undefined) this.reused.delete(key);
    return prepared;
  }

  keepReused(key: string, prepared: Prepared): void {
    this.reused.set(key, prepared);
    // Tenants are unbounded; contexts per isolate are not. The least recently used one goes.
    if (this.reused.size > MAX_REUSED_PER_ISOLATE) {
      const [oldestKey, oldest] = this.reused.entries().next().value as [string, Prepared];
      this.reused.delete(oldestKey);
      releasePrepared(oldest);
    }
  }

  dispose(): void {
    this.dead = true;
    this.ready.clear();
    this.reused.clear();
    try {
      this.isolate.dispose();
    } catch {
      // Already disposed by V8 (memory limit) or by a watchdog.
    }
  }
}

/** The pool key of a reused context: one per template and tenant. */
function reuseKey(digest: string, tenant: string): string {
  return `${digest}\u0000${tenant}`;
}

function releasePrepared(prepared: Prepared): void {
  try {
    prepared.dispatch.release();
    prepared.context.release();
  } catch {
    // The isolate is gone already.
  }
}

interface Waiter {
  digest: string;
  resolve(isolate: PooledIsolate | undefined): void;
}

interface Pool {
  memoryMb: number;
  isolates: PooledIsolate[];
  queue: Waiter[];
}

interface Running {
  iso: PooledIsolate;
  spec: AgentSpec;
  watched: Watched;
}

interface Watched {
  isolate: ivm.Isolate;
  /** The pooled isolate, to tell a disposal of ours from isolated-vm's (see {@link STUCK_ISOLATE_MS}). */
  iso: PooledIsolate;
  /** When the poll first found the isolate disposed by isolated-vm with this run or load still going. */
  lostAt?: number;
  cpu0: bigint;
  limitNs: bigint;
  kill(error: RunError): void;
  lastCpuNs: bigint;
}

const CPU_POLL_MS = 5;
/**
 * How long a run or load may go on after isolated-vm disposed its isolate before its thread is taken for stuck. A run
 * isolated-vm stops at its memory limit fails "memory limit" at once (within a poll or two). On isolated-vm 6.2
 * (Node 22, 24) one huge allocation (measured: `new Array(2e8).fill(0)` under memoryMb 64) can instead leave the
 * thread in V8's last-resort collections after the disposal: the run never ends and would be blamed E_TIMEOUT, its
 * memory is not given back, and V8 later kills the whole host (SIGSEGV at ~14 s measured on Node 24) or never does.
 */
const STUCK_ISOLATE_MS = 2_000;
const PEAK_DECAY_MS = 5_000;
const CANCEL_GRACE_MS = 50;
/** Our own prelude and bridge set-up; agent code never runs under this bound. */
const LOAD_TIMEOUT_MS = 5_000;
/** Wall time a background load gets beyond its CPU budget (limits.cpuMs): room for a busy machine, not for work. */
const LOAD_WALL_SLACK_MS = 100;
/** Tenants' reused contexts kept per isolate. */
const MAX_REUSED_PER_ISOLATE = 8;
let tokenSeq = 1;

/** Runs registered templates in pooled isolates. Never throws for agent misbehaviour. */
export class SandboxEngine {
  readonly #options: EngineOptions;
  readonly #registered = new Map<string, Registered>();
  readonly #pools = new Map<number, Pool>();
  readonly #watched = new Set<Watched>();
  /** Runs in flight by run id: whom the host's memory watch can blame and stop. */
  readonly #running = new Map<number, Running>();
  #cpuTimer: NodeJS.Timeout | undefined;
  #topUpScheduled = false;
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
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
    const settings: PreludeSettings = {
      template: spec.name,
      outputLimitBytes: spec.limits.outputKb * 1024,
      logLimitBytes: spec.limits.logKb * 1024,
      wasm: spec.permissions.wasm === true,
      configJson: JSON.stringify(spec.config ?? {}),
      plusEndsEscape: PLUS_ENDS_ESCAPE,
      nullInitIsString: NULL_INIT_IS_STRING,
    };
    this.#registered.set(spec.digest, {
      spec,
      settingsJson: JSON.stringify(settings),
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
    if (!reg) return 0;
    const pool = this.#pools.get(reg.spec.limits.memoryMb);
    if (!pool) return 0;
    let n = 0;
    for (const iso of pool.isolates) if (!iso.dead && !iso.retiring) n += iso.readyFor(digest);
    return n;
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
      iso = await this.#acquire(pool, digest, reg.spec.pool.reuseContext ? reuseKey(digest, meta.tenant) : undefined, signal);
      if (iso === undefined) {
        return failure('E_DISPOSED', this.#closed ? 'the sandbox is closed' : 'the run was cancelled while waiting for an isolate', started, this.#options.clock);
      }
      return await this.#execute(iso, reg, inputJson, meta, signal, started);
    } finally {
      reg.inflight--;
      if (iso) this.#releaseIsolate(pool, iso);
    }
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
  async heaviestRun(waitMs = 25): Promise<number | undefined> {
    const entries = [...this.#running.entries()];
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

  /** Ends a run in flight now with `error` (its isolate is disposed). @returns whether it was in flight. */
  stopRun(runId: number, error: RunError): boolean {
    const running = this.#running.get(runId);
    if (!running) return false;
    running.watched.kill(error);
    return true;
  }

  close(): void {
    this.#closed = true;
    for (const pool of this.#pools.values()) {
      for (const waiter of pool.queue.splice(0)) waiter.resolve(undefined);
      for (const iso of pool.isolates) iso.dispose();
      pool.isolates.length = 0;
    }
    if (this.#cpuTimer) clearInterval(this.#cpuTimer);
    this.#cpuTimer = undefined;
  }

  // ---- isolates -----------------------------------------------------------------------------

  #pool(memoryMb: number): Pool {
    let pool = this.#pools.get(memoryMb);
    if (!pool) {
      pool = { memoryMb, isolates: [], queue: [] };
      this.#pools.set(memoryMb, pool);
    }
    return pool;
  }

  #newIsolate(pool: Pool): PooledIsolate {
    const iso = new PooledIsolate(pool.memoryMb, this.#options.onCatastrophicError);
    pool.isolates.push(iso);
    return iso;
  }

  #acquire(pool: Pool, digest: string, key: string | undefined, signal?: AbortSignal): Promise<PooledIsolate | undefined> {
    let best: PooledIsolate | undefined;
    for (const iso of pool.isolates) {
      if (iso.busy || iso.dead || iso.retiring) continue;
      // The tenant's own reused context first, then a fresh one.
      if (key !== undefined && iso.reused.has(key)) {
        best = iso;
        break;
      }
      if (best === undefined || iso.readyFor(digest) > best.readyFor(digest)) best = iso;
      if (key === undefined && best.readyFor(digest) > 0) break;
    }
    if (best === undefined && this.#live(pool) < this.#options.maxIsolatesPerPool) best = this.#newIsolate(pool);
    if (best !== undefined) {
      best.busy = true;
      return Promise.resolve(best);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { digest, resolve };
      pool.queue.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const at = pool.queue.indexOf(waiter);
          if (at !== -1) {
            pool.queue.splice(at, 1);
            resolve(undefined);
          }
        },
        { once: true },
      );
    });
  }

  #live(pool: Pool): number {
    let n = 0;
    for (const iso of pool.isolates) if (!iso.dead) n++;
    return n;
  }

  /** An isolate finished a run or a preparation: retire it if due, hand it to a waiter, else top up. */
  #releaseIsolate(pool: Pool, iso: PooledIsolate): void {
    iso.busy = false;
    if (!iso.dead && iso.retiring) iso.dispose();
    if (iso.dead) {
      const at = pool.isolates.indexOf(iso);
      if (at !== -1) pool.isolates.splice(at, 1);
    }
    const waiter = pool.queue.shift();
    if (waiter) {
      const next = !iso.dead ? iso : this.#live(pool) < this.#options.maxIsolatesPerPool && !this.#closed ? this.#newIsolate(pool) : undefined;
      if (next) {
        next.busy = true;
        waiter.resolve(next);
      } else {
        pool.queue.unshift(waiter);
      }
    }
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
   * preparation per call: its first half is synchronous (see {@link #prepare}), so the event loop gets a turn
   * between contexts, and reschedules itself while there is a deficit.
   */
  #topUp(): void {
    if (this.#closed) return;
    for (const reg of this.#registered.values()) {
      if (reg.prepFailed || reg.noAhead) continue;
      const pool = this.#pool(reg.spec.limits.memoryMb);
      if (pool.queue.length > 0) continue;
      const want = Math.min(this.#options.maxIsolatesPerPool * 2, Math.max(reg.spec.pool.prewarm, reg.peak));
      if (want - this.ready(reg.spec.digest) - reg.preparing <= 0) continue;
      const iso = this.#pickForTopUp(pool, reg);
      if (!iso) continue;
      iso.busy = true;
      reg.preparing++;
      void this.#loadAhead(iso, reg)
        .then(
          (prepared) => this.#keep(iso, reg, prepared),
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

  #pickForTopUp(pool: Pool, reg: Registered): PooledIsolate | undefined {
    const digest = reg.spec.digest;
    let best: PooledIsolate | undefined;
    for (const iso of pool.isolates) {
      if (iso.busy || iso.dead || iso.retiring) continue;
      if (iso.readyFor(digest) >= 2) continue;
      if (best === undefined || iso.readyFor(digest) < best.readyFor(digest)) best = iso;
    }
    // Spread ready contexts over isolates: a run needs an idle isolate as much as a ready context.
    if ((best === undefined || best.readyFor(digest) > 0) && this.#live(pool) < this.#options.maxIsolatesPerPool) return this.#newIsolate(pool);
    return best;
  }

  #keep(iso: PooledIsolate, reg: Registered, prepared: Prepared): void {
    if (iso.dead) return;
    reg.prepFailed = false;
    // Fresh even for reuseContext templates: it becomes one tenant's reused context only once that tenant runs in it.
    const list = iso.ready.get(reg.spec.digest);
    if (list) list.push(prepared);
    else iso.ready.set(reg.spec.digest, [prepared]);
  }

  #script(iso: PooledIsolate, reg: Registered): Promise<ivm.Script> {
    let script = iso.scripts.get(reg.spec.digest);
    if (!script) {
      script = iso.isolate.compileScript(reg.spec.code, { filename: `agent:${reg.spec.name}@${reg.spec.version}` });
      script.catch(() => iso.scripts.delete(reg.spec.digest));
      iso.scripts.set(reg.spec.digest, script);
    }
    return script;
  }

  /**
   * Loads a context ahead of demand, under a budget of its own: the template's limits.cpuMs of CPU and at most
   * min(limits.timeoutMs, limits.cpuMs + {@link LOAD_WALL_SLACK_MS}) of wall time. Without it, top-level code escaped
   * every limit and held shared isolates (measured: 2.5 s of busy loop with cpuMs 50 delayed another tenant's run
   * by 2.6 s); with it, pre-warming holds an isolate no longer than that, and a failure stops pre-warming.
   */
  async #loadAhead(iso: PooledIsolate, reg: Registered): Promise<Prepared> {
    const { cpuMs, timeoutMs } = reg.spec.limits;
    const watched: Watched = {
      isolate: iso.isolate,
      iso,
      cpu0: iso.isolate.cpuTime,
      limitNs: BigInt(Math.round(cpuMs * 1e6)),
      lastCpuNs: 0n,
      kill: () => iso.dispose(),
    };
    this.#watch(watched);
    iso.loading = reg.spec.digest;
    try {
      return await this.#prepare(iso, reg, Math.min(timeoutMs, cpuMs + LOAD_WALL_SLACK_MS));
    } finally {
      iso.loading = undefined;
      this.#unwatch(watched);
    }
  }

  /**
   * Creates a context, runs the prelude, installs the bridge and evaluates the bundle (the agent's top-level code).
   * The first three steps are our own bounded code and run synchronously: measured here, that costs about 0.3 ms
   * less CPU per context than three async hops to the isolate's thread (and, on this 2-core machine, gave lower
   * latency inline too). The bundle runs asynchronously because it is agent code, bounded only by
   * the caller's load budget (`wallMs` here, CPU through a {@link Watched} the caller holds), and must not hold up
   * the event loop.
   */
  async #prepare(iso: PooledIsolate, reg: Registered, wallMs: number): Promise<Prepared> {
    if (!iso.prelude) {
      iso.prelude = iso.isolate.compileScript(PRELUDE_SOURCE, { filename: 'agent-factory:prelude' });
    }
    const [prelude, script] = await Promise.all([iso.prelude, this.#script(iso, reg)]);
    const context = iso.isolate.createContextSync();
    const install = prelude.runSync(context, { reference: true, timeout: LOAD_TIMEOUT_MS }) as unknown as ivm.Reference<(...args: unknown[]) => unknown>;
    const slot: Prepared['slot'] = { scope: undefined, deadline: 0 };
    const { services } = this.#options;
    const clock = this.#options.clock;
    let dispatch: Prepared['dispatch'] | undefined;
    const { Callback } = isolatedVm();
    const hostSync = new Callback((token: unknown, op: unknown, a: unknown, b: unknown, c: unknown) => {
      const scope = slot.scope !== undefined && slot.scope.token === token ? slot.scope : undefined;
      return syncTool(scope, String(op), String(a), String(b), String(c), services);
    });
    const hostCall = new Callback(
      (token: unknown, id: unknown, tool: unknown, argsJson: unknown) => {
        const scope = slot.scope;
        if (scope === undefined || scope.token !== token || scope.ended || dispatch === undefined) return;
        const target = dispatch;
        const deliver = (ok: boolean, payload: string) => {
          if (scope.ended || slot.scope !== scope) return;
          const timeout = Math.max(1, Math.ceil(slot.deadline - clock.monotonic()));
          target.apply(undefined, ['deliver', id as number, ok, payload], { timeout }).catch((error: unknown) => {
            // A continuation that spins after an await is cut by the apply timeout; end the run now.
            if (/timed out/i.test(String((error as Error)?.message))) scope.onTimeout?.();
          });
        };
        callTool(scope, String(tool), String(argsJson), services).then(
          (payload) => deliver(true, payload),
          (error: unknown) => deliver(false, toolErrorJson(error)),
        );
      },
      { ignored: true },
    );
    try {
      dispatch = install.applySync(undefined, [hostSync, hostCall, reg.settingsJson], {
        result: { reference: true },
        timeout: LOAD_TIMEOUT_MS,
      }) as unknown as Prepared['dispatch'];
    } finally {
      install.release();
    }
    try {
      await script.run(context, { timeout: Math.max(1, Math.ceil(wallMs)) });
    } catch (error) {
      dispatch.release();
      context.release();
      throw error;
    }
    return { context, dispatch, slot };
  }

  // ---- one run ------------------------------------------------------------------------------

  async #execute(iso: PooledIsolate, reg: Registered, inputJson: string, meta: EngineRunMeta, signal: AbortSignal | undefined, started: number): Promise<EngineResult> {
    const { clock } = this.#options;
    const { spec } = reg;
    const digest = spec.digest;
    const token = tokenSeq++;
    const scope = new RunScope(token, spec, meta);
    const empty = (): EngineStats => statsOf(scope, started, clock, 0, 0, 0);
    const key = spec.pool.reuseContext ? reuseKey(digest, meta.tenant) : undefined;

    let prepared: Prepared | undefined = key !== undefined ? iso.takeReused(key) : undefined;
    prepared ??= iso.ready.get(digest)?.shift();
    this.#options.onCapacity?.(digest);

    // The deadline and the CPU count start before an on-demand load: the agent's top-level code is the run's work.
    const limitMs = spec.limits.timeoutMs;
    const deadline = clock.monotonic() + limitMs;
    let cpu0: bigint;
    try {
      cpu0 = iso.isolate.cpuTime;
    } catch {
      iso.dead = true;
      return { ok: false, error: { code: 'E_SANDBOX_CRASHED', message: 'the isolate was lost before the run started; retry' }, stats: empty() };
    }

    let phase: 'load' | 'run' = prepared === undefined ? 'load' : 'run';
    let killed: RunError | undefined;
    let done = false;
    let endKilled!: () => void;
    const killedPromise = new Promise<void>((resolve) => {
      endKilled = resolve;
    });
    const watched: Watched = {
      isolate: iso.isolate,
      iso,
      cpu0,
      limitNs: BigInt(Math.round(spec.limits.cpuMs * 1e6)),
      lastCpuNs: 0n,
      kill: (error) => {
        if (killed || done) return;
        killed = phase === 'load' && error.code !== 'E_DISPOSED' ? inLoad(error) : error;
        // Disposing is the only way to stop code spinning after an await or a promise that never settles.
        iso.dispose();
        endKilled();
      },
    };
    const timeoutError: RunError = {
      code: 'E_TIMEOUT',
      message: `run exceeded limits.timeoutMs (${limitMs} ms); raise limits.timeoutMs in agent.json or make the agent finish sooner`,
      details: { limit: 'limits.timeoutMs', limitMs },
    };
    scope.onTimeout = () => watched.kill(timeoutError);
    const wall = setTimeout(() => watched.kill(timeoutError), limitMs);
    this.#watch(watched);
    iso.runId = meta.runId;
    this.#running.set(meta.runId, { iso, spec, watched });
    let grace: NodeJS.Timeout | undefined;
    const onAbort = () => {
      // ctx.signal fires first so a cooperative agent can stop; the isolate goes after a short grace.
      if (phase === 'run') prepared?.dispatch.apply(undefined, ['abort', token], { timeout: CANCEL_GRACE_MS }).catch(() => {});
      grace = setTimeout(() => watched.kill({ code: 'E_DISPOSED', message: 'the run was cancelled by its caller' }), CANCEL_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      done = true;
      clearTimeout(wall);
      if (grace) clearTimeout(grace);
      this.#unwatch(watched);
      this.#running.delete(meta.runId);
      iso.runId = undefined;
      signal?.removeEventListener('abort', onAbort);
    };

    if (prepared === undefined) {
      try {
        prepared = await this.#prepare(iso, reg, deadline - clock.monotonic());
        reg.prepFailed = false;
        phase = 'run';
      } catch (error) {
        settle();
        scope.end();
        if (iso.isolate.isDisposed) iso.dead = true;
        const cpuNs = watched.lastCpuNs;
        let loadFailure = killed ?? loadError(error, spec, iso);
        if (loadFailure.code === 'E_AGENT_THREW' && cpuNs > watched.limitNs) loadFailure = inLoad(cpuError(spec));
        return { ok: false, error: loadFailure, stats: statsOf(scope, started, clock, Number(cpuNs) / 1e6, 0, 0) };
      }
    }
    prepared.slot.scope = scope;
    prepared.slot.deadline = deadline;
    const runWallMs = Math.max(1, Math.ceil(deadline - clock.monotonic()));

    let envelope: string | undefined;
    let thrown: unknown;
    try {
      const applied = prepared.dispatch.apply(undefined, ['run', token, inputJson], { timeout: runWallMs, result: { promise: true } }) as Promise<unknown>;
      const outcome = await Promise.race([applied.then((v) => ({ v }), (e: unknown) => ({ e })), killedPromise.then(() => undefined)]);
      if (outcome && 'v' in outcome) envelope = typeof outcome.v === 'string' ? outcome.v : undefined;
      else if (outcome) thrown = outcome.e;
    } catch (error) {
      thrown = error;
    } finally {
      settle();
      scope.end();
      prepared.slot.scope = undefined;
    }

    let cpuNs = watched.lastCpuNs;
    let heapBytes = 0;
    if (!iso.dead && !iso.isolate.isDisposed) {
      try {
        cpuNs = iso.isolate.cpuTime - cpu0;
        const heap = iso.isolate.getHeapStatisticsSync();
        heapBytes = heap.used_heap_size;
        if (heap.used_heap_size > iso.memoryMb * 1024 * 1024 * 0.6) iso.retiring = true;
      } catch {
        iso.dead = true;
      }
    } else {
      iso.dead = true;
    }
    iso.runs++;
    if (iso.runs >= this.#options.isolateMaxRuns) iso.retiring = true;
    const cpuMs = Number(cpuNs) / 1e6;

    let error: RunError | undefined = killed;
    if (!error && thrown !== undefined) error = applyError(thrown, spec, iso, timeoutError);
    if (!error && envelope === undefined) error = { code: 'E_SANDBOX_CRASHED', message: 'the run ended without a result; the isolate was replaced' };
    if (!error && cpuNs > watched.limitNs) error = cpuError(spec);

    // A fresh context serves one run; a reused one goes back for this tenant only, and only if the run ended cleanly.
    if (key !== undefined && !error && !iso.dead) iso.keepReused(key, prepared);
    else if (!iso.dead) releasePrepared(prepared);

    let dropped = 0;
    let outputJson: string | undefined;
    if (!error && envelope !== undefined) {
      const semi = envelope.indexOf(';');
      dropped = Number(envelope.slice(1, semi)) || 0;
      const kind = envelope[0];
      const body = envelope.slice(semi + 1);
      if (kind === 'O') outputJson = body;
      else if (kind === 'E') error = agentError(body);
      else if (kind !== 'U') error = { code: 'E_SANDBOX_CRASHED', message: 'the prelude returned a malformed result' };
    }
    if (outputJson !== undefined && outputJson.length > spec.limits.outputKb * 1024) {
      // Unreachable unless the prelude's own check failed; kept as a second line.
      error = { code: 'E_OUTPUT_LIMIT', message: `run output is over limits.outputKb (${spec.limits.outputKb} KB); return less or raise limits.outputKb in agent.json` };
      outputJson = undefined;
    }
    const outputBytes = outputJson === undefined ? 0 : Buffer.byteLength(outputJson);
    const stats = statsOf(scope, started, clock, cpuMs, heapBytes, outputBytes, dropped);
    if (error) return { ok: false, error, stats };
    return outputJson === undefined ? { ok: true, stats } : { ok: true, outputJson, stats };
  }

  #watch(w: Watched): void {
    this.#watched.add(w);
    if (this.#cpuTimer === undefined) {
      this.#cpuTimer = setInterval(() => this.#pollCpu(), CPU_POLL_MS);
      this.#cpuTimer.unref();
    }
  }

  #unwatch(w: Watched): void {
    try {
      if (!w.isolate.isDisposed) w.lastCpuNs = w.isolate.cpuTime - w.cpu0;
    } catch {
      // disposed meanwhile
    }
    this.#watched.delete(w);
    if (this.#watched.size === 0 && this.#cpuTimer !== undefined) {
      clearInterval(this.#cpuTimer);
      this.#cpuTimer = undefined;
    }
  }

  /**
   * A run or load still going {@link STUCK_ISOLATE_MS} after isolated-vm disposed its isolate (not us: a disposal of
   * ours marks it dead first) has a thread nothing in this process can stop. That is V8 out of memory in all but
   * name, and is reported as such: a host process goes, blaming the run (or the template loading ahead) it served.
   */
  #checkStuck(w: Watched): void {
    if (w.iso.dead || !w.isolate.isDisposed) return;
    const now = this.#options.clock.monotonic();
    w.lostAt ??= now;
    if (now - w.lostAt < STUCK_ISOLATE_MS) return;
    this.#unwatch(w);
    this.#options.onCatastrophicError('the isolate passed its memory limit and its thread did not stop', w.iso.runId, w.iso.loading);
  }

  #pollCpu(): void {
    for (const w of this.#watched) {
      let used: bigint;
      try {
        used = w.isolate.cpuTime - w.cpu0;
      } catch {
        this.#checkStuck(w);
        continue;
      }
      w.lastCpuNs = used;
      if (used > w.limitNs) w.kill({ code: 'E_CPU_LIMIT', message: `run exceeded limits.cpuMs (${Number(w.limitNs / 1_000_000n)} ms of CPU); raise limits.cpuMs in agent.json or do less work per run`, details: { limit: 'limits.cpuMs' } });
    }
  }
}

/** The same limit error, said of the agent's top-level code (`details.phase: 'load'`). */
function inLoad(error: RunError): RunError {
  return {
    code: error.code,
    message: `loading the agent's module (its top-level code) counts toward the run: ${error.message}`,
    details: { ...error.details, phase: 'load' },
  };
}

function cpuError(spec: AgentSpec): RunError {
  return {
    code: 'E_CPU_LIMIT',
    message: `run exceeded limits.cpuMs (${spec.limits.cpuMs} ms of CPU); raise limits.cpuMs in agent.json or do less work per run`,
    details: { limit: 'limits.cpuMs', limitMs: spec.limits.cpuMs },
  };
}

function memoryError(spec: AgentSpec): RunError {
  return {
    code: 'E_MEMORY_LIMIT',
    message: `run exceeded limits.memoryMb (${spec.limits.memoryMb} MB of heap); raise limits.memoryMb in agent.json or use less memory`,
    details: { limit: 'limits.memoryMb', limitMb: spec.limits.memoryMb },
  };
}

/** Maps a rejected `apply` to a run error. */
function applyError(error: unknown, spec: AgentSpec, iso: PooledIsolate, timeoutError: RunError): RunError {
  const message = String((error as Error)?.message ?? error);
  if (/memory limit/i.test(message)) {
    iso.dead = true;
    return memoryError(spec);
  }
  if (/timed out/i.test(message)) return timeoutError;
  if (iso.isolate.isDisposed || /disposed/i.test(message)) {
    iso.dead = true;
    return { code: 'E_SANDBOX_CRASHED', message: `the isolate was lost during the run (${message}); it was replaced` };
  }
  return { code: 'E_AGENT_THREW', message };
}

/** Maps a failure while loading the bundle (the agent's top-level code) to a run error. */
function loadError(error: unknown, spec: AgentSpec, iso: PooledIsolate): RunError {
  const message = String((error as Error)?.message ?? error);
  if (/memory limit/i.test(message)) {
    iso.dead = true;
    return inLoad(memoryError(spec));
  }
  if (/timed out/i.test(message)) {
    return {
      code: 'E_TIMEOUT',
      message: `loading the agent's module (its top-level code) exceeded limits.timeoutMs (${spec.limits.timeoutMs} ms); do less at top level or raise limits.timeoutMs`,
      details: { limit: 'limits.timeoutMs', limitMs: spec.limits.timeoutMs, phase: 'load' },
    };
  }
  return { code: 'E_AGENT_THREW', message: `the agent's module failed to load: ${message}`, details: { phase: 'load' } };
}

const RUN_CODES = new Set<ErrorCode>(['E_AGENT_THREW', 'E_OUTPUT_LIMIT', 'E_PERMISSION_DENIED', 'E_SPAWN_LIMIT']);

/** Decodes the prelude's error envelope. Only codes the prelude may decide on are kept. */
function agentError(body: string): RunError {
  let parsed: { code?: string; message?: string; name?: string; stack?: string; cause?: string; bytes?: number };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return { code: 'E_AGENT_THREW', message: 'the agent threw something that could not be described' };
  }
  const code = RUN_CODES.has(parsed.code as ErrorCode) ? (parsed.code as ErrorCode) : 'E_AGENT_THREW';
  const details: Record<string, unknown> = {};
  if (parsed.name) details.name = parsed.name;
  if (parsed.stack) details.stack = parsed.stack;
  if (parsed.cause) details.cause = parsed.cause;
  if (parsed.bytes !== undefined) details.bytes = parsed.bytes;
  const message = code === 'E_AGENT_THREW' ? `${parsed.name ?? 'Error'}: ${parsed.message ?? ''}` : (parsed.message ?? '');
  return Object.keys(details).length > 0 ? { code, message, details } : { code, message };
}

function statsOf(scope: RunScope, started: number, clock: Clock, cpuMs: number, heapUsedAtEndBytes: number, outputBytes: number, preludeDropped = 0): EngineStats {
  return {
    runMs: clock.monotonic() - started,
    cpuMs,
    heapUsedAtEndBytes,
    outputBytes,
    tools: scope.tools,
    denials: scope.denials,
    grantsUsed: [...scope.grantsUsed].sort(),
    logs: scope.logs,
    logsDropped: scope.logsDropped + preludeDropped,
  };
}

function failure(code: ErrorCode, message: string, started: number, clock: Clock): EngineResult {
  return {
    ok: false,
    error: { code, message },
    stats: { runMs: clock.monotonic() - started, cpuMs: 0, heapUsedAtEndBytes: 0, outputBytes: 0, tools: {}, denials: [], logs: [], logsDropped: 0 },
  };
}
