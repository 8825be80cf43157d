// `af` in a real pseudo-terminal (tmux): opens the UI on the bundled agents, runs one, visits every view, quits cleanly.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// bin/af.js loads dist/ (built by `npm test`); AF_E2E_BIN points the test at another launcher.
const AF = process.env.AF_E2E_BIN ?? path.join(REPO, 'bin/af.js');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const SESSION = `af-tui-e2e-${process.pid}`;
const QUIT_SESSION = `af-tui-e2e-q-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

function screen(session = SESSION): string {
  return tmux('capture-pane', '-p', '-t', session);
}

async function waitForScreen(expected: string | RegExp, timeoutMs = 20_000, session = SESSION): Promise<string> {
  const started = Date.now();
  for (;;) {
    const text = screen(session);
    if (typeof expected === 'string' ? text.includes(expected) : expected.test(text)) return text;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`the terminal never showed ${String(expected)}; it shows:\n${text}\naf's stderr:\n${readStderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Types text literally (no key-name lookup), then optional named keys. */
async function send(text: string, ...keys: string[]): Promise<void> {
  if (text) tmux('send-keys', '-t', SESSION, '-l', text);
  for (const key of keys) {
    // A person's keys come apart; without a pause tmux delivers them as one read.
    await new Promise((resolve) => setTimeout(resolve, 100));
    tmux('send-keys', '-t', SESSION, key);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Several keys in one tmux command: they reach af in one read, as when pasted, over SSH lag or typed fast. */
function sendTogether(session: string, ...keys: string[]): void {
  tmux('send-keys', '-t', session, ...keys);
}

function startUi(session: string): void {
  // The shell line after `af` shows the exit status and keeps the pane open to read it. CI=true as on a
  // build machine: a person at a terminal there still gets a drawn UI, not only Ink's last frame at exit.
  const script = `cd ${JSON.stringify(root)} && CI=true AF_ROOT=${JSON.stringify(root)} NO_COLOR=1 node ${JSON.stringify(AF)} 2>af.stderr; echo "af exited $?"; sleep 30`;
  tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', 'sh', '-c', script);
}

let root: string;

function readStderr(): string {
  return existsSync(path.join(root, 'af.stderr')) ? readFileSync(path.join(root, 'af.stderr'), 'utf8') : '(none)';
}

// Without tmux (apt-get install tmux) this suite is reported as skipped under its name.
describe.skipIf(!hasTmux)('af in a real terminal (tmux; skipped where tmux is not installed)', () => {
  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'af-tui-e2e-'));
    cpSync(path.join(REPO, 'agents'), path.join(root, 'agents'), { recursive: true });
    startUi(SESSION);
  });

  afterAll(() => {
    spawnSync('tmux', ['kill-session', '-t', SESSION]);
    spawnSync('tmux', ['kill-session', '-t', QUIT_SESSION]);
    rmSync(root, { recursive: true, force: true });
  });

  it('opens on the templates, runs an agent, shows every view, and restores the terminal on :q', async () => {
    const templates = await waitForScreen(/hello\s+1\.0\.0\s+(signed|unsigned|untrusted)/);
    expect(templates).toContain('Agent Factory');
    expect(templates).toContain('<enter> manifest');
    // The frame is shorter than the terminal, so the header stays on the first line (nothing scrolled).
    expect(templates.split('\n')[0]).toContain('Agent Factory');

    await send(':run hello', 'Enter');
    await waitForScreen('input › {"name":""}');
    await send('', 'BSpace', 'BSpace');
    await send('Ada"}', 'Enter');
    const run = await waitForScreen('"greeting": "Hello, Ada"');
    expect(run).toContain('✓ matches the input schema');

    // The input field takes every key while editing; Esc hands keys back to the app.
    await send('', 'Escape');
    await waitForScreen('<r/enter> run again');
    await send(':live', 'Enter');
    await waitForScreen(/hello .*\d+ runs? p95/);

    await send(':runs', 'Enter');
    const runs = await waitForScreen(/hello\s+1\.0\.0\s+ok/);
    expect(runs).toContain('STARTED (UTC)');
    await send('', 'Enter');
    await waitForScreen('The store keeps no inputs or outputs');
    await send('', 'Escape');
    await waitForScreen('STARTED (UTC)');

    await send('?');
    await waitForScreen('Keys in runs');
    await send('', 'Escape');

    await send(':suggestions', 'Enter');
    await waitForScreen('nothing to review');
    await send(':audit', 'Enter');
    await waitForScreen('chain intact');

    // Keys that arrive in one read are each handled: four rows down, then a command and its Enter.
    await send(':templates', 'Enter');
    const list = (await waitForScreen(/^› /m)).split('\n');
    const at = list.findIndex((line) => line.startsWith('› '));
    const fourthBelow = (list[at + 4] ?? '').trim().split(/\s+/)[0] as string;
    sendTogether(SESSION, 'jjjj');
    await waitForScreen(new RegExp(`^› ${fourthBelow}\\s`, 'm'));
    sendTogether(SESSION, ':audit', 'Enter');
    await waitForScreen('chain intact');

    sendTogether(SESSION, ':q', 'Enter');
    const after = await waitForScreen('af exited 0');
    // The alternate screen is gone: the shell's screen is back, without the UI's frame.
    expect(after).not.toContain('Agent Factory');
  }, 90_000);

  it('quits on q', async () => {
    startUi(QUIT_SESSION);
    await waitForScreen(/hello\s+1\.0\.0/, 20_000, QUIT_SESSION);
    await new Promise((resolve) => setTimeout(resolve, 300));
    tmux('send-keys', '-t', QUIT_SESSION, 'q');
    const after = await waitForScreen('af exited 0', 20_000, QUIT_SESSION);
    expect(after).not.toContain('Agent Factory');
  }, 60_000);
});
