// The chaos test of the run queue (test/chaos/queue-chaos): short inside `npm test`, full with `npm run chaos`
// (AF_CHAOS=full: 5,000 runs at 200/s). Nothing lost, nothing doubled, whatever the faults.
import { describe, expect, it } from 'vitest';
import { runQueueChaos } from './queue-chaos.js';

const FULL = process.env.AF_CHAOS === 'full';
const SIZE = FULL ? { runs: 5_000, perSecond: 200, shards: 64 } : { runs: Number(process.env.AF_CHAOS_RUNS ?? 150), perSecond: Number(process.env.AF_CHAOS_RATE ?? 50), shards: 16 };

describe('the run queue under faults (one serve, four runners, PostgreSQL restarted)', () => {
  it(`runs ${SIZE.runs} runs at ${SIZE.perSecond}/s through SIGKILL, SIGSTOP and a PostgreSQL restart: each accepted run recorded once, the counter exact`, { timeout: FULL ? 1_500_000 : 240_000 }, async () => {
    const report = await runQueueChaos({ ...SIZE, ...(process.env.AF_CHAOS_FAULTS === 'off' ? { faults: false } : {}), ...(process.env.AF_CHAOS_CONCURRENCY ? { concurrency: Number(process.env.AF_CHAOS_CONCURRENCY) } : {}), ...(process.env.AF_CHAOS_LEASE_MS ? { leaseMs: Number(process.env.AF_CHAOS_LEASE_MS) } : {}), drainMs: FULL ? 600_000 : 30_000, log: (line) => process.stderr.write(`[chaos] ${line}\n`) });
    const { events: _events, ...numbers } = report;
    process.stderr.write(`[chaos] report ${JSON.stringify(numbers, null, 1)}\n`);

    // Every request got an outcome, and the runners stopped cleanly on SIGTERM.
    expect(report.ok + report.failed + report.unknown).toBe(SIZE.runs);
    expect(report.runnerExitProblems).toEqual([]);
    // The queue drained.
    expect(report.depth).toEqual({ queued: 0, running: 0 });
    // Every ok answer has its record; no run has two (the primary key), and no ok answer names a run twice.
    expect(report.okRunIdsDistinct).toBe(true);
    expect(report.recordsOfOk).toBe(report.ok);
    expect(report.duplicateRecordIds).toBe(0);
    // The other records are runs whose callers got no definite answer: there can be no more of them than unknowns.
    expect(report.unknownsThatRan).toBeLessThanOrEqual(report.unknown);
    // A wait that timed out was queued (the server answers E_TIMEOUT only after the enqueue): it ran, or the queue
    // ended it unrun after its attempts ran out (a result nobody read), or it was lost.
    expect(report.unknownsThatRan + report.endedUnrunUnread).toBeGreaterThanOrEqual(report.unknownReasons['wait timed out'] ?? 0);
    expect(report.records).toBeLessThanOrEqual(report.ok + report.unknown + report.failed);
    // Each successful run incremented the counter exactly once: not once per attempt (fenced attempts ran the code
    // too), not lost to a conflict. The values the callers saw are distinct and within the counter.
    expect(report.counter).toBe(report.okRecords);
    expect(report.okValuesDistinct).toBe(true);
    expect(report.okValuesOverCounter).toBeLessThanOrEqual(0);
    // The runners report their fenced completions (the stopped runner's, at least when it held runs).
    expect(report.runners.length).toBe(4);
    for (const runner of report.runners) expect(runner.fenced).toBeGreaterThanOrEqual(0);
    // Every audit chain verifies.
    expect(report.audit).toMatchObject({ ok: true });
    // The killed runner died holding runs (it is killed at such a moment), and none of them was left behind: each was
    // finished by another runner, or ended unrun by the reaper once its attempts ran out (runners that lose their
    // leases on a starved machine use them up; the caller then gets E_SANDBOX_CRASHED).
    expect(report.killed.orphans).toBeGreaterThan(0);
    expect(report.killed.finished + report.killed.endedUnrun).toBe(report.killed.orphans);
    // The full run (not the short one: no timed tests in npm test): every one finished by another runner, each within
    // 7 s of the kill, by the commit that completed it (PostgreSQL's commit timestamps, whatever the harness's lag).
    if (FULL) {
      expect(report.killed.finished).toBe(report.killed.orphans);
      expect(report.killed.finishMs?.max ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(7_000);
    }
  });
});
