// The coordinator fans out through ctx.spawn to the auditor, log-triage and json-schema-infer, merges their results
// and has markdown-report render them; each child runs under its own template's permissions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundledFactory, openBundledFactory, readFixture } from './bundled.js';

let bundled: BundledFactory;
beforeAll(async () => {
  bundled = await openBundledFactory();
});
afterAll(() => bundled.close());

interface CoordinatorOutput {
  children: number;
  failed: Array<{ task: string; agent: string; code: string }>;
  audit: { score: number; packages: number } | null;
  logs: Array<{ log: string; lines: number; errors: number; top: string; topCount: number }>;
  schema: Record<string, unknown> | null;
  report: string;
}

describe('coordinator', () => {
  it('spawns one child per task, merges their results and renders them', async () => {
    const { output } = await bundled.factory.run('coordinator', {
      title: 'Release checks',
      logs: [{ name: 'app.log', text: readFixture('app.log') }],
      samples: [{ id: 1 }, { id: 2, extra: true }],
      audit: { lockfile: readFixture('bad-lockfile/package-lock.json'), manifest: readFixture('bad-lockfile/package.json') },
    });
    const result = output as CoordinatorOutput;
    expect(result.children).toBe(4);
    expect(result.failed).toEqual([]);
    expect(result.audit).toEqual({ score: 67, packages: 7 });
    expect(result.logs).toEqual([{ log: 'app.log', lines: 10, errors: 6, top: '<time> ERROR db: connection to <ip> refused after <n> (attempt <n>)', topCount: 3 }]);
    expect(result.schema?.required).toEqual(['id']);
    expect(result.report).toContain('# Release checks\n');
    expect(result.report).toContain('| Score | 67 |');
    expect(result.report).toContain('| app.log | 10 | 6 | <time> ERROR db: connection to <ip> refused after <n> (attempt <n>) | 3 |');
    // Four children plus the coordinator, each recorded with its parent.
    const records = bundled.sink.records().slice(-5);
    expect(records.map((r) => [r.template, r.depth]).sort()).toEqual([
      ['coordinator', 0],
      ['json-schema-infer', 1],
      ['log-triage', 1],
      ['markdown-report', 1],
      ['supply-chain-auditor', 1],
    ]);
  });

  it('reports a failing child with its code and still merges the others', async () => {
    const { output } = await bundled.factory.run('coordinator', { logs: [{ name: 'app.log', text: readFixture('app.log') }], audit: { lockfile: 'not json' } });
    const result = output as CoordinatorOutput;
    expect(result.failed.map(({ task, agent, code }) => ({ task, agent, code }))).toEqual([{ task: 'audit', agent: 'supply-chain-auditor', code: 'E_AGENT_THREW' }]);
    expect(result.audit).toBeNull();
    expect(result.logs.map((log) => log.errors)).toEqual([6]);
    expect(result.report).toContain('| audit | E_AGENT_THREW |');
  });

  it('runs the auditor over its own ./project grant when asked for `audit: true`, and the child cannot borrow the parent’s (empty) grant', async () => {
    const { output } = await bundled.factory.run('coordinator', { audit: true });
    const result = output as CoordinatorOutput;
    // No project was copied into this factory's auditor folder: the child fails on its own read, with its own code.
    expect(result.failed.map((f) => f.agent)).toEqual(['supply-chain-auditor']);
    expect(result.children).toBe(2);
  });
});
