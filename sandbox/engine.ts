/** @module sandbox/engine — isolate pools, contexts kept ready ahead of demand, one run's execution and every limit's watchdog; shared by host processes and inline mode. */
import ivm from 'isolated-vm';
import type { AgentSpec } from '../core/agent-spec.js';
import type { Clock } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { callTool, RunScope, syncTool, toolErrorJson, type EngineServices, type EnvValues, type ToolSettings } from './host-tools.js';
import { PRELUDE_SOURCE, type PreludeSettings } from './prelude.js';
import type { RunError, RunStats } from './types.js';

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
  tools: ToolSettings;
  /** V8 lost control of an isolate; a host process should abort so the supervisor replaces it. */
  onCatastrophicError(message: string): void;
  /** Ready slots for a digest changed. */
  onCapacity?(digest: string): void;
}

export interface EngineRunMeta {
  /** The caller's id for the run; service calls carry it (see {@link ServiceCaller}). */
  runId: number;
  tenant: string;
  env: string;
  depth: number;
}

interface Registered {
  spec: AgentSpec;
  envValues: EnvValues;
  settingsJson: string;
  /** Background preparation failed (the bundle throws at load); retry only on demand. */
  prepFailed: boolean;
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
  readonly ready = new Map<string, Prepared[]>();
  readonly reused = new Map<string, Prepared>();
  busy = false;
  dead = false;
  retiring = false;
  runs = 0;

  constructor(memoryMb: number, onCatastrophicError: (message: string) => void) {
    this.memoryMb = memoryMb;
    this.isolate = new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError });
  }

  readyFor(digest: string): number {
    return (this.ready.get(digest)?.length ?? 0) + (this.reused.has(digest) ? 1 : 0);
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

interface Waiter {
  digest: string;
  resolve(isolate: PooledIsolate | undefined): void;
}

interface Pool {
  memoryMb: number;
  isolates: PooledIsolate[];
  queue: Waiter[];
}

interface Watched {
  isolate: ivm.Isolate;
  cpu0: bigint;
  limitNs: bigint;
  kill(error: RunError): void;
  lastCpuNs: bigint;
}

const CPU_POLL_MS = 5;
const PEAK_DECAY_MS = 5_000;
const CANCEL_GRACE_MS = 50;
const LOAD_TIMEOUT_MS = 5_000;
let tokenSeq = 1;

/** Runs registered templates in pooled isolates. Never throws for agent misbehaviour. */
export class SandboxEngine {
  readonly #options: EngineOptions;
  readonly #registered = new Map<string, Registered>();
  readonly #pools = new Map<number, Pool>();
  readonly #watched = new Set<Watched>();
  #cpuTimer: NodeJS.Timeout | undefined;
  #topUpScheduled = false;
  #closed = false;

  constructor(options: EngineOptions) {
    this.#options = options;
  }

  /** Registers (or refreshes) a template and starts preparing contexts for it in the background. */
  register(spec: AgentSpec, envValues: EnvValues): void {
    const existing = this.#registered.get(spec.digest);
    if (existing) {
      existing.envValues = envValues;
      return;
    }
    const settings: PreludeSettings = {
      template: spec.name,
      outputLimitBytes: spec.limits.outputKb * 1024,
      logLimitBytes: spec.limits.logKb * 1024,
      wasm: spec.permissions.wasm === true,
      kv: spec.permissions.kv === true,
      configJson: JSON.stringify(spec.config ?? {}),
    };
    this.#registered.set(spec.digest, {
      spec,
      envValues,
      settingsJson: JSON.stringify(settings),
      prepFailed: false,
      inflight: 0,
      peak: 0,
      peakAt: 0,
      preparing: 0,
    });
    this.#scheduleTopUp();
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
      iso = await this.#acquire(pool, digest, signal);
      if (iso === undefined) {
        return failure('E_DISPOSED', this.#closed ? 'the sandbox is closed' : 'the run was cancelled while waiting for an isolate', started, this.#options.clock);
      }
      return await this.#execute(iso, reg, inputJson, meta, signal, started);
    } finally {
      reg.inflight--;
      if (iso) this.#releaseIsolate(pool, iso);
    }
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

  #acquire(pool: Pool, digest: string, signal?: AbortSignal): Promise<PooledIsolate | undefined> {
    let best: PooledIsolate | undefined;
    for (const iso of pool.isolates) {
      if (iso.busy || iso.dead || iso.retiring) continue;
      if (best === undefined || iso.readyFor(digest) > best.readyFor(digest)) best = iso;
      if (best.readyFor(digest) > 0) break;
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
      if (reg.prepFailed) continue;
      const pool = this.#pool(reg.spec.limits.memoryMb);
      if (pool.queue.length > 0) continue;
      const want = Math.min(this.#options.maxIsolatesPerPool * 2, Math.max(reg.spec.pool.prewarm, reg.peak));
      if (want - this.ready(reg.spec.digest) - reg.preparing <= 0) continue;
      const iso = this.#pickForTopUp(pool, reg);
      if (!iso) continue;
      iso.busy = true;
      reg.preparing++;
      void this.#prepare(iso, reg)
        .then(
          (prepared) => this.#keep(iso, reg, prepared),
          () => {
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
      if (reg.spec.pool.reuseContext && iso.reused.has(digest)) continue;
      if (!reg.spec.pool.reuseContext && iso.readyFor(digest) >= 2) continue;
      if (best === undefined || iso.readyFor(digest) < best.readyFor(digest)) best = iso;
    }
    // Spread ready contexts over isolates: a run needs an idle isolate as much as a ready context.
    if ((best === undefined || best.readyFor(digest) > 0) && this.#live(pool) < this.#options.maxIsolatesPerPool) return this.#newIsolate(pool);
    return best;
  }

  #keep(iso: PooledIsolate, reg: Registered, prepared: Prepared): void {
    if (iso.dead) return;
    reg.prepFailed = false;
    if (reg.spec.pool.reuseContext) {
      iso.reused.set(reg.spec.digest, prepared);
      return;
    }
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
   * Creates a context, runs the prelude, installs the bridge and evaluates the bundle (the agent's top-level code).
   * The first three steps are our own bounded code and run synchronously: measured here, that costs about 0.3 ms
   * less CPU per context than three async hops to the isolate's thread (and, on this 2-core machine, gave lower
   * latency inline too). The bundle runs asynchronously because it is agent code, bounded only by
   * limits.timeoutMs, and must not hold up the event loop.
   */
  async #prepare(iso: PooledIsolate, reg: Registered): Promise<Prepared> {
    if (!iso.prelude) {
      iso.prelude = iso.isolate.compileScript(PRELUDE_SOURCE, { filename: 'agent-factory:prelude' });
    }
    const [prelude, script] = await Promise.all([iso.prelude, this.#script(iso, reg)]);
    const context = iso.isolate.createContextSync();
    const install = prelude.runSync(context, { reference: true, timeout: LOAD_TIMEOUT_MS }) as unknown as ivm.Reference<(...args: unknown[]) => unknown>;
    const slot: Prepared['slot'] = { scope: undefined, deadline: 0 };
    const { services, tools } = this.#options;
    const clock = this.#options.clock;
    let dispatch: Prepared['dispatch'] | undefined;
    const hostSync = new ivm.Callback((token: unknown, op: unknown, a: unknown, b: unknown, c: unknown) => {
      const scope = slot.scope !== undefined && slot.scope.token === token ? slot.scope : undefined;
      return syncTool(scope, String(op), String(a), String(b), String(c), services);
    });
    const hostCall = new ivm.Callback(
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
        callTool(scope, String(tool), String(argsJson), services, tools).then(
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
      await script.run(context, { timeout: reg.spec.limits.timeoutMs });
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
    const scope = new RunScope(token, spec, reg.envValues, meta);
    const empty = (): EngineStats => statsOf(scope, started, clock, 0, 0, 0);

    let prepared: Prepared | undefined = spec.pool.reuseContext ? iso.reused.get(digest) : iso.ready.get(digest)?.shift();
    if (prepared === undefined) {
      try {
        prepared = await this.#prepare(iso, reg);
        if (spec.pool.reuseContext) iso.reused.set(digest, prepared);
      } catch (error) {
        if (iso.isolate.isDisposed) iso.dead = true;
        return { ok: false, error: loadError(error, spec, iso), stats: empty() };
      }
    }
    this.#options.onCapacity?.(digest);

    const limitMs = spec.limits.timeoutMs;
    const deadline = clock.monotonic() + limitMs;
    prepared.slot.scope = scope;
    prepared.slot.deadline = deadline;
    let cpu0: bigint;
    try {
      cpu0 = iso.isolate.cpuTime;
    } catch {
      iso.dead = true;
      return { ok: false, error: { code: 'E_SANDBOX_CRASHED', message: 'the isolate was lost before the run started; retry' }, stats: empty() };
    }

    let killed: RunError | undefined;
    let done = false;
    let endKilled!: () => void;
    const killedPromise = new Promise<void>((resolve) => {
      endKilled = resolve;
    });
    const watched: Watched = {
      isolate: iso.isolate,
      cpu0,
      limitNs: BigInt(Math.round(spec.limits.cpuMs * 1e6)),
      lastCpuNs: 0n,
      kill: (error) => {
        if (killed || done) return;
        killed = error;
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
    let grace: NodeJS.Timeout | undefined;
    const onAbort = () => {
      // ctx.signal fires first so a cooperative agent can stop; the isolate goes after a short grace.
      prepared?.dispatch.apply(undefined, ['abort', token], { timeout: CANCEL_GRACE_MS }).catch(() => {});
      grace = setTimeout(() => watched.kill({ code: 'E_DISPOSED', message: 'the run was cancelled by its caller' }), CANCEL_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    let envelope: string | undefined;
    let thrown: unknown;
    try {
      const applied = prepared.dispatch.apply(undefined, ['run', token, inputJson], { timeout: limitMs, result: { promise: true } }) as Promise<unknown>;
      const outcome = await Promise.race([applied.then((v) => ({ v }), (e: unknown) => ({ e })), killedPromise.then(() => undefined)]);
      if (outcome && 'v' in outcome) envelope = typeof outcome.v === 'string' ? outcome.v : undefined;
      else if (outcome) thrown = outcome.e;
    } catch (error) {
      thrown = error;
    } finally {
      done = true;
      clearTimeout(wall);
      if (grace) clearTimeout(grace);
      this.#unwatch(watched);
      signal?.removeEventListener('abort', onAbort);
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

    // A fresh context serves one run; a reused one is dropped if the run did not end cleanly.
    const keepContext = spec.pool.reuseContext && !error && !iso.dead;
    if (!keepContext) {
      if (spec.pool.reuseContext && iso.reused.get(digest) === prepared) iso.reused.delete(digest);
      if (!iso.dead) {
        prepared.dispatch.release();
        prepared.context.release();
      }
    }

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

  #pollCpu(): void {
    for (const w of this.#watched) {
      let used: bigint;
      try {
        used = w.isolate.cpuTime - w.cpu0;
      } catch {
        continue;
      }
      w.lastCpuNs = used;
      if (used > w.limitNs) w.kill({ code: 'E_CPU_LIMIT', message: `run exceeded limits.cpuMs (${Number(w.limitNs / 1_000_000n)} ms of CPU); raise limits.cpuMs in agent.json or do less work per run`, details: { limit: 'limits.cpuMs' } });
    }
  }
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
    return memoryError(spec);
  }
  if (/timed out/i.test(message)) {
    return { code: 'E_TIMEOUT', message: `loading the agent's module exceeded limits.timeoutMs (${spec.limits.timeoutMs} ms)`, details: { limit: 'limits.timeoutMs' } };
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

function statsOf(scope: RunScope, started: number, clock: Clock, cpuMs: number, heapPeakBytes: number, outputBytes: number, preludeDropped = 0): EngineStats {
  return {
    runMs: clock.monotonic() - started,
    cpuMs,
    heapPeakBytes,
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
    stats: { runMs: clock.monotonic() - started, cpuMs: 0, heapPeakBytes: 0, outputBytes: 0, tools: {}, denials: [], logs: [], logsDropped: 0 },
  };
}
