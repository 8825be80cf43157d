/** @module sandbox/isolate-run — one run in an isolate the engine acquired: a ready context (or one loaded on demand) under its watchdogs, to its result and stats. */
import type { AgentSpec } from '../core/agent-spec.js';
import type { Clock } from '../core/clock.js';
import type { ErrorCode } from '../core/errors.js';
import { prepareContext, readReply, type Prepared } from './context-bridge.js';
import type { EngineResult, EngineRunMeta, EngineStats } from './engine.js';
import { HeapProbe } from './heap-probe.js';
import { RunScope, type EngineServices } from './host-tools.js';
import { reuseKey, type PooledIsolate } from './isolate-pool.js';
import { applyError, cpuError, inLoad, loadError } from './run-errors.js';
import type { RunError } from './types.js';
import { type CpuWatchdog, RunWatch, type RunningRun, runLimitsOf, startRunPhase, watched } from './watchdogs.js';

/** Wall time a background load gets beyond its CPU budget (limits.cpuMs): room for a busy machine, not for work. */
const LOAD_WALL_SLACK_MS = 100;

/** A registered template as a run needs it. */
export interface RunTemplate {
  readonly spec: AgentSpec;
  /** The prelude's settings (context-bridge `preludeSettingsJson`). */
  readonly settingsJson: string;
  /** Cleared when a run loads the module on demand: loading ahead may resume. */
  prepFailed: boolean;
}

/** What the engine lends a run. */
export interface IsolateRunDeps {
  clock: Clock;
  services: EngineServices;
  cpu: CpuWatchdog;
  /** The engine's runs in flight: the run is in it while it runs, for the host's memory watch. */
  running: Map<number, RunningRun>;
  isolateMaxRuns: number;
  heapProbeEvery: number;
  onCapacity(digest: string): void;
}

/** Runs `template` once in `iso` (busy, held by the caller). `token` is unique among the engine's runs and never 0. */
export async function runInIsolate(deps: IsolateRunDeps, iso: PooledIsolate, template: RunTemplate, token: number, inputJson: string, meta: EngineRunMeta, signal: AbortSignal | undefined, started: number): Promise<EngineResult> {
  const { clock } = deps;
  const { spec } = template;
  const scope = new RunScope(token, spec, meta);
  const key = spec.pool.reuseContext ? reuseKey(spec.digest, meta.tenant) : undefined;
  let prepared: Prepared | undefined = key !== undefined ? iso.takeReused(key) : undefined;
  prepared ??= iso.ready.get(spec.digest)?.shift();
  deps.onCapacity(spec.digest);

  // The memory figure's baseline (sandbox/heap-probe), taken before the deadline and the CPU count start: the probe's
  // GC work is not the run's. A context loaded on demand has it taken after the load, below.
  const measured = iso.runs % deps.heapProbeEvery === 0;
  let heapBaseline = prepared === undefined || !measured ? undefined : probeBegin(iso);
  // The run's own limits (limits.byInput: from its input, on the calling side). The deadline and the CPU count start
  // before an on-demand load: the agent's top-level code is the run's work (a rule's CPU limit starts after it:
  // the load has the flat budget, see startRunPhase).
  const limits = runLimitsOf(spec, meta.limits);
  const deadline = clock.monotonic() + limits.timeoutMs;
  let cpu0: bigint;
  try {
    cpu0 = iso.isolate.cpuTime;
  } catch {
    iso.dead = true;
    return { ok: false, error: { code: 'E_SANDBOX_CRASHED', message: 'the isolate was lost before the run started; retry' }, stats: statsOf(scope, started, clock, 0, 0, 0) };
  }
  const watch = new RunWatch(iso, limits, cpu0, prepared === undefined ? 'load' : 'run', deps.cpu, signal, (graceMs) => {
    // ctx.signal fires first so a cooperative agent can stop; the isolate goes after a short grace.
    if (watch.phase === 'run') prepared?.dispatch.apply(undefined, ['abort', token], { timeout: graceMs }).catch(() => {});
  });
  watch.start();
  iso.runId = meta.runId;
  deps.running.set(meta.runId, { iso, spec, watched: watch.watched });
  const settle = () => {
    watch.settle();
    deps.running.delete(meta.runId);
    iso.runId = undefined;
    scope.end();
  };

  if (prepared === undefined) {
    try {
      prepared = await prepareContext(iso, spec, template.settingsJson, deadline - clock.monotonic(), deps.services, clock);
      template.prepFailed = false;
      watch.phase = 'run';
      startRunPhase(watch.watched, limits, iso.isolate.cpuTime - cpu0);
    } catch (error) {
      settle();
      if (iso.isolate.isDisposed) iso.dead = true;
      const cpuNs = watch.watched.lastCpuNs;
      let loadFailure = watch.killed ?? loadError(error, spec, iso, limits.timeoutMs, limits.timeoutMeasure);
      if (loadFailure.code === 'E_AGENT_THREW' && cpuNs > watch.watched.limitNs) loadFailure = inLoad(cpuError(watch.watched.cpuMs, watch.watched.cpuMeasure));
      return { ok: false, error: loadFailure, stats: statsOf(scope, started, clock, Number(cpuNs) / 1e6, 0, 0) };
    }
  }
  prepared.slot.scope = scope;
  prepared.slot.deadline = deadline;
  // After an on-demand load, so the run measures the same whether its context was ready or not. Inside the run's
  // budget here: only the probe's minor GCs (no full one), and their CPU is taken off the run's figure.
  let probeCpuNs = 0n;
  if (heapBaseline === undefined && measured) {
    const before = iso.isolate.cpuTime;
    heapBaseline = probeBegin(iso);
    probeCpuNs = iso.isolate.cpuTime - before;
  }
  const runWallMs = Math.max(1, Math.ceil(deadline - clock.monotonic()));
  let envelope: string | undefined;
  let thrown: unknown;
  try {
    const applied = prepared.dispatch.apply(undefined, ['run', token, inputJson], { timeout: runWallMs, result: { promise: true } }) as Promise<unknown>;
    const outcome = await Promise.race([applied.then((v) => ({ v }), (e: unknown) => ({ e })), watch.whenKilled.then(() => undefined)]);
    if (outcome && 'v' in outcome) envelope = typeof outcome.v === 'string' ? outcome.v : undefined;
    else if (outcome) thrown = outcome.e;
  } catch (error) {
    thrown = error;
  } finally {
    settle();
    prepared.slot.scope = undefined;
  }

  let cpuNs = watch.watched.lastCpuNs;
  let heapBytes = 0;
  let heapGrowth: number | undefined;
  if (!iso.dead && !iso.isolate.isDisposed) {
    try {
      cpuNs = iso.isolate.cpuTime - cpu0 - probeCpuNs;
      heapGrowth = measureGrowth(iso, heapBaseline, watch.killed !== undefined);
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

  let error: RunError | undefined = watch.killed;
  if (!error && thrown !== undefined) error = applyError(thrown, spec, iso, watch.timeout);
  if (!error && envelope === undefined) error = { code: 'E_SANDBOX_CRASHED', message: 'the run ended without a result; the isolate was replaced' };
  if (!error && cpuNs > watch.watched.limitNs) error = cpuError(limits.cpuMs, limits.cpuMeasure);
  // A fresh context serves one run; a reused one goes back for this tenant only, and only if the run ended cleanly.
  if (key !== undefined && !error && !iso.dead) iso.keepReused(key, prepared);
  else if (!iso.dead) iso.release(prepared);
  // Recycling bounds what released contexts leave behind, so only they count (see SandboxOptions.isolateMaxRuns):
  // counting runs in a kept context too retired a reuseContext template's isolates, and rebuilt its contexts, every
  // 2,000 runs for nothing.
  if (iso.contextsReleased >= deps.isolateMaxRuns) iso.retiring = true;

  let dropped = 0;
  let outputJson: string | undefined;
  if (envelope !== undefined) {
    const reply = readReply(envelope, spec);
    dropped = reply.dropped;
    // kv.get calls the prelude answered from the run's cache are calls all the same: the record counts every one, also
    // for a run that ends in an error.
    if (reply.cachedReads > 0) scope.count('kv', reply.cachedReads);
    if (!error) ({ outputJson, error } = reply);
  }
  const stats = statsOf(scope, started, clock, Number(cpuNs) / 1e6, heapBytes, outputJson === undefined ? 0 : Buffer.byteLength(outputJson), dropped);
  if (heapGrowth !== undefined) stats.heapGrowthBytes = heapGrowth;
  if (error) return { ok: false, error, stats };
  return outputJson === undefined ? { ok: true, stats } : { ok: true, outputJson, stats };
}

/** The heap probe's baseline, or undefined when the isolate cannot be probed (it is going): the run is then not measured. */
function probeBegin(iso: PooledIsolate): number | undefined {
  try {
    return (iso.heapProbe ??= new HeapProbe(iso.isolate)).begin();
  } catch {
    return undefined;
  }
}

/** Before the context is released: what the run holds at its end is part of what it needed. Never for a killed run. */
function measureGrowth(iso: PooledIsolate, baseline: number | undefined, killed: boolean): number | undefined {
  if (baseline === undefined || killed || iso.heapProbe === undefined) return undefined;
  try {
    return iso.heapProbe.end(baseline);
  } catch {
    return undefined;
  }
}

/**
 * Loads a context ahead of demand, under a budget of its own: the template's flat limits.cpuMs of CPU (no run, so no
 * input for a limits.byInput rule to measure; the flat limit is the ceiling of every run's effective one) and at most
 * min(limits.timeoutMs, limits.cpuMs + {@link LOAD_WALL_SLACK_MS}) of wall time. Without it, top-level code escaped
 * every limit and held shared isolates (measured: 2.5 s of busy loop with cpuMs 50 delayed another tenant's run
 * by 2.6 s); with it, pre-warming holds an isolate no longer than that, and a failure stops pre-warming.
 */
export async function loadAhead(deps: IsolateRunDeps, iso: PooledIsolate, template: RunTemplate): Promise<Prepared> {
  const { cpuMs, timeoutMs } = template.spec.limits;
  const watch = watched(iso, iso.isolate.cpuTime, cpuMs, () => iso.dispose());
  deps.cpu.watch(watch);
  iso.loading = template.spec.digest;
  try {
    return await prepareContext(iso, template.spec, template.settingsJson, Math.min(timeoutMs, cpuMs + LOAD_WALL_SLACK_MS), deps.services, deps.clock);
  } finally {
    iso.loading = undefined;
    deps.cpu.unwatch(watch);
  }
}

/** A run that never reached an isolate. */
export function failure(code: ErrorCode, message: string, started: number, clock: Clock): EngineResult {
  return {
    ok: false,
    error: { code, message },
    stats: { runMs: clock.monotonic() - started, cpuMs: 0, heapUsedAtEndBytes: 0, outputBytes: 0, tools: {}, denials: [], logs: [], logsDropped: 0 },
  };
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
