// `npm start` (af with no command, npm_lifecycle_event=start): in a terminal on a project without runs, the UI opens on
// demo data, where the bundled agents are trusted (their DEMO root is trusted in that temporary state alone); a project
// with runs of its own opens on its own data. The decision, the trusted state, and both paths in a real terminal.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareDemoState, removeDemoState } from '../../cli/commands/demo.js';
import { createCommandContext } from '../../cli/context.js';
import { countRuns, startAction } from '../../cli/start.js';
import { createFactory } from '../../runtime/index.js';
import { loadTemplateRows } from '../../tui/data.js';
import { createTuiServices } from '../../tui/services.js';
import { runAf } from '../helpers/cli.js';
import { createProject, simpleTemplate, type TempProject } from '../helpers/project.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const AF = path.join(REPO, 'bin/af.js');

let project: TempProject | undefined;
afterEach(() => project?.remove());

describe('what af with no command does', () => {
  it('decides from the terminal, npm start and the project’s own runs', () => {
    const runs = (n: number | undefined) => () => n;
    expect(startAction({ isTerminal: false, isNpmStart: false, projectRuns: runs(0) })).toBe('help');
    expect(startAction({ isTerminal: false, isNpmStart: true, projectRuns: runs(0) })).toBe('demo-summary');
    expect(startAction({ isTerminal: true, isNpmStart: false, projectRuns: runs(0) })).toBe('tui');
    expect(startAction({ isTerminal: true, isNpmStart: true, projectRuns: runs(0) })).toBe('tui-on-demo');
    expect(startAction({ isTerminal: true, isNpmStart: true, projectRuns: runs(3) })).toBe('tui');
    // A store that cannot be read opens the project, where the UI says what is wrong.
    expect(startAction({ isTerminal: true, isNpmStart: true, projectRuns: runs(undefined) })).toBe('tui');
  });

  it('counts the project’s runs without creating a store', async () => {
    project = createProject(simpleTemplate('echo'));
    const dbPath = path.join(project.root, '.af', 'factory.db');
    expect(countRuns(dbPath)).toBe(0);
    expect(existsSync(dbPath)).toBe(false);
    expect((await runAf(project.root, ['run', 'echo', '--input', '{}'])).status).toBe(0);
    expect((await runAf(project.root, ['run', 'echo', '--input', '{}'])).status).toBe(0);
    expect(countRuns(dbPath)).toBe(2);
    writeFileSync(dbPath, Buffer.alloc(4096, 3));
    expect(countRuns(dbPath)).toBeUndefined();
  });
});

describe('the demo state the UI opens on', () => {
  it('has runs, and every bundled agent is trusted there (the DEMO root is in its trust store)', async () => {
    project = createProject();
    const streams = { stdout: { write: () => true }, stderr: { write: () => true }, stdin: new PassThrough(), env: { NO_COLOR: '1' }, cwd: project.root };
    const state = await prepareDemoState(createCommandContext(streams, () => ({})), { runs: 40, json: true });
    try {
      expect(state.env).toBe('demo');
      expect(state.summary.runs).toBeGreaterThanOrEqual(40);
      const factory = await createFactory({ root: state.root, home: state.home, env: state.env });
      try {
        const rows = await loadTemplateRows(createTuiServices({ factory, isTTY: false, env: {} }));
        expect(rows.length).toBeGreaterThan(10);
        expect(rows.filter((row) => row.signature !== 'signed' && row.signature !== 'abstract')).toEqual([]);
        expect(rows.reduce((sum, row) => sum + (row.stats?.runs ?? 0), 0)).toBeGreaterThanOrEqual(40);
      } finally {
        await factory.close();
      }
    } finally {
      removeDemoState(state);
    }
    expect(existsSync(state.scratch)).toBe(false);
  }, 180_000);
});

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const SOCKET = `af-npm-start-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });

async function waitForScreen(expected: RegExp, timeoutMs: number): Promise<string> {
  const started = Date.now();
  let screen = '';
  while (Date.now() - started < timeoutMs) {
    screen = tmux('capture-pane', '-p', '-t', 'start');
    if (expected.test(screen)) return screen;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the terminal never showed ${expected}; it shows:\n${screen}`);
}

describe.skipIf(!hasTmux)('npm start in a real terminal (tmux)', () => {
  afterEach(() => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  });

  function start(cwd: string): void {
    // What `npm start` runs (`node bin/af.js`, npm_lifecycle_event=start), in a 120×40 pseudo-terminal.
    const script = `cd '${cwd}' && NO_COLOR=1 npm_lifecycle_event=start '${process.execPath}' '${AF}'; echo "exit $?"; sleep 60`;
    tmux('new-session', '-d', '-s', 'start', '-x', '120', '-y', '40', 'sh', '-c', script);
  }

  it('in a folder with no runs: the workload with a progress bar, then the UI on demo data with every agent signed', async () => {
    project = createProject();
    start(project.root);
    await waitForScreen(/running\s+[█░]+ \d+\/2000/, 120_000);
    await waitForScreen(/env demo templates/, 400_000);
    const ui = await waitForScreen(/word-stats\s+1\.0\.0\s+\S+/, 30_000);
    expect(ui).toMatch(/hello\s+1\.0\.0\s+signed/);
    expect(ui).toMatch(/log-triage\s+1\.0\.0\s+signed\s+\S+\s+[1-9]\d*/);
    expect(ui).not.toContain('untrusted');
    tmux('send-keys', '-t', 'start', 'C-c');
    await waitForScreen(/exit 0/, 30_000);
  }, 600_000);

  it('in a project with runs of its own: the UI on the project', async () => {
    project = createProject(simpleTemplate('mine'));
    expect((await runAf(project.root, ['run', 'mine', '--input', '{}'])).status).toBe(0);
    start(project.root);
    await waitForScreen(/env dev templates/, 60_000);
    const ui = await waitForScreen(/mine\s+1\.0\.0\s+\S+/, 30_000);
    expect(ui).toMatch(/mine\s+1\.0\.0\s+unsigned/);
    expect(ui).not.toContain('demo data');
    tmux('send-keys', '-t', 'start', 'C-c');
    await waitForScreen(/exit 0/, 30_000);
  }, 120_000);
});
