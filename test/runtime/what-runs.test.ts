// One truth about what runs: a long-lived dev factory runs the files on disk (hot reload of main.ts, an imported module
// and agent.json, even with a canary in the store), and every run report names the version, digest and source that ran.
// Real files edited on disk, real keys and signatures, real sandbox host processes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentFactory, createFactory, type RunReport } from '../../runtime/index.js';
import { openStore, type Store } from '../../store/index.js';
import { runAf } from '../helpers/cli.js';
import { createProject, type TempProject } from '../helpers/project.js';

let project: TempProject;

const write = (file: string, text: string) => writeFileSync(path.join(project.agentsDir, 'hi', file), text);
const manifest = (version: string, config: object = {}) => `${JSON.stringify({ name: 'hi', version, entry: 'main.ts', config }, null, 2)}\n`;
const main = (label: string) => `import { who } from './lib.ts';\nexport default (input, ctx) => ({ label: '${label}', who, config: ctx.config });\n`;

/** Runs until `check` holds (the watcher reloads within milliseconds of a save), or gives the last report. */
async function runUntil(factory: AgentFactory, check: (report: RunReport & { ok: true }) => boolean): Promise<RunReport> {
  let report: RunReport | undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    report = await factory.runSettled('hi', {});
    if (report.ok && check(report)) return report;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  return report as RunReport;
}

beforeAll(async () => {
  project = createProject({ 'agents/hi/agent.json': manifest('1.0.0'), 'agents/hi/main.ts': main('one'), 'agents/hi/lib.ts': "export const who = 'lib-1';\n" });
  const af = (...args: string[]) => runAf(project.root, args, { AF_LOG_LEVEL: 'error' });
  expect((await af('keys', 'init')).status).toBe(0);
  expect((await af('sign', 'hi')).status).toBe(0);
  expect((await af('--env', 'prod', 'run', 'hi', '--input', '{}')).status).toBe(0); // records 1.0.0
  write('agent.json', manifest('1.1.0'));
  write('main.ts', main('two'));
  expect((await af('sign', 'hi')).status).toBe(0);
  expect((await af('--env', 'prod', 'run', 'hi', '--input', '{}')).status).toBe(0); // records 1.1.0
  // As after accepting a suggestion: the new version on disk is the canary's candidate, the old one stable in the store.
  const store = openStore({ path: path.join(project.root, '.af', 'factory.db') });
  store.rollouts.start({ template: 'hi', stableVersion: '1.0.0', candidateVersion: '1.1.0', weight: 0.5, startedAt: Date.now() });
  await store.close();
});

afterAll(() => project?.remove());

describe('outside dev, a signed version runs and the report says which', () => {
  it('a canary sends runs to the stored stable version and the on-disk candidate, each labelled', async () => {
    const factory = await createFactory({ root: project.root, env: 'prod', hosts: 1 });
    try {
      const seen = new Map<string, RunReport>();
      for (let i = 0; i < 40; i++) {
        const report = await factory.runSettled('hi', {});
        expect(report.ok).toBe(true);
        seen.set(report.source, report);
      }
      expect([...seen.keys()].sort()).toEqual(['canary', 'stored']);
      expect(seen.get('stored')).toMatchObject({ version: '1.0.0', signed: true, keyId: expect.stringMatching(/^[0-9a-f]{16}$/), output: { label: 'one' } });
      expect(seen.get('canary')).toMatchObject({ version: '1.1.0', signed: true, output: { label: 'two' } });
      expect(seen.get('stored')?.digest).not.toBe(seen.get('canary')?.digest);
    } finally {
      await factory.close();
    }
  });
});

describe('in dev, a long-lived factory runs the files on disk', () => {
  let factory: AgentFactory;
  beforeAll(async () => {
    factory = await createFactory({ root: project.root, hosts: 1 });
  });
  afterAll(async () => factory?.close());

  it('ignores the canary: every run is the code on disk, labelled on-disk', async () => {
    for (let i = 0; i < 20; i++) {
      const report = await factory.runSettled('hi', {});
      expect(report).toMatchObject({ ok: true, source: 'on-disk', version: '1.1.0', signed: true, output: { label: 'two' } });
    }
  });

  it('picks up an edit of main.ts, of an imported module and of agent.json without a restart, with the new digest', async () => {
    const before = await factory.runSettled('hi', {});
    write('main.ts', main('three'));
    const edited = await runUntil(factory, (report) => (report.output as { label: string }).label === 'three');
    expect(edited).toMatchObject({ ok: true, source: 'on-disk', version: '1.1.0', signed: false });
    expect(edited.digest).not.toBe(before.digest);
    expect(edited).not.toHaveProperty('keyId');

    write('lib.ts', "export const who = 'lib-2';\n");
    expect(await runUntil(factory, (report) => (report.output as { who: string }).who === 'lib-2')).toMatchObject({ ok: true, output: { label: 'three', who: 'lib-2' } });

    write('agent.json', manifest('1.1.0', { greeting: 'hey' }));
    expect(await runUntil(factory, (report) => (report.output as { config: { greeting?: string } }).config.greeting === 'hey')).toMatchObject({ ok: true, output: { config: { greeting: 'hey' } } });
  });

  it('runs a stored version only when asked for by name, and says so', async () => {
    const agent = await factory.createAgent('hi', { version: '1.0.0' });
    try {
      expect(await agent.runSettled({})).toMatchObject({ ok: true, source: 'stored', version: '1.0.0', signed: true, output: { label: 'one' } });
    } finally {
      await agent.dispose();
    }
  });
});
