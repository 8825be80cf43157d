/** @module sandbox/supervisor — process isolation: forks the sandbox hosts, routes runs to them over IPC, serves their capability tool calls, restarts the ones that die. */
import type { ChildProcess } from 'node:child_process';
import type { AgentSpec } from '../core/agent-spec.js';
import { compileLimitsFor, type LimitsFor } from '../core/effective-limits.js';
import type { ErrorCode } from '../core/errors.js';
import { checkedHeapGrowth, decodeResult, disposedResult, emptyStats, encodeInput, envValuesFor } from './calling-side.js';
import { type CapabilitySettings, mergeServed, ServedRun, serveTool } from './capability-tools.js';
import type { EngineResult } from './engine.js';
import { type LayerStatus, type LayerSupport, type LockdownLayer, lockdownReport, lockdownSupport } from './lockdown.js';
import { hostBudgetMb, overBudgetError, runChargeMb } from './memory-budget.js';
import { adoptPrestartedHost, forkHost, hostForkPlan, locateHostEntry } from './prestarted-host.js';
import type { ResolvedSandboxOptions } from './options.js';
import { ToolDenied, ToolError } from './permissions.js';
import { MessageBatcher } from './message-batcher.js';
import type { FromHost, HostSettings, ServiceRequest, ToHost } from './protocol.js';
import type { Reservation, RunOptions, Sandbox, SandboxRunResult, SandboxStats } from './types.js';

/** Extra time a host gets past a run's own timeout before the supervisor treats it as hung and kills it. */
const HUNG_GRACE_MS = 5_000;
const STDERR_TAIL = 8_192;
const RESTART_WINDOW_MS = 10_000;
const RESTART_BURST = 5;
const RESTART_BACKOFF_MS = 1_000;
const CLOSE_GRACE_MS = 2_000;
/** After a cancel, how long the supervisor leaves a run's pending tool calls to its host before it stops them itself. */
const CANCEL_STOP_MS = 1_000;

export { locateHostEntry } from './prestarted-host.js';

/** The supervisor's own record of a run in flight: what its service calls are checked against. */
interface PendingRun {
  digest: string;
  spec: AgentSpec;
  /** Who the run is, what it used and was denied; its tool calls are served against this (sandbox/capability-tools). */
  served: ServedRun;
  /** What it claims of its host's memory budget until it ends (see memory-budget). */
  chargeMb: number;
  resolve(result: EngineResult): void;
  timer: NodeJS.Timeout;
}

class Host {
  readonly index: number;
  readonly child: ChildProcess;
  /** The lockdown layers its command line applies. */
  readonly layers: readonly LockdownLayer[];
  readonly ready = new Map<string, number>();
  readonly claimed = new Map<string, number>();
  readonly inflight = new Map<number, PendingRun>();
  readonly registered = new Set<string>();
  /** When `reserve` last chose this host (a sequence number), to spread consecutive agents over the hosts. */
  lastChosen = 0;
  /** Memory budget claimed by runs in flight here, MB. */
  committedMb = 0;
  alive = true;
  started = false;
  killReason: { code: ErrorCode; message: string } | undefined;
  /** The run in flight that took this host down, when known: only it gets `killReason`, the others are lost to it. */
  culprit: number | undefined;
  /** The host said the run behind its death already ended: every run still in flight is lost to it. */
  blameNone = false;
  stderrTail = '';
  readonly #outbox: MessageBatcher<ToHost>;

  constructor(index: number, child: ChildProcess, layers: readonly LockdownLayer[]) {
    this.index = index;
    this.child = child;
    this.layers = layers;
    this.#outbox = new MessageBatcher<ToHost>((message) => {
      if (!this.alive || !this.child.connected) return;
      try {
        this.child.send(message);
      } catch {
        // The channel closed under us; the exit handler settles everything in flight.
      }
    });
  }

  available(digest: string): number {
    return (this.ready.get(digest) ?? 0) - (this.claimed.get(digest) ?? 0);
  }

  send(message: ToHost): void {
    if (this.alive) this.#outbox.push(message);
  }

  /** For a message the host is waiting on (a tool call's answer): written this turn (see MessageBatcher.pushNow). */
  sendNow(message: ToHost): void {
    if (this.alive) this.#outbox.pushNow(message);
  }
}

interface RoomWaiter {
  digest: string;
  chargeMb: number;
  resolve(host: Host | undefined): void;
}

const OOM_REASON: { code: ErrorCode; message: string } = {
  code: 'E_MEMORY_LIMIT',
  message: 'V8 ran out of memory in the sandbox host (an allocation limits.memoryMb could not interrupt); the host was restarted. Use less memory or raise limits.memoryMb',
};

interface ReservationEntry {
  digest: string;
  host: Host | undefined;
}

/** The process-isolation sandbox (the default). */
export class Supervisor implements Sandbox {
  /**
   * @internal Tests only: the script to fork instead of `host-main.js`, e.g. a host that forges protocol messages
   * to show the supervisor does not trust them. Read when a Supervisor is constructed, and honoured only under the
   * test runner (vitest sets `VITEST`): no template, option or configuration reaches it.
   */
  static testHostEntry: string | undefined;
  /** @internal Tests only, under the test runner like `testHostEntry`: apply only these of the supported layers. */
  static testLayers: readonly LockdownLayer[] | undefined;

  readonly #options: ResolvedSandboxOptions;
  readonly #entry: string;
  readonly #hosts: Array<Host | undefined>;
  /** `envValues`: the allowlisted values, kept only for a template with env grants and sent with each of its runs. */
  readonly #specs = new Map<string, { spec: AgentSpec; envValues: Record<string, string> | undefined; limitsFor: LimitsFor }>();
  readonly #capabilities: CapabilitySettings;
  readonly #reservations = new Map<number, ReservationEntry>();
  readonly #crashTimes: number[] = [];
  #reservationSeq = 0;
  #chosenSeq = 0;
  #runSeq = 0;
  #restarts = 0;
  #closed = false;
  /** Templates whose top-level code took a host down while loading ahead of demand. */
  readonly #noAhead = new Set<string>();
  /** Runs waiting for a host with room in its memory budget, first come first served. */
  #roomWaiters: RoomWaiter[] = [];
  readonly #budgetMb: number;
  /** The layers this machine supports, as this supervisor applies them. */
  readonly #support: readonly LayerSupport[];

  constructor(options: ResolvedSandboxOptions) {
    this.#options = options;
    this.#entry = (process.env.VITEST !== undefined ? Supervisor.testHostEntry : undefined) ?? locateHostEntry();
    this.#budgetMb = hostBudgetMb(options.hostMemoryMb);
    const only = process.env.VITEST !== undefined ? Supervisor.testLayers : undefined;
    this.#support =
      options.lockdown === 'off' ? [] : lockdownSupport().map((s) => (only === undefined || only.includes(s.layer) || !s.available ? s : { ...s, available: false, reason: 'left out by the test' }));
    this.#capabilities = {
      services: options.services,
      fetchMaxBytes: options.fetchMaxBytes,
      readMaxBytes: options.readMaxBytes,
      onAuditError: (error) => options.logger.warn('sandbox: onDenial threw', { message: (error as Error)?.message }),
    };
    this.#hosts = Array.from({ length: options.hosts }, () => undefined);
    for (let i = 0; i < options.hosts; i++) this.#start(i);
  }

  /** The lockdown layers of this sandbox's hosts, and why any is missing. */
  lockdown(): LayerStatus[] {
    return lockdownReport(this.#options.lockdown, this.#support);
  }

  /** @internal Tests and `af doctor`: the process ids of the live hosts, with their layers. */
  hostProcesses(): Array<{ pid: number; layers: readonly LockdownLayer[] }> {
    const out: Array<{ pid: number; layers: readonly LockdownLayer[] }> = [];
    for (const host of this.#hosts) if (host?.alive && host.child.pid !== undefined) out.push({ pid: host.child.pid, layers: host.layers });
    return out;
  }

  // ---- public API ---------------------------------------------------------------------------

  register(spec: AgentSpec): void {
    if (this.#closed || this.#specs.has(spec.digest)) return;
    // Never runnable here (reserve says why): no host should spend memory on its contexts.
    if (overBudgetError(spec, this.#options.hostMemoryMb)) return;
    // Read once here, never on a run's path; most templates have no env grant and send nothing with their runs.
    const values = spec.permissions.env.length > 0 ? envValuesFor(spec, this.#options.processEnv) : {};
    // limits.byInput compiled here too (its pointer parsed once): a run only evaluates it, on this side, never a host's.
    this.#specs.set(spec.digest, { spec, envValues: Object.keys(values).length > 0 ? values : undefined, limitsFor: compileLimitsFor(spec.limits) });
    for (const host of this.#hosts) if (host?.alive) this.#registerOn(host, spec.digest);
  }

  reserve(spec: AgentSpec): Reservation {
    const digest = spec.digest;
    if (!this.#specs.has(digest)) {
      const refusal = overBudgetError(spec, this.#options.hostMemoryMb);
      if (refusal) throw refusal;
      this.register(spec);
    }
    // Local counts only: the hosts told us earlier how many contexts they hold ready. Among hosts with one ready,
    // one with room in its memory budget now, then the one with fewest runs in flight, then the one chosen least
    // recently: after a run a host spends about a millisecond making the context that replaces it, and the next
    // agent should not queue behind that.
    const charge = runChargeMb(spec.limits);
    let best: Host | undefined;
    let bestFits = false;
    for (const host of this.#hosts) {
      if (host === undefined || !host.alive || host.available(digest) <= 0) continue;
      const fits = this.#fits(host, charge);
      if (
        best === undefined ||
        (fits && !bestFits) ||
        (fits === bestFits && (host.inflight.size < best.inflight.size || (host.inflight.size === best.inflight.size && host.lastChosen < best.lastChosen)))
      ) {
        best = host;
        bestFits = fits;
      }
    }
    if (best) {
      best.claimed.set(digest, (best.claimed.get(digest) ?? 0) + 1);
      best.lastChosen = ++this.#chosenSeq;
    }
    const id = ++this.#reservationSeq;
    this.#reservations.set(id, { digest, host: best });
    return { id, digest };
  }

  async run(reservation: Reservation, input: unknown, options: RunOptions): Promise<SandboxRunResult> {
    const entry = this.#reservations.get(reservation.id);
    if (entry === undefined || this.#closed) return disposedResult('this agent was disposed; create a new one');
    const known = this.#specs.get(entry.digest);
    if (!known) return disposedResult('this agent was disposed; create a new one');
    const encoded = encodeInput(input);
    if (!encoded.ok) return encoded.result;
    if (options.signal?.aborted) return disposedResult('the run was cancelled before it started');
    const limits = known.limitsFor(input, encoded.bytes);

    // Admission by memory budget: a run goes where its charge fits, or waits for room; it never over-commits a host,
    // so runs that respect their limits cannot take another tenant's run down with them.
    const chargeMb = runChargeMb(known.spec.limits);
    const reserved = entry.host;
    this.#unclaim(entry);
    let host = reserved !== undefined && reserved.alive && this.#hosts[reserved.index] === reserved && this.#fits(reserved, chargeMb) ? reserved : undefined;
    host ??= this.#pick(entry.digest, chargeMb);
    if (host) host.committedMb += chargeMb;
    else host = await this.#waitForRoom(entry.digest, chargeMb, known.spec.limits.timeoutMs, options.signal);
    if (!host) {
      if (options.signal?.aborted) return disposedResult('the run was cancelled while waiting for a sandbox host');
      if (!this.#hosts.some((h) => h?.alive)) return { ok: false, error: { code: 'E_SANDBOX_CRASHED', message: 'no sandbox host is running; they keep crashing, see the log' }, stats: emptyStats(0, encoded.bytes, limits) };
      return {
        ok: false,
        error: {
          code: 'E_UNAVAILABLE',
          message: `every sandbox host stayed at its memory budget for limits.timeoutMs (${known.spec.limits.timeoutMs} ms); nothing ran, so it is safe to retry`,
          details: { chargeMb, budgetMb: this.#budgetMb },
        },
        stats: emptyStats(0, encoded.bytes, limits),
      };
    }
    if (!host.registered.has(entry.digest)) this.#registerOn(host, entry.digest);

    const id = ++this.#runSeq;
    const target = host;
    const result = await new Promise<EngineResult>((resolve) => {
      const timer = setTimeout(() => {
        // A host that outlives a run's own watchdog by this much is wedged; it and its runs are lost. The run's own
        // (effective) timeout: a host that ignored the limit it was sent gains no more than the grace.
        target.killReason = { code: 'E_SANDBOX_CRASHED', message: 'the sandbox host stopped answering and was restarted' };
        target.culprit = id;
        target.child.kill('SIGKILL');
      }, limits.timeoutMs + HUNG_GRACE_MS);
      timer.unref();
      const depth = options.depth ?? 0;
      const served = new ServedRun(known.spec, { tenant: options.tenant, env: options.env, depth, recordId: options.recordId, kv: options.kv });
      target.inflight.set(id, { digest: entry.digest, spec: known.spec, served, chargeMb, resolve, timer });
      const message: ToHost = { t: 'run', id, digest: entry.digest, input: encoded.json, tenant: options.tenant, env: options.env, depth };
      if (known.envValues !== undefined) message.envValues = known.envValues;
      if (limits.measure !== undefined) message.limits = limits;
      target.send(message);
      options.signal?.addEventListener(
        'abort',
        () => {
          target.send({ t: 'cancel', id });
          // The host ends the run after ctx.signal's grace, and its pending calls with it (agents see what they saw
          // before); one that does not gets its fetches and spawns stopped here anyway.
          setTimeout(() => served.end(), CANCEL_STOP_MS).unref();
        },
        { once: true },
      );
    });
    return decodeResult(result, encoded.bytes, limits);
  }

  release(reservation: Reservation): void {
    const entry = this.#reservations.get(reservation.id);
    if (!entry) return;
    this.#unclaim(entry);
    this.#reservations.delete(reservation.id);
  }

  stats(): SandboxStats {
    const pools: SandboxStats['pools'] = [];
    for (const digest of this.#specs.keys()) {
      let ready = 0;
      let busy = 0;
      for (const host of this.#hosts) {
        if (!host?.alive) continue;
        ready += Math.max(0, host.available(digest));
        for (const run of host.inflight.values()) if (run.digest === digest) busy++;
      }
      pools.push({ digest, ready, busy });
    }
    return { hosts: this.#hosts.filter((h) => h?.alive).length, pools, restarts: this.#restarts };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#roomWaiters.splice(0)) waiter.resolve(undefined);
    await Promise.all(
      this.#hosts.map(async (host) => {
        if (!host) return;
        host.killReason = { code: 'E_DISPOSED', message: 'the sandbox was closed during the run' };
        if (host.child.exitCode !== null || host.child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => host.child.once('close', () => resolve()));
        host.send({ t: 'close' });
        const timer = setTimeout(() => host.child.kill('SIGKILL'), CLOSE_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  // ---- hosts --------------------------------------------------------------------------------

  #start(index: number): void {
    const plan = hostForkPlan(this.#entry, this.#options.hostMemoryMb, this.#options.lockdown, this.#support);
    // A host forked ahead by a one-shot `af run` (prestarted-host.ts) is adopted only when forked exactly like this.
    const child = adoptPrestartedHost(plan) ?? forkHost(plan);
    const host = new Host(index, child, plan.layers);
    this.#hosts[index] = host;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      host.stderrTail = (host.stderrTail + chunk).slice(-STDERR_TAIL);
      this.#options.logger.debug('sandbox host stderr', { host: index, text: chunk.trimEnd() });
    });
    child.on('message', (message: FromHost) => {
      if (message.t === 'batch') for (const one of message.m) this.#onMessage(host, one);
      else this.#onMessage(host, message);
    });
    child.on('error', (error) => this.#options.logger.warn('sandbox host error', { host: index, message: error.message }));
    child.once('close', (code, signal) => this.#onExit(host, code, signal));
    const settings: HostSettings = {
      maxIsolatesPerPool: this.#options.maxIsolatesPerPool,
      isolateMaxRuns: this.#options.isolateMaxRuns,
      heapProbeEvery: this.#options.heapProbeEvery,
      hostMemoryMb: this.#options.hostMemoryMb,
    };
    // IPC keeps order, so init and registrations precede any run sent later.
    host.send({ t: 'init', settings });
    for (const digest of this.#specs.keys()) this.#registerOn(host, digest);
  }

  #registerOn(host: Host, digest: string): void {
    const known = this.#specs.get(digest);
    if (!known) return;
    host.registered.add(digest);
    host.send({ t: 'register', spec: known.spec, ...(this.#noAhead.has(digest) ? { ahead: false } : {}) });
  }

  #onMessage(host: Host, message: FromHost): void {
    switch (message.t) {
      case 'ready':
        host.started = true;
        this.#admitWaiting();
        break;
      case 'capacity':
        for (const [digest, ready] of Object.entries(message.ready)) host.ready.set(digest, ready);
        break;
      case 'result': {
        const run = host.inflight.get(message.id);
        if (!run) return;
        host.inflight.delete(message.id);
        clearTimeout(run.timer);
        host.committedMb -= run.chargeMb;
        run.served.end();
        run.resolve(withServed(message.result, run.served));
        this.#admitWaiting();
        break;
      }
      case 'svc':
        void this.#serve(host, message.id, message.request);
        break;
      case 'denial': {
        // Only env.get is decided in the host; every other denial is the supervisor's own. The template is the record's.
        const run = typeof message.run === 'number' ? host.inflight.get(message.run) : undefined;
        if (run === undefined || message.permission !== 'env' || typeof message.target !== 'string') break;
        try {
          this.#options.services.onDenial?.({ template: run.spec.name, tenant: run.served.tenant, permission: 'env', target: message.target, grantKey: 'permissions.env' });
        } catch (error) {
          this.#capabilities.onAuditError(error);
        }
        break;
      }
      case 'memory': {
        if (host.killReason) break;
        // The host is not trusted to blame anyone but a run of its own that is still in flight.
        const culprit = typeof message.culprit === 'number' && host.inflight.has(message.culprit) ? message.culprit : undefined;
        host.culprit = culprit;
        host.blameNone = message.noneToBlame === true;
        if (message.fatal === true && typeof message.loading === 'string' && this.#specs.has(message.loading) && !this.#noAhead.has(message.loading)) {
          // Its top-level code took a host down while loading ahead of demand: from now on it loads only inside its
          // own runs, under their limits and blame, on every host (else each host would die of it in turn).
          this.#noAhead.add(message.loading);
          this.#options.logger.warn('sandbox: a template took its host down while loading ahead of demand; it now loads only on demand', { template: this.#specs.get(message.loading)?.spec.name });
          for (const other of this.#hosts) if (other?.alive && other !== host) this.#registerOn(other, message.loading);
        }
        host.killReason =
          message.fatal === true
            ? OOM_REASON
            : {
                code: 'E_MEMORY_LIMIT',
                message: `the sandbox host passed its memory cap (hostMemoryMb ${this.#options.hostMemoryMb} MB, at ${Number(message.rssMb) || 0} MB) and was restarted; WebAssembly and other memory outside limits.memoryMb counts here`,
              };
        host.child.kill('SIGKILL');
        break;
      }
    }
  }

  /**
   * Serves a host's capability tool call (sandbox/capability-tools). The host is not trusted here: the call must
   * name a run in flight on that host, and every check, scope and cap comes from this process's record of the run.
   */
  async #serve(host: Host, id: number, request: ServiceRequest): Promise<void> {
    let reply: ToHost;
    try {
      const run = typeof request?.run === 'number' ? host.inflight.get(request.run) : undefined;
      if (run === undefined) throw new ToolError('E_DISPOSED', 'the run this call belongs to has ended', 'AbortError');
      if (request.op !== 'tool' || typeof request.tool !== 'string' || typeof request.args !== 'string') throw new ToolError('E_INTERNAL', 'unknown service call');
      reply = { t: 'svc-result', id, ok: true, value: await serveTool(run.served, request.tool, request.args, this.#capabilities) };
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown; name?: unknown } | null;
      const denied = error instanceof ToolDenied;
      reply = {
        t: 'svc-result',
        id,
        ok: false,
        error: {
          code: denied ? 'E_PERMISSION_DENIED' : e && typeof e.code === 'string' ? e.code : 'E_INTERNAL',
          message: e && typeof e.message === 'string' ? e.message : String(error),
          name: denied ? 'NotCapable' : e && typeof e.name === 'string' ? e.name : 'Error',
        },
      };
    }
    host.sendNow(reply);
  }

  #onExit(host: Host, code: number | null, signal: NodeJS.Signals | null): void {
    host.alive = false;
    const reason = host.killReason ?? this.#crashReason(host, code, signal);
    // Whom the host's death is blamed on: the run it named, else the only run in flight. When a memory death cannot be
    // pinned on one run, nobody is blamed: each run's own record must not say it ran out of memory when another did.
    const blamed = host.blameNone ? undefined : (host.culprit ?? (host.inflight.size === 1 ? host.inflight.keys().next().value : undefined));
    for (const [id, run] of host.inflight) {
      clearTimeout(run.timer);
      host.inflight.delete(id);
      // Its pending fetches and spawns stop with the host.
      run.served.end();
      const lost = id !== blamed && (blamed !== undefined || host.blameNone || reason.code === 'E_MEMORY_LIMIT');
      const error = lost
        ? {
            code: 'E_SANDBOX_CRASHED' as const,
            message: `the run was lost: another run on its sandbox host took the host down (${reason.code}) and the host was restarted; this run was not at fault, so it is safe to retry`,
            details: { lostTo: 'another run', cause: reason.code, exitCode: code, signal },
          }
        : { code: reason.code, message: reason.message, details: { exitCode: code, signal } };
      run.resolve({ ok: false, error, stats: mergeServed(emptyStats(), run.served) });
    }
    if (this.#closed) return;
    this.#restarts++;
    this.#options.logger.warn('sandbox host exited; restarting it', { host: host.index, code, signal, reason: reason.code });
    // The injected clock (SandboxOptions.clock): the restart window is testable without crashing hosts for 10 s.
    const now = this.#options.clock.monotonic();
    this.#crashTimes.push(now);
    while (this.#crashTimes.length > 0 && (this.#crashTimes[0] ?? 0) < now - RESTART_WINDOW_MS) this.#crashTimes.shift();
    const delay = this.#crashTimes.length > RESTART_BURST ? RESTART_BACKOFF_MS : 0;
    const restart = () => {
      if (!this.#closed && this.#hosts[host.index] === host) this.#start(host.index);
    };
    if (delay === 0) restart();
    else setTimeout(restart, delay).unref();
    this.#admitWaiting();
  }

  #crashReason(host: Host, code: number | null, signal: NodeJS.Signals | null): { code: ErrorCode; message: string } {
    if (/out of memory|out-of-memory|heap limit|Allocation failed/i.test(host.stderrTail)) return OOM_REASON;
    return { code: 'E_SANDBOX_CRASHED', message: `the sandbox host crashed (${signal ?? `exit ${code}`}); the run was lost and the host restarted` };
  }

  #fits(host: Host, chargeMb: number): boolean {
    return host.committedMb + chargeMb <= this.#budgetMb;
  }

  /** A live host with room for `chargeMb`, preferring one with a context ready for `digest`, then the least busy. */
  #pick(digest: string, chargeMb: number): Host | undefined {
    let best: Host | undefined;
    let bestScore = -Infinity;
    for (const host of this.#hosts) {
      if (host === undefined || !host.alive || !this.#fits(host, chargeMb)) continue;
      // Prefer a host with a ready context, then the least busy one.
      const score = Math.min(host.available(digest), 1) * 1000 - host.inflight.size;
      if (score > bestScore) {
        best = host;
        bestScore = score;
      }
    }
    return best;
  }

  /** Waits (up to `timeoutMs`) until a host has room for `chargeMb`; the host comes back with the charge committed. */
  #waitForRoom(digest: string, chargeMb: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<Host | undefined> {
    return new Promise((resolve) => {
      const waiter: RoomWaiter = {
        digest,
        chargeMb,
        resolve: (host) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', leave);
          resolve(host);
        },
      };
      const leave = () => {
        const at = this.#roomWaiters.indexOf(waiter);
        if (at !== -1) this.#roomWaiters.splice(at, 1);
        waiter.resolve(undefined);
        // Whoever queued behind it may fit now.
        this.#admitWaiting();
      };
      const timer = setTimeout(leave, timeoutMs);
      signal?.addEventListener('abort', leave, { once: true });
      this.#roomWaiters.push(waiter);
    });
  }

  /** Hands freed room to waiting runs in arrival order; a run that fits nowhere yet keeps the ones behind it waiting. */
  #admitWaiting(): void {
    while (this.#roomWaiters.length > 0) {
      const waiter = this.#roomWaiters[0] as RoomWaiter;
      const host = this.#pick(waiter.digest, waiter.chargeMb);
      if (!host) return;
      this.#roomWaiters.shift();
      host.committedMb += waiter.chargeMb;
      waiter.resolve(host);
    }
  }

  #unclaim(entry: ReservationEntry): void {
    const host = entry.host;
    if (!host) return;
    entry.host = undefined;
    const n = host.claimed.get(entry.digest) ?? 0;
    if (n > 0) host.claimed.set(entry.digest, n - 1);
  }
}

/** A host's result with the grant use and denials of the run's capability tools taken from the supervisor's record. */
function withServed(result: EngineResult, served: ServedRun): EngineResult {
  // Parsed from the host's message in this process: the object is this process's own, completed in place (one copy
  // less per run); whatever else the host put in it is read by decodeResult as before.
  const own = result !== null && typeof result === 'object' ? result : ({} as EngineResult);
  const stats = own.stats !== null && typeof own.stats === 'object' ? own.stats : emptyStats();
  own.stats = checkedHeapGrowth(mergeServed(stats, served), served.spec.limits.memoryMb);
  return own;
}
