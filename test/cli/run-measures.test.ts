// What a run's record says about its measurements, end to end: real templates, real sandbox hosts, a real SQLite file,
// the real CLI. A run stopped by its CPU limit is censored by it (cpu and wall time are lower bounds) and has no
// memory figure (NULL in the store, never 0); a run that ended has its own heap growth; `af runs show`, `af runs` and
// their --json say so.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFactory } from '../../runtime/index.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

let project: TempProject;
const ids: Record<string, string> = {};

beforeAll(async () => {
  project = createProject({
    ...simpleTemplate('spin', { limits: { cpuMs: 50 } }, 'export default () => { for (;;) {} };\n'),
    ...simpleTemplate('stall', { limits: { timeoutMs: 300 } }, 'export default () => new Promise(() => {});\n'),
    ...simpleTemplate(
      'words',
      {},
      "export default (input) => { const counts = new Map(); for (const w of input.text.repeat(input.n).split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1); return { distinct: counts.size }; };\n",
    ),
  });
  const factory = await createFactory({ root: project.root, hosts: 1, heapProbeEvery: 1 });
  try {
    ids.spin = (await factory.runSettled('spin', {})).runId;
    ids.stall = (await factory.runSettled('stall', {})).runId;
    ids.words = (await factory.runSettled('words', { text: 'lorem ipsum dolor sit amet ', n: 2000 })).runId;
  } finally {
    await factory.close();
  }
}, 60_000);
afterAll(() => project.remove());

function stored(id: string): Record<string, unknown> {
  const db = new Database(path.join(project.root, '.af', 'factory.db'), { readonly: true });
  try {
    return db.prepare('SELECT outcome, error_code, cpu_ms, heap_growth_bytes, censored_by FROM runs WHERE id = ?').get(id) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

describe('a run its CPU limit stopped', () => {
  it('is stored censored by limits.cpuMs, with no memory figure (NULL, not 0) and its cpu time as measured', () => {
    const row = stored(ids.spin as string);
    expect(row).toMatchObject({ outcome: 'error', error_code: 'E_CPU_LIMIT', censored_by: 'cpuMs', heap_growth_bytes: null });
    expect(row.cpu_ms).toBeGreaterThanOrEqual(50);
  });

  it('af runs show says which limit stopped it and that its figures are lower bounds', async () => {
    const result = await runAf(project.root, ['runs', 'show', ids.spin as string]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^stopped\s+by limits\.cpuMs \(50 ms\): cpu and run time are lower bounds$/m);
    expect(result.stdout).toMatch(/^memory\s+not measured: stopped by limits\.cpuMs$/m);
    const json = JSON.parse((await runAf(project.root, ['runs', 'show', ids.spin as string, '--json'])).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ errorCode: 'E_CPU_LIMIT', censoredBy: 'cpuMs' });
    expect(json).not.toHaveProperty('heapGrowthBytes');
  });
});

describe('a run its timeout stopped', () => {
  it('is stored censored by limits.timeoutMs, with no memory figure', async () => {
    expect(stored(ids.stall as string)).toMatchObject({ error_code: 'E_TIMEOUT', censored_by: 'timeoutMs', heap_growth_bytes: null });
    const result = await runAf(project.root, ['runs', 'show', ids.stall as string]);
    expect(result.stdout).toMatch(/^stopped\s+by limits\.timeoutMs \(300 ms\): run time is a lower bound$/m);
  });
});

describe('a run that ended', () => {
  it('has its own heap growth, shown by af runs show and af runs, and no censoring', async () => {
    const row = stored(ids.words as string);
    expect(row).toMatchObject({ outcome: 'ok', censored_by: null });
    // Counting the words of a 54 KB text allocates under a megabyte, most of it garbage by the end.
    expect(row.heap_growth_bytes).toBeGreaterThan(100 * 1024);
    expect(row.heap_growth_bytes).toBeLessThan(4 * 1024 * 1024);
    const show = await runAf(project.root, ['runs', 'show', ids.words as string]);
    expect(show.stdout).toMatch(new RegExp(`^memory\\s+heap growth ${((row.heap_growth_bytes as number) / 1024 / 1024).toFixed(2)} MB$`, 'm'));
    expect(show.stdout).not.toMatch(/^stopped/m);
    const list = await runAf(project.root, ['runs']);
    const header = list.stdout.split('\n')[0] as string;
    expect(header).toMatch(/RUN MS\s+CPU MS\s+HEAP MB\s+ID/);
    const spinLine = list.stdout.split('\n').find((line) => line.includes('spin')) as string;
    // The censored run's cpu and run time are marked as lower bounds; its memory column is empty.
    expect(spinLine).toMatch(/E_CPU_LIMIT\s+≥\d+\.\d\d\s+≥\d+\.\d\d\s+-\s+/);
    const wordsLine = list.stdout.split('\n').find((line) => line.includes('words')) as string;
    expect(wordsLine).toMatch(new RegExp(`ok\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d\\s+${((row.heap_growth_bytes as number) / 1024 / 1024).toFixed(2)}\\s+`));
  });
});
