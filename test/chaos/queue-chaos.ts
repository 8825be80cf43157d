// The run queue under faults, as real processes: one `af serve`, four `af runner`, one PostgreSQL server of its own.
// An open-loop load of runs that each increment one kv counter; meanwhile one runner is killed with SIGKILL (and
// restarted 5 s later), another is stopped with SIGSTOP for longer than its lease, and PostgreSQL restarts once.
// Every request's outcome is recorded as Jepsen does (ok / failed / unknown), and the store is checked afterwards.
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
const LEASE_MS = 1_000;
/** Longer than the lease (and than a reaper pass after it), so the stopped runner's runs are taken by others. */
const STOP_MS = 3_000;
const RESTART_KILLED_AFTER_MS = 5_000;

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
  /**
   * The killed runner's runs: `maxFinishMs` from the kill to the harness seeing the last one's record (includes the
   * harness's own lag); from its record, `maxRecordStartMs`/`maxRecordEndMs` from the kill to the start and end of the
   * attempt that completed it (the runners' clocks: same machine).
   */
  killed: { runner: string; heldAtKill: number; finished: number; maxFinishMs: number | null; maxRecordStartMs?: number; maxRecordEndMs?: number };
  stopped: { runner: string; heldAtStop: number };
  postgresRestartMs: number;
  events: string[];
}

interface Started {
  name: string;
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
  const server: PostgresServer = await startPostgresServer({ durable: true });
  const project: TempProject = createProject(simpleTemplate('counter', { permissions: { kv: true } }, COUNTER));
  const children: ChildProcess[] = [];
  let watcher: pg.Client | undefined;
  try {
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE af_chaos');
    await admin.end();
    const url = server.urlOf('af_chaos');
    // Many clients, one key each: a key's rate limit (600 requests a minute for an operator) is not what is tested.
    const apiKeys: string[] = [];
    const keyCount = Math.max(1, Math.ceil((options.perSecond * 60) / 500));
    for (let i = 0; i < keyCount; i++) {
      const created = await runAf(project.root, ['--store', url, 'keys', 'api', 'create', '--tenant', TENANT, '--role', 'operator', '--json']);
      if (created.status !== 0) throw new Error(`af keys api create failed:\n${created.stderr}`);
      apiKeys.push((JSON.parse(created.stdout) as { key: string }).key);
    }

    const start = (args: string[]): Started => {
      const child = spawn(process.execPath, [AF, '--store', url, ...args, '--json'], {
        cwd: project.root,
        env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', AF_LOG_LEVEL: 'warn' },
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
      const started: Started = { name: '', child, firstLine, stdout: () => stdout, stderr: () => stderr, exited, signal: () => exitSignal };
      void firstLine.then((line) => (started.name = String(line.runner ?? args[0])), () => {});
      return started;
    };
    const runnerArgs = ['runner', '--concurrency', String(options.concurrency ?? 4), '--lease-ms', String(LEASE_MS)];
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
    const watch = async <T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<T[] | undefined> => {
      try {
        return (await watcherClient.query<T>(text, values)).rows;
      } catch {
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
    const orphanFinish = new Map<string, number>();
    let killedReport: ChaosReport['killed'] = { runner: '', heldAtKill: 0, finished: 0, maxFinishMs: null };
    let killedAtMs = 0;
    let orphanIds: string[] = [];
    const faults = options.faults ?? true;
    // One fault after another (each at its point of the load, or when the one before it is over), so that what is
    // measured of one (the killed runner's orphans) is not the downtime of another (PostgreSQL's restart).
    let orphansCounted = () => {};
    const afterKill = new Promise<void>((resolve) => (orphansCounted = resolve));
    const kill = (async () => {
      if (!faults) return;
      await at(0.2);
      const victim = runners[0] as Started;
      // What it holds, from the queue table, just before it dies (at a moment it holds some, so there are orphans).
      const held = await holding(victim.name);
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      killedAtMs = killedAt;
      orphanIds = held.map((row) => row.id);
      event(`SIGKILL ${victim.name}, holding ${held.length} runs`);
      killedReport = { runner: victim.name, heldAtKill: held.length, finished: 0, maxFinishMs: null };
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
      // When each of its runs has a record (finished by another runner).
      const ids = held.map((row) => row.id);
      while (orphanFinish.size < ids.length && Date.now() - killedAt < 60_000) {
        const rows = await watch<{ id: string }>('SELECT id FROM runs WHERE id = ANY($1::text[])', [ids.filter((id) => !orphanFinish.has(id))]);
        const now = Date.now();
        for (const row of rows ?? []) orphanFinish.set(row.id, now - killedAt);
        await sleep(25);
      }
      const times = [...orphanFinish.values()];
      killedReport = { ...killedReport, finished: times.length, maxFinishMs: times.length > 0 ? Math.max(...times) : null };
      event(`orphans of ${victim.name}: ${times.length}/${ids.length} finished, the last ${killedReport.maxFinishMs} ms after the kill`);
      orphansCounted();
      await restart;
    })();
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
      await sleep(STOP_MS);
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
    await Promise.all(faults ? [load, kill, pause, restartPostgres] : [load]);
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

    // Stop everything; each runner prints its counts last.
    api.child.kill('SIGTERM');
    for (const runner of runners) runner.child.kill('SIGTERM');
    await api.exited;
    const runnerExitProblems: string[] = [];
    const counts: RunnerCounts[] = [];
    for (const runner of runners) {
      const code = await runner.exited;
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
    let counter: number;
    let counters: Record<string, number>;
    let audit: ChaosReport['audit'];
    let storeDepth: { queued: number; running: number };
    try {
      records = await store.db.rows<{ id: string; outcome: string }>('SELECT id, outcome FROM runs');
      counters = {};
      for (let shard = 0; shard < (options.shards ?? 1); shard++) counters[`n${shard}`] = Number((await store.kv.get({ template: 'counter', tenant: TENANT }, `n${shard}`)) ?? 0);
      counter = Object.values(counters).reduce((sum, n) => sum + n, 0);
      const verification = await store.audit.verify();
      audit = verification.ok ? { ok: true, entries: verification.entries } : { ok: false, entries: verification.entries, problem: JSON.stringify(verification.firstBad) };
      storeDepth = await store.queue.depth();
      if (orphanIds.length > 0) {
        const times = await store.db.rows<{ start: number; end: number }>('SELECT max(started_at) AS start, max(started_at + run_ms) AS end FROM runs WHERE id = ANY($1::text[])', [orphanIds]);
        const [row] = times;
        if (row?.start !== null && row?.start !== undefined) killedReport = { ...killedReport, maxRecordStartMs: Number(row.start) - killedAtMs, maxRecordEndMs: Math.round(Number(row.end) - killedAtMs) };
      }
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
