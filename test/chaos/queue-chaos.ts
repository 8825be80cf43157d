// The run queue under faults, as real processes: one `af serve`, four `af runner`, one PostgreSQL server of its own.
// An open-loop load of runs that each increment one kv counter; meanwhile one runner is killed with SIGKILL (and
// restarted 5 s later), another is stopped with SIGSTOP for longer than its lease, and PostgreSQL restarts once.
// Every request's outcome is recorded as Jepsen does (ok / failed / unknown), and the store is checked afterwards; the
// killed runner's runs (its orphans) are timed from the kill to the commit that completed each of them elsewhere.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { RunnerStats } from '../../runtime/index.js';
import { PostgresStore } from '../../store/postgres/postgres-store.js';
import { runAf } from '../helpers/cli.js';
import { type PostgresServer, startPostgresServer } from '../helpers/postgres-server.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const AF = path.resolve(import.meta.dirname, '../../bin/af.js');
// One counter, or several (a key per shard, chosen by the caller): one hot key serialises every run through
// compare-and-set conflicts (each one run again), which bounds the throughput far below the load's rate.
const COUNTER = `export default async (input, ctx) => {
  const key = 'n' + (input?.shard ?? 0);
  const n = ((await ctx.kv.get(key)) ?? 0) + 1;
  await ctx.kv.set(key, n);
  return { n, key };
};
`;
const TENANT = 'acme';
const RUNNERS = 4;
const RESTART_KILLED_AFTER_MS = 5_000;
/** How long a process may take to stop after SIGTERM (a runner finishes the runs in hand first). */
const EXIT_WAIT_MS = 30_000;

export interface ChaosOptions {
  runs: number;
  perSecond: number;
  /** Runs each runner takes at once. @default 4 */
  concurrency?: number;
  /** How long to wait for the queue to drain after the last answer. @default 120_000 */
  drainMs?: number;
  log?: (line: string) => void;
  /** Counters the runs spread over (run i increments counter i mod shards). @default 1 */
  shards?: number;
  /** Off: the same load without the faults (to compare). @default true */
  faults?: boolean;
  /**
   * The runners' lease (`af runner --lease-ms`); they renew it every third of it and try a reaper pass every half of
   * it, so a killed runner's runs go back on the queue within 1.5 leases of its death, at the front (see `killed`).
   * Not shorter: a runner whose event loop stalls for two thirds of a lease (a 2-core machine shared with other work
   * does that, at 1 s) loses its leases, and a run whose three attempts all lose theirs is ended unrun. @default 2000
   */
  leaseMs?: number;
}

/** The 50th percentile and the largest of some durations, in ms. */
export interface Spread {
  p50: number;
  max: number;
}

/** A request's outcome: `unknown` when the run may or may not have happened (no answer, a 5xx, a wait that timed out). */
export type Outcome =
  | { kind: 'ok'; runId: string; key: string; n: number; latencyMs: number }
  | { kind: 'failed'; status: number; code: string; runId?: string }
  | { kind: 'unknown'; reason: string; sentMs: number; answeredMs: number };

/** What a runner printed when it stopped (`af runner --json`: its stats without inFlight), and which it was. */
export type RunnerCounts = Omit<RunnerStats, 'inFlight'> & { runner: string };

export interface ChaosReport {
  runs: number;
  perSecond: number;
  durationMs: number;
  loadMs: number;
  drainMs: number;
  ok: number;
  failed: number;
  unknown: number;
  failedCodes: Record<string, number>;
  unknownReasons: Record<string, number>;
  /** When the unknowns were sent and answered, in ms from the start of the load. */
  okLatencyMs: { p50: number; p99: number; max: number };
  unknownWindow: { firstSentMs: number; lastSentMs: number; firstAnsweredMs: number; lastAnsweredMs: number } | null;
  /** When PostgreSQL was stopped and running again, in ms from the start of the load. */
  postgresDownMs: [number, number];
  /** Run records in the store, and how many of them are `ok`. */
  records: number;
  okRecords: number;
  /** Records whose run was answered `ok`. */
  recordsOfOk: number;
  /** No two ok answers name one run. */
  okRunIdsDistinct: boolean;
  /** Records of runs whose caller got no definite answer (they ran after all). */
  unknownsThatRan: number;
  /**
   * Runs the queue ended without a record (`E_SANDBOX_CRASHED`: every attempt's runner stopped or lost its lease) whose
   * result no caller read (those callers had stopped waiting: unknowns).
   */
  endedUnrunUnread: number;
  duplicateRecordIds: number;
  counter: number;
  okValuesDistinct: boolean;
  /** The most an ok answer's value exceeds its counter's final value (≤ 0 when all is well). */
  okValuesOverCounter: number;
  counters: Record<string, number>;
  depth: { queued: number; running: number };
  audit: { ok: boolean; entries: number; problem?: string };
  runners: RunnerCounts[];
  /** Runners that exited non-zero on SIGTERM at the end (their stderr's last lines). */
  runnerExitProblems: string[];
  /** What the killed runner left: see {@link KilledReport}. */
  killed: KilledReport;
  stopped: { runner: string; heldAtStop: number };
  postgresRestartMs: number;
  events: string[];
}

/**
 * The killed runner's orphans: the runs it held a lease on when it died (the queue rows it owned once its database
 * connections were gone, so no statement of its could still commit), less those whose completion it had already sent
 * (their record's attempt started before the kill). Timed from the kill (the runner's SIGSTOP, which precedes its SIGKILL
 * by the few ms it takes to see that it holds runs) to the commit that completed each one elsewhere, by PostgreSQL's
 * commit timestamps (`track_commit_timestamp`: exact, whatever the harness's own lag); `startMs` to the start of the
 * attempt that completed it (the runners' clock: the same machine's).
 */
export interface KilledReport {
  runner: string;
  leaseMs: number;
  orphans: number;
  /** Orphans with a record (completed by another runner). */
  finished: number;
  /** Runs it held whose completion it had sent before it died (not orphans). */
  finishedByItself: number;
  /** Orphans the reaper ended without running them again (`E_SANDBOX_CRASHED`: their attempts had run out). */
  endedUnrun: number;
  finishMs: Spread | null;
  startMs: Spread | null;
  /**
   * To its first claim by another runner, as the harness saw it (polling: ≥ the true time, by the harness's lag), or
   * to the start of the attempt that completed it if that came first.
   */
  reclaimMs: Spread | null;
  /** When, after the kill, its connections were gone and its orphans were read from the queue. */
  readAfterMs: number;
}

interface Started {
  name: string;
  /** Its database connections' application_name. */
  appName: string;
  child: ChildProcess;
  firstLine: Promise<Record<string, unknown>>;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  signal: () => NodeJS.Signals | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export async function runQueueChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const began = Date.now();
  const events: string[] = [];
  const event = (what: string) => {
    const line = `+${((Date.now() - began) / 1000).toFixed(2)}s ${what}`;
    events.push(line);
    log(line);
  };
  const leaseMs = options.leaseMs ?? 2_000;
  // Longer than the lease and a reaper pass after it, so the stopped runner's runs are taken by others.
  const stopMs = 3 * leaseMs;
  // Commit timestamps: when each orphan's completion committed, by the server's clock.
  const server: PostgresServer = await startPostgresServer({ durable: true, settings: { track_commit_timestamp: 'on' } });
  const project: TempProject = createProject(simpleTemplate('counter', { permissions: { kv: true } }, COUNTER));
  const children: ChildProcess[] = [];
  let watcher: pg.Client | undefined;
  try {
    const url = await server.createDatabase('af_chaos');
    // Many clients, one key each: a key's rate limit (600 requests a minute for an operator) is not what is tested.
    const apiKeys: string[] = [];
    const keyCount = Math.max(1, Math.ceil((options.perSecond * 60) / 500));
    for (let i = 0; i < keyCount; i++) {
      const created = await runAf(project.root, ['--store', url, 'keys', 'api', 'create', '--tenant', TENANT, '--role', 'operator', '--json']);
      if (created.status !== 0) throw new Error(`af keys api create failed:\n${created.stderr}`);
      apiKeys.push((JSON.parse(created.stdout) as { key: string }).key);
    }

    // Each process names its database connections (application_name), so that the harness can tell when a killed
    // runner's are gone.
    let started = 0;
    const start = (args: string[]): Started => {
      const appName = `af-chaos-${args[0]}-${++started}`;
      const child = spawn(process.execPath, [AF, '--store', url, ...args, '--json'], {
        cwd: project.root,
        env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', AF_LOG_LEVEL: 'warn', PGAPPNAME: appName },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stdout = '';
      let stderr = '';
      let exitSignal: NodeJS.Signals | null = null;
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        // Only the end matters, for a report.
        stderr = (stderr + chunk).slice(-4_000);
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => {
        exitSignal = signal;
        resolve(code);
      }));
      const firstLine = new Promise<Record<string, unknown>>((resolve, reject) => {
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          const line = stdout.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line) as Record<string, unknown>);
        });
        void exited.then(() => reject(new Error(`af ${args[0]} exited before it was ready:\n${stderr}`)));
      });
      const handle: Started = { name: '', appName, child, firstLine, stdout: () => stdout, stderr: () => stderr, exited, signal: () => exitSignal };
      void firstLine.then((line) => (handle.name = String(line.runner ?? args[0])), () => {});
      return handle;
    };
    const runnerArgs = ['runner', '--concurrency', String(options.concurrency ?? 4), '--lease-ms', String(leaseMs)];
    const runners = Array.from({ length: RUNNERS }, () => start(runnerArgs));
    const api = start(['serve', '--port', '0', '--quiet']);
    await Promise.all(runners.map((runner) => runner.firstLine));
    const { url: apiUrl } = (await api.firstLine) as { url: string };
    event(`serve at ${apiUrl}; runners ${runners.map((r) => r.name).join(', ')}`);

    watcher = new pg.Client({ connectionString: url });
    // The watcher's connection drops with the PostgreSQL restart: it reconnects.
    watcher.on('error', () => {});
    await watcher.connect();
    let watcherClient = watcher;
    const watchProblems = new Set<string>();
    const watch = async <T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<T[] | undefined> => {
      try {
        return (await watcherClient.query<T>(text, values)).rows;
      } catch (error) {
        // Said once per kind (PostgreSQL is restarted once: its connection drops then).
        const message = (error as Error).message;
        if (!watchProblems.has(message)) log(`watcher: ${message}`);
        watchProblems.add(message);
        const next = new pg.Client({ connectionString: url });
        next.on('error', () => {});
        try {
          await next.connect();
          void watcherClient.end().catch(() => {});
          watcherClient = next;
          watcher = next;
        } catch {
          void next.end().catch(() => {});
        }
        return undefined;
      }
    };

    // The load: open loop, one request every 1/perSecond s whatever the answers do.
    const shards = options.shards ?? 1;
    const outcomes: Outcome[] = new Array(options.runs);
    const request = async (i: number): Promise<void> => {
      const sentMs = Date.now() - loadStart;
      const unknown = (reason: string): Outcome => ({ kind: 'unknown', reason, sentMs, answeredMs: Date.now() - loadStart });
      try {
        const response = await fetch(`${apiUrl}/v1/agents/counter/runs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKeys[i % apiKeys.length]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ input: { shard: i % shards } }),
          // The server waits 30 s for a runner; past that it answers E_TIMEOUT.
          signal: AbortSignal.timeout(60_000),
        });
        const text = await response.text();
        let body: { runId?: string; output?: { n?: number; key?: string }; error?: { code?: string; message?: string } } = {};
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          // Not JSON: a proxy's or a dying server's answer; the status decides.
        }
        const code = body.error?.code ?? '';
        if (response.status === 200 && typeof body.runId === 'string' && typeof body.output?.n === 'number' && typeof body.output.key === 'string') {
          outcomes[i] = { kind: 'ok', runId: body.runId, n: body.output.n, key: body.output.key, latencyMs: Date.now() - loadStart - sentMs };
        } else if (response.status >= 500 && code !== 'E_SANDBOX_CRASHED') {
          // The store was unreachable, or the server was: the run may have been queued, and may run.
          outcomes[i] = unknown(`${response.status} ${code} ${(body.error?.message ?? '').replace(/^.*? failed: /, '').replace(/[0-9.:]+/g, '#').slice(0, 60)}`.trim());
        } else if (code === 'E_TIMEOUT' && body.runId === undefined) {
          // No runner finished it in time: queued, and it may still run.
          outcomes[i] = unknown('wait timed out');
        } else {
          // A definite answer: 429 (not queued), E_SANDBOX_CRASHED (the queue gave up on it: it will not run), or the
          // run's own failure (with its runId).
          outcomes[i] = { kind: 'failed', status: response.status, code, ...(body.runId !== undefined ? { runId: body.runId } : {}) };
        }
      } catch (error) {
        outcomes[i] = unknown((error as Error).name === 'TimeoutError' ? 'client timeout' : `network: ${(error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message}`);
      }
    };
    const loadMs = (options.runs / options.perSecond) * 1_000;
    const loadStart = Date.now();
    const inFlight: Promise<void>[] = [];
    const load = (async () => {
      let sent = 0;
      while (sent < options.runs) {
        const due = Math.min(options.runs, Math.floor(((Date.now() - loadStart) * options.perSecond) / 1_000) + 1);
        for (; sent < due; sent++) inFlight.push(request(sent));
        await sleep(5);
      }
      event(`load: ${options.runs} requests sent`);
      await Promise.all(inFlight);
      event('load: every request answered');
    })();

    /** The runs `runner` holds, once it holds any (or after 5 s). */
    const holding = async (runner: string): Promise<Array<{ id: string }>> => {
      const since = Date.now();
      for (;;) {
        const rows = (await watch<{ id: string }>("SELECT id FROM run_queue WHERE lease_owner = $1 AND state = 'running'", [runner])) ?? [];
        if (rows.length > 0 || Date.now() - since > 5_000) return rows;
        await sleep(5);
      }
    };

    // The faults, at fixed points of the load.
    const at = (fraction: number) => sleep(Math.max(0, loadStart + fraction * loadMs - Date.now()));
    let killedReport: KilledReport = { runner: '', leaseMs, orphans: 0, finished: 0, finishedByItself: 0, endedUnrun: 0, finishMs: null, startMs: null, reclaimMs: null, readAfterMs: 0 };
    const faults = options.faults ?? true;
    // One fault after another (each at its point of the load, or when the one before it is over), so that what is
    // measured of one (the killed runner's orphans) is not the downtime of another (PostgreSQL's restart).
    let orphansCounted = () => {};
    const afterKill = new Promise<void>((resolve) => (orphansCounted = resolve));
    // Set once the queue has drained: the orphans are followed until then if need be (a last look, then the report).
    let isDrained = false;
    const kill = (async () => {
      if (!faults) return;
      await at(0.2);
      const victim = runners[0] as Started;
      // Killed at a moment it holds runs, so that there are orphans: frozen first (SIGSTOP: it sends nothing more), and
      // killed if the queue says it still holds some (else let go and tried again).
      let held: string[] = [];
      let killedAt = 0;
      for (const since = Date.now(); ; ) {
        // Running until the queue says it holds runs; then frozen, and asked again.
        await holding(victim.name);
        victim.child.kill('SIGSTOP');
        killedAt = Date.now();
        held = ((await watch<{ id: string }>("SELECT id FROM run_queue WHERE lease_owner = $1 AND state = 'running'", [victim.name])) ?? []).map((row) => row.id);
        if (held.length > 0 || Date.now() - since > 5_000) break;
        victim.child.kill('SIGCONT');
        await sleep(5);
      }
      victim.child.kill('SIGKILL');
      await victim.exited;
      event(`SIGKILL ${victim.name} (stopped ${Date.now() - killedAt} ms ago), holding ${held.length} runs`);
      const restart = (async () => {
        await sleep(RESTART_KILLED_AFTER_MS);
        // As a supervisor would: a runner that cannot reach the store at start exits, and is started again.
        for (let attempt = 1; ; attempt++) {
          const replacement = start(runnerArgs);
          const ready = await replacement.firstLine.then((line) => typeof line.runner === 'string', () => false);
          if (ready) {
            runners[0] = replacement;
            event(`restarted the killed runner as ${replacement.name}${attempt > 1 ? ` (start ${attempt})` : ''}`);
            break;
          }
          replacement.child.kill('SIGKILL');
          await replacement.exited;
          event(`restarting the killed runner: start ${attempt} failed (${replacement.stdout().trim().slice(0, 200)})`);
          await sleep(500);
        }
      })();
      // Once the server has ended its sessions (it sees their sockets close), no statement of the dead runner can
      // commit any more: the queue rows it still owns are what it held when it died (with those seen at the SIGSTOP, in
      // case a lease already expired and the reaper put one back). Runs it held whose completion it had sent commit
      // with a record whose attempt started before the kill: they are told apart below.
      for (const since = Date.now(); Date.now() - since < 5_000; await sleep(5)) {
        const sessions = await watch<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [victim.appName]);
        if (sessions?.[0]?.n === 0) break;
      }
      const owned = (await watch<{ id: string }>('SELECT id FROM run_queue WHERE lease_owner = $1', [victim.name])) ?? [];
      const readAfterMs = Date.now() - killedAt;
      event(`its sessions ended; it owned ${owned.length} queue rows (${readAfterMs} ms after the kill)`);
      const ids = [...new Set([...held, ...owned.map((row) => row.id)])];
      // Each one's record (from the attempt that completed it) and when that completion committed; or its end without a
      // record: gone from the queue with no record is a run the reaper gave up on (E_SANDBOX_CRASHED after its
      // attempts ran out: runners that lost their leases on a starved machine, then this one's death). One snapshot for
      // both tables: the completion removes the queue row and writes the record in one transaction.
      type Finish = { id: string; started_at: string | null; committed_at: number | null; queued: boolean; state: string | null; attempts: number | null; lease_owner: string | null };
      // What happens to each meanwhile (queued again, claimed by whom, which attempt), for the events.
      const seen = new Map<string, string>();
      // When each was first seen in another runner's hands (or recorded), from the kill: the part the lease and the
      // reaper bound; what follows is its run and completion, and any conflicts that sent it back to the queue.
      const reclaimed = new Map<string, number>();
      const finishes = new Map<string, Finish>();
      let unrun = 0;
      // The next fault waits for them, or for a minute at most.
      const patience = setTimeout(orphansCounted, 60_000);
      for (let pending = ids; pending.length > 0; ) {
        const isLastLook = isDrained;
        const rows = await watch<Finish>(
          `SELECT ids.id, r.started_at, (extract(epoch FROM pg_xact_commit_timestamp(r.xmin)) * 1000)::float8 AS committed_at, q.id IS NOT NULL AS queued, q.state, q.attempts, q.lease_owner
           FROM unnest($1::text[]) AS ids (id) LEFT JOIN runs r ON r.id = ids.id LEFT JOIN run_queue q ON q.id = ids.id`,
          [pending],
        );
        for (const row of rows ?? []) {
          const now = row.started_at !== null ? 'recorded' : row.queued ? `${row.state} attempts=${row.attempts} ${row.lease_owner ?? ''}`.trim() : 'gone';
          if (seen.get(row.id) !== now) event(`orphan ${row.id}: ${now} (+${Date.now() - killedAt} ms)`);
          if (!reclaimed.has(row.id) && row.started_at !== null) reclaimed.set(row.id, Number(row.started_at) - killedAt);
          else if (!reclaimed.has(row.id) && row.lease_owner !== null && row.lease_owner !== victim.name) reclaimed.set(row.id, Date.now() - killedAt);
          seen.set(row.id, now);
          if (row.started_at !== null) finishes.set(row.id, row);
          else if (!row.queued) unrun++;
        }
        pending = rows ? rows.filter((row) => row.started_at === null && row.queued).map((row) => row.id) : pending;
        if (isLastLook) break;
        if (pending.length > 0) await sleep(25);
      }
      clearTimeout(patience);
      const byItself = [...finishes.values()].filter((row) => Number(row.started_at) < killedAt);
      const byOthers = [...finishes.values()].filter((row) => Number(row.started_at) >= killedAt);
      const spread = (values: number[]): Spread | null => {
        if (values.length === 0) return null;
        const sorted = [...values].sort((x, y) => x - y);
        return { p50: Math.round(sorted[Math.floor((sorted.length - 1) / 2)] as number), max: Math.round(sorted[sorted.length - 1] as number) };
      };
      killedReport = {
        runner: victim.name,
        leaseMs,
        orphans: ids.length - byItself.length,
        finished: byOthers.length,
        finishedByItself: byItself.length,
        endedUnrun: unrun,
        finishMs: spread(byOthers.map((row) => Number(row.committed_at) - killedAt)),
        startMs: spread(byOthers.map((row) => Number(row.started_at) - killedAt)),
        reclaimMs: spread(byOthers.map((row) => reclaimed.get(row.id) ?? Number(row.started_at) - killedAt)),
        readAfterMs,
      };
      event(`orphans of ${victim.name}: ${killedReport.finished}/${killedReport.orphans} finished by others, ${JSON.stringify(killedReport.finishMs)} ms after the kill, first claimed again ${JSON.stringify(killedReport.reclaimMs)} ms after it (${unrun} ended unrun; ${byItself.length} more completed by itself)`);
      orphansCounted();
      await restart;
    })();
    // Awaited after the drain; a failure before then is not unhandled meanwhile.
    kill.catch(() => {});
    let stoppedReport: ChaosReport['stopped'] = { runner: '', heldAtStop: 0 };
    const pause: Promise<void> = (async () => {
      if (!faults) return;
      await at(0.4);
      await afterKill;
      const paused = runners[1] as Started;
      const held = await holding(paused.name);
      paused.child.kill('SIGSTOP');
      stoppedReport = { runner: paused.name, heldAtStop: held.length };
      event(`SIGSTOP ${paused.name}, holding ${held.length} runs`);
      await sleep(stopMs);
      paused.child.kill('SIGCONT');
      event(`SIGCONT ${paused.name}`);
    })();
    let postgresRestartMs = 0;
    let postgresDown: [number, number] = [0, 0];
    const restartPostgres = (async () => {
      if (!faults) return;
      await at(0.6);
      await pause;
      event('PostgreSQL stopping');
      const t = Date.now();
      await server.restart();
      postgresRestartMs = Date.now() - t;
      postgresDown = [t - loadStart, Date.now() - loadStart];
      event(`PostgreSQL restarted in ${postgresRestartMs} ms`);
    })();
    await Promise.all(faults ? [load, pause, restartPostgres] : [load]);
    const loadEnded = Date.now();

    // The queue drains: what the unknowns left queued runs too.
    const drainMs = options.drainMs ?? 120_000;
    let depth = { queued: -1, running: -1 };
    while (Date.now() - loadEnded < drainMs) {
      const rows = await watch<{ state: string; n: string }>('SELECT state, count(*) AS n FROM run_queue GROUP BY state', []);
      if (rows) {
        depth = { queued: 0, running: 0 };
        for (const row of rows) depth[row.state as 'queued' | 'running'] = Number(row.n);
        if (depth.queued === 0 && depth.running === 0) break;
      }
      await sleep(100);
    }
    event(`queue depth ${JSON.stringify(depth)}`);
    isDrained = true;
    await kill;

    // Stop everything; each runner prints its counts last.
    api.child.kill('SIGTERM');
    for (const runner of runners) runner.child.kill('SIGTERM');
    const runnerExitProblems: string[] = [];
    // A process that does not stop on SIGTERM is a failure to report (with what it printed), not a test left to time out.
    const stopped = async (started: Started, what: string): Promise<number | null> => {
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), EXIT_WAIT_MS).unref());
      if ((await Promise.race([started.exited.then(() => 'exited' as const), timer])) === 'late') {
        runnerExitProblems.push(`${what} ${started.name} did not exit within ${EXIT_WAIT_MS} ms of SIGTERM: ${started.stderr().slice(-2500)}`);
        started.child.kill('SIGKILL');
      }
      return started.exited;
    };
    await stopped(api, 'af serve');
    const counts: RunnerCounts[] = [];
    for (const runner of runners) {
      const code = await stopped(runner, 'runner');
      if (code !== 0) runnerExitProblems.push(`${runner.name} exited ${code ?? runner.signal()}: ${runner.stderr().slice(-2500)}`);
      const lines = runner.stdout().trim().split('\n');
      const last = lines[lines.length - 1] ?? '';
      if (lines.length > 1 && last.startsWith('{')) counts.push({ runner: runner.name, ...(JSON.parse(last) as Omit<RunnerCounts, 'runner'>) });
    }
    await watcher.end().catch(() => {});
    watcher = undefined;

    // The store's view.
    const keysDir = path.join(project.root, '.af', 'keys');
    const store = await PostgresStore.open({ url, migrate: false, ...(existsSync(keysDir) ? { auditAnchorDir: keysDir } : {}) });
    let records: Array<{ id: string; outcome: string }>;
    let endedUnrunUnread: number;
    let counter: number;
    let counters: Record<string, number>;
    let audit: ChaosReport['audit'];
    let storeDepth: { queued: number; running: number };
    try {
      records = await store.db.rows<{ id: string; outcome: string }>('SELECT id, outcome FROM runs');
      const unread = await store.db.rows<{ result: string }>('SELECT result FROM run_results');
      endedUnrunUnread = unread.filter((row) => (JSON.parse(row.result) as { code?: string }).code === 'E_SANDBOX_CRASHED').length;
      counters = {};
      for (let shard = 0; shard < (options.shards ?? 1); shard++) counters[`n${shard}`] = Number((await store.kv.get({ template: 'counter', tenant: TENANT }, `n${shard}`)) ?? 0);
      counter = Object.values(counters).reduce((sum, n) => sum + n, 0);
      const verification = await store.audit.verify();
      audit = verification.ok ? { ok: true, entries: verification.entries } : { ok: false, entries: verification.entries, problem: JSON.stringify(verification.firstBad) };
      storeDepth = await store.queue.depth();
    } finally {
      await store.close();
    }

    const ok = outcomes.filter((o): o is Extract<Outcome, { kind: 'ok' }> => o.kind === 'ok');
    const failed = outcomes.filter((o): o is Extract<Outcome, { kind: 'failed' }> => o.kind === 'failed');
    const unknown = outcomes.filter((o): o is Extract<Outcome, { kind: 'unknown' }> => o.kind === 'unknown');
    const failedCodes: Record<string, number> = {};
    for (const o of failed) bump(failedCodes, `${o.status} ${o.code}`);
    const unknownReasons: Record<string, number> = {};
    for (const o of unknown) bump(unknownReasons, o.reason);
    const unknownWindow = unknown.length === 0 ? null : { firstSentMs: Math.min(...unknown.map((o) => o.sentMs)), lastSentMs: Math.max(...unknown.map((o) => o.sentMs)), firstAnsweredMs: Math.min(...unknown.map((o) => o.answeredMs)), lastAnsweredMs: Math.max(...unknown.map((o) => o.answeredMs)) };
    const recordIds = new Set(records.map((r) => r.id));
    const okIds = new Set(ok.map((o) => o.runId));
    const failedIds = new Set(failed.flatMap((o) => (o.runId !== undefined ? [o.runId] : [])));
    // Per counter: the values callers saw are distinct (no increment applied twice) and none passes the counter.
    const values = ok.map((o) => `${o.key}=${o.n}`);
    const okValuesMax = ok.reduce((max, o) => Math.max(max, o.n - (counters[o.key] ?? 0)), Number.NEGATIVE_INFINITY);
    const latencies = ok.map((o) => o.latencyMs).sort((a, b) => a - b);
    const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    return {
      runs: options.runs,
      perSecond: options.perSecond,
      durationMs: Date.now() - began,
      loadMs: loadEnded - loadStart,
      drainMs: Date.now() - loadEnded,
      ok: ok.length,
      failed: failed.length,
      unknown: unknown.length,
      failedCodes,
      unknownReasons,
      unknownWindow,
      okLatencyMs: { p50: percentile(50), p99: percentile(99), max: latencies[latencies.length - 1] ?? 0 },
      postgresDownMs: postgresDown,
      records: records.length,
      okRecords: records.filter((r) => r.outcome === 'ok').length,
      recordsOfOk: [...okIds].filter((id) => recordIds.has(id)).length,
      okRunIdsDistinct: okIds.size === ok.length,
      unknownsThatRan: records.filter((r) => !okIds.has(r.id) && !failedIds.has(r.id)).length,
      endedUnrunUnread,
      duplicateRecordIds: records.length - recordIds.size,
      counter,
      okValuesDistinct: new Set(values).size === values.length,
      okValuesOverCounter: ok.length === 0 ? 0 : okValuesMax,
      counters,
      depth: storeDepth,
      audit,
      runners: counts,
      runnerExitProblems,
      killed: killedReport,
      stopped: stoppedReport,
      postgresRestartMs,
      events,
    };
  } finally {
    await watcher?.end().catch(() => {});
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
    await server.stop().catch(() => {});
    project.remove();
  }
}
