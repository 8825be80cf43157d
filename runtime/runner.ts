/** @module runtime/runner — a runner process's loop: claim queued runs when there are free slots, run them, renew their leases, complete them fenced, and reap for the fleet. */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { Batcher } from '../core/batcher.js';
import { FactoryError } from '../core/errors.js';
import type { KvStore } from '../core/kv.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { RunRecord, RunSink } from '../core/run-record.js';
import type { AgentFactory } from './factory.js';
import type { QueuedRunRequest, QueuedRunResult } from './queued-run.js';
import type { QueueMetrics } from './telemetry/index.js';

/** A run as the queue hands it out (store/postgres/run-queue's ClaimedRun). */
export interface RunnerClaim {
  id: string;
  tenant: string;
  template: string;
  request: unknown;
  fence: number;
  attempts: number;
}

/** What a runner needs from the shared store: the queue, its wake-ups, and writes that join the completion transaction. */
export interface RunnerBackend {
  readonly leaseMs: number;
  claim(owner: string, limit: number): Promise<RunnerClaim[]>;
  renew(owner: string, fences: readonly number[]): Promise<Set<number>>;
  /**
   * Completes runs, each fenced on its own claim, with its record; `effects` (its kv writes) undone alone on
   * `E_CONFLICT`. A run whose transaction failed gets that error as its outcome (nothing of it was applied).
   */
  completeMany(completions: readonly RunnerCompletion[]): Promise<Array<RunnerCompletionOutcome | Error>>;
  release(claim: RunnerClaim, delayMs: number): Promise<boolean>;
  reap(): Promise<{ requeued: number; abandoned: number; ran: boolean }>;
  /** Calls `wake` when runs are queued (a notification; may be missed, so the runner also polls). @returns unsubscribe */
  onQueued(wake: () => void): Promise<() => void>;
  /**
   * A kv for one run whose writes wait for `apply` (inside the completion transaction). `apply` throws `E_CONFLICT`
   * when a key it read changed; `isEmpty` while the run has touched no key.
   */
  openRunKv(): { kv: KvStore; apply(): Promise<void>; readonly isEmpty: boolean };
}

/** A finished run on its way to the store. */
export interface RunnerCompletion {
  claim: RunnerClaim;
  result: QueuedRunResult;
  effects?: () => Promise<void>;
  record?: RunRecord;
}

export type RunnerCompletionOutcome = 'completed' | 'fenced' | 'conflict';

export interface RunnerOptions {
  /** The factory that runs agents; its run sink must be `records` (so a queued run's record is held for its completion). */
  factory: AgentFactory;
  records: QueuedRecordSink;
  backend: RunnerBackend;
  /** Runs at once. @default the number of CPU cores */
  concurrency?: number;
  /** This runner's name in leases. @default host:pid:random */
  owner?: string;
  /**
   * Claim even without a wake-up this often: the safety net for lost notifications, which are lost only while the
   * LISTEN connection is down (its return triggers a claim at once). @default 2000
   */
  pollMs?: number;
  /** Try a reaper pass this often (one process in the fleet does it at a time). @default half the lease, at most 1 s */
  reapEveryMs?: number;
  logger?: Logger;
  /** Told when a claimed run starts (benchmarks measure dispatch latency with it). */
  onStart?(claim: RunnerClaim): void;
  /**
   * Environments a queued run may name besides the factory's own. The queue is only as trusted as the database, so a
   * runner decides for itself: a run naming another environment ends with `E_FORBIDDEN` and is not run (a dev
   * environment would run unsigned code). @default none
   */
  allowEnvironments?: readonly string[];
  /** Where claim latency, outcomes, lost leases and the reaper's work are counted (runtime/telemetry/queue-metrics). */
  metrics?: QueueMetrics;
}

export interface RunnerStats {
  claimed: number;
  completed: number;
  /** Completions refused because the lease had been lost (another runner owns the run now). */
  fenced: number;
  /** Runs given back because a kv key they read changed before they completed (they run again). */
  conflicts: number;
  /** Completions that failed (the database was unreachable): the run's lease expires and it runs again. */
  failedCompletions: number;
  /** Leases lost while running (the run was cancelled; its completion will be fenced). */
  leasesLost: number;
  inFlight: number;
}

/**
 * The record sink of a runner's factory: a queued run's record is held for its completion (so it is written in the
 * same transaction that removes the run from the queue, exactly once); every other record (runs it spawns) goes on to
 * the store's batched writer.
 */
export class QueuedRecordSink implements RunSink {
  readonly #base: RunSink;
  readonly #held = new Map<string, RunRecord | undefined>();

  constructor(base: RunSink) {
    this.#base = base;
  }

  expect(id: string): void {
    this.#held.set(id, undefined);
  }

  /** The record of an expected run, once; forgets the run. */
  take(id: string): RunRecord | undefined {
    const record = this.#held.get(id);
    this.#held.delete(id);
    return record;
  }

  write(record: RunRecord): void {
    if (this.#held.has(record.id)) this.#held.set(record.id, record);
    else this.#base.write(record);
  }

  flush(): Promise<void> {
    return this.#base.flush();
  }

  close(): Promise<void> {
    return this.#base.close();
  }
}

/** Runs completed in one transaction at most. */
const MAX_COMPLETION_GROUP = 64;

/** The first wait before a completion the database failed is tried again; each next wait is twice as long. */
const COMPLETION_RETRY_MS = 200;

/** Retried conflicts wait a little, spread out, so runs contending for one key do not collide again at once. */
const CONFLICT_BACKOFF_MS = 5;

/**
 * Claims runs while it has free slots: when woken by a notification, when a run finishes, and every `pollMs`. A
 * claim's lease is renewed for all held runs in one statement every third of the lease; a run whose lease is lost is
 * cancelled (another runner has it now, and its completion here would be fenced anyway).
 */
export class Runner {
  readonly owner: string;
  readonly #factory: AgentFactory;
  readonly #records: QueuedRecordSink;
  readonly #backend: RunnerBackend;
  readonly #concurrency: number;
  readonly #pollMs: number;
  readonly #reapEveryMs: number;
  readonly #logger: Logger;
  readonly #onStart: ((claim: RunnerClaim) => void) | undefined;
  readonly #environments: ReadonlySet<string>;
  readonly #metrics: QueueMetrics | undefined;
  /** Runs this runner holds a lease on: running, or run and waiting for their completion to commit. */
  readonly #held = new Map<number, { claim: RunnerClaim; lost: AbortController; done: Promise<void> }>();
  /** Of those, the runs whose agent is running: what `concurrency` bounds. */
  #running = 0;
  readonly #stats: Omit<RunnerStats, 'inFlight'> = { claimed: 0, completed: 0, fenced: 0, conflicts: 0, failedCompletions: 0, leasesLost: 0 };
  readonly #timers: NodeJS.Timeout[] = [];
  /** Finished runs are completed a group at a time: while one group commits, the next gathers (core/batcher). */
  readonly #completions = new Batcher<RunnerCompletion, RunnerCompletionOutcome>((group) => this.#completeGroup(group), { maxBatch: MAX_COMPLETION_GROUP });
  #unsubscribe: (() => void) | undefined;
  #isPumping = false;
  #pumpAgain = false;
  #isRenewing = false;
  #isStopping = false;
  #lastClaimError = '';

  constructor(options: RunnerOptions) {
    this.#factory = options.factory;
    this.#records = options.records;
    this.#backend = options.backend;
    this.#concurrency = Math.max(1, options.concurrency ?? os.availableParallelism());
    this.#pollMs = options.pollMs ?? 2_000;
    // An expired lease is found within half a lease (at most a second) of expiring, so a dead runner's runs run
    // elsewhere within about a lease and a second of its death; a pass is one transaction (less when another holds it).
    this.#reapEveryMs = options.reapEveryMs ?? Math.max(250, Math.min(1_000, Math.floor(options.backend.leaseMs / 2)));
    this.#logger = options.logger ?? silentLogger;
    this.#onStart = options.onStart;
    this.#environments = new Set([options.factory.config.env, ...(options.allowEnvironments ?? [])]);
    this.#metrics = options.metrics;
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  get stats(): RunnerStats {
    return { ...this.#stats, inFlight: this.#held.size };
  }

  /** Subscribes to wake-ups, starts the timers and claims what is waiting. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#backend.onQueued(() => this.#pump());
    const every = (ms: number, work: () => void) => {
      const timer = setInterval(work, ms);
      this.#timers.push(timer);
    };
    every(this.#pollMs, () => this.#pump());
    every(Math.max(50, Math.floor(this.#backend.leaseMs / 3)), () => void this.#renew());
    every(this.#reapEveryMs, () => void this.#reap());
    this.#pump();
  }

  /**
   * Stops claiming and waits for the runs in flight to complete (up to `graceMs`; those still running then are left to
   * their leases, and another runner takes them).
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.#isStopping = true;
    this.#unsubscribe?.();
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    const renewals = setInterval(() => void this.#renew(), Math.max(50, Math.floor(this.#backend.leaseMs / 3)));
    try {
      await Promise.race([Promise.allSettled([...this.#held.values()].map((entry) => entry.done)), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    } finally {
      clearInterval(renewals);
    }
  }

  #pump(): void {
    if (this.#isStopping) return;
    if (this.#isPumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#isPumping = true;
    void (async () => {
      try {
        do {
          this.#pumpAgain = false;
          // A slot is free once its agent returned: its completion commits meanwhile, so a slow commit does not idle
          // the slot. Completions waiting are bounded too (as many again), so a database that stalls stops the claims.
          const free = Math.min(this.#concurrency - this.#running, 2 * this.#concurrency - this.#held.size);
          if (free <= 0 || this.#isStopping) break;
          let claims: RunnerClaim[];
          try {
            const started = performance.now();
            claims = await this.#backend.claim(this.owner, free);
            this.#metrics?.claimed(performance.now() - started);
            this.#lastClaimError = '';
          } catch (error) {
            // The database is unreachable: say so once, and let the poll try again.
            const message = (error as Error).message;
            if (message !== this.#lastClaimError) this.#logger.warn(`runner ${this.owner}: cannot claim runs: ${message}`);
            this.#lastClaimError = message;
            break;
          }
          this.#stats.claimed += claims.length;
          for (const claim of claims) this.#start(claim);
          // A full batch may have left more behind.
          if (claims.length === free) this.#pumpAgain = true;
        } while (this.#pumpAgain && !this.#isStopping);
      } finally {
        this.#isPumping = false;
      }
    })();
  }

  #start(claim: RunnerClaim): void {
    const lost = new AbortController();
    const entry = { claim, lost, done: Promise.resolve() };
    this.#held.set(claim.fence, entry);
    this.#running++;
    let isRunning = true;
    const agentReturned = () => {
      if (!isRunning) return;
      isRunning = false;
      this.#running--;
      this.#pump();
    };
    entry.done = this.#execute(claim, lost.signal, agentReturned).finally(() => {
      agentReturned();
      this.#held.delete(claim.fence);
      this.#pump();
    });
  }

  async #execute(claim: RunnerClaim, lost: AbortSignal, agentReturned: () => void): Promise<void> {
    this.#onStart?.(claim);
    const request = parseRequest(claim);
    const runKv = this.#backend.openRunKv();
    this.#records.expect(claim.id);
    let result: QueuedRunResult;
    try {
      if (request.env !== undefined && !this.#environments.has(request.env)) {
        throw new FactoryError('E_FORBIDDEN', `runner ${this.owner} runs environment ${[...this.#environments].join(', ')}, not ${request.env}; start runners with --allow-env ${request.env} to run it`);
      }
      const report = await this.#factory.runSettled(request.template, request.input, {
        tenant: request.tenant,
        ...(request.env !== undefined ? { env: request.env } : {}),
        ...(request.version !== undefined ? { version: request.version } : {}),
        runId: claim.id,
        kv: runKv.kv,
        signal: lost,
      });
      result = report;
    } catch (error) {
      // It could not start (unknown template, refused by the trust gate): an outcome, reported like a failed run.
      const failure = error instanceof FactoryError ? error : new FactoryError('E_INTERNAL', (error as Error).message, { cause: error });
      result = { ok: false, notRun: true, runId: claim.id, error: { code: failure.code, message: failure.message, ...(failure.problems.length > 0 ? { problems: failure.problems } : {}) } };
    }
    const record = this.#records.take(claim.id);
    agentReturned();
    const completion: RunnerCompletion = { claim, result, ...(runKv.isEmpty ? {} : { effects: () => runKv.apply() }), ...(record ? { record } : {}) };
    let outcome = await this.#complete(completion);
    // The database could not be reached (a restart, a failover): the claim is most likely still this runner's (its
    // lease is renewed meanwhile), so the completion is tried again, within the lease, rather than leaving the run
    // to expire and run again. A retry after a commit whose answer was lost finds the run gone and is fenced:
    // nothing is applied twice.
    const giveUpAt = performance.now() + this.#backend.leaseMs;
    for (let wait = COMPLETION_RETRY_MS; outcome instanceof Error && !lost.aborted && !this.#isStopping && performance.now() + wait < giveUpAt; wait *= 2) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      outcome = await this.#complete(completion);
    }
    if (outcome === 'completed') this.#stats.completed++;
    else if (outcome === 'fenced') this.#stats.fenced++;
    else if (outcome === 'conflict') this.#stats.conflicts++;
    else this.#stats.failedCompletions++;
    this.#metrics?.finished(outcome instanceof Error ? 'failed' : outcome);
    if (outcome === 'conflict') await this.#backend.release(claim, Math.floor(Math.random() * CONFLICT_BACKOFF_MS)).catch(() => {});
    if (outcome instanceof Error) this.#logger.warn(`runner ${this.owner}: run ${claim.id} ran but could not be completed (${outcome.message}); it runs again when its lease expires`);
  }

  /** A run's completion, with its group: an outcome, or the error that kept it from completing. */
  #complete(completion: RunnerCompletion): Promise<RunnerCompletionOutcome | Error> {
    return this.#completions.submit(completion).catch((error: unknown) => error as Error);
  }

  /**
   * Completes one group: under load each commit (and its flush, and the run-insert lock) serves many runs. Two groups
   * can lock the same kv rows in opposite orders; the database then aborts one (a deadlock), and its runs are
   * completed one by one instead of waiting for their leases to expire.
   */
  async #completeGroup(group: RunnerCompletion[]): Promise<Array<RunnerCompletionOutcome | Error>> {
    let outcomes: Array<RunnerCompletionOutcome | Error>;
    try {
      outcomes = await this.#backend.completeMany(group);
    } catch (error) {
      outcomes = group.map(() => error as Error);
    }
    if (group.length > 1) {
      for (const [index, outcome] of outcomes.entries()) {
        if (isTransient(outcome)) outcomes[index] = await this.#completeAlone(group[index] as RunnerCompletion);
      }
    }
    return outcomes;
  }

  async #completeAlone(item: RunnerCompletion): Promise<RunnerCompletionOutcome | Error> {
    try {
      return (await this.#backend.completeMany([item]))[0] ?? new Error('no outcome');
    } catch (error) {
      return error as Error;
    }
  }

  async #renew(): Promise<void> {
    // One renewal at a time: a slow one must not be joined by another every tick, filling the pool.
    if (this.#held.size === 0 || this.#isRenewing) return;
    this.#isRenewing = true;
    const fences = [...this.#held.keys()];
    let kept: Set<number>;
    try {
      kept = await this.#backend.renew(this.owner, fences);
    } catch {
      // Unreachable for now: the next renewal tries again; the leases may lapse, and completions are fenced then.
      return;
    } finally {
      this.#isRenewing = false;
    }
    for (const fence of fences) {
      const entry = this.#held.get(fence);
      if (!entry || kept.has(fence) || entry.lost.signal.aborted) continue;
      this.#stats.leasesLost++;
      this.#metrics?.leaseLost();
      entry.lost.abort();
    }
  }

  async #reap(): Promise<void> {
    try {
      const report = await this.#backend.reap();
      this.#metrics?.reaped(report.requeued, report.abandoned);
      if (report.requeued + report.abandoned > 0) this.#logger.info(`reaper: ${report.requeued} runs whose runner stopped were queued again, ${report.abandoned} ended after too many attempts`);
    } catch {
      // The next pass tries again.
    }
  }
}

function parseRequest(claim: RunnerClaim): QueuedRunRequest {
  const request = claim.request as Partial<QueuedRunRequest> | null;
  // The queue row says whose run it is; the request's copy must agree (the row is what the claim matched on).
  return {
    template: claim.template,
    tenant: claim.tenant,
    input: request?.input ?? null,
    ...(typeof request?.env === 'string' ? { env: request.env } : {}),
    ...(typeof request?.version === 'string' ? { version: request.version } : {}),
  };
}

/** A deadlock or serialization failure (SQLSTATE 40P01, 40001): the transaction was aborted, and trying again can work. */
function isTransient(error: unknown): boolean {
  const sqlState = (error as { details?: { sqlState?: unknown } }).details?.sqlState;
  return sqlState === '40P01' || sqlState === '40001';
}
