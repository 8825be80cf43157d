// `af demo` on a fresh project (no keys, no .af): real agents in the demo environment with every signature checked
// against the DEMO root, the learner trained, a summary with real numbers; nothing written outside a temporary folder.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_ENV, demoCommand, type DemoSummary, loadDemoKeys } from '../../cli/commands/demo.js';
import { FactoryError } from '../../core/errors.js';
import { REPO_AGENTS } from '../agents/bundled.js';
import { captureContext } from '../helpers/streams.js';

const cwd = mkdtempSync(path.join(os.tmpdir(), 'af-demo-cwd-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

function capture() {
  const { context, printed } = captureContext({ cwd: cwd, env: { PATH: process.env.PATH } });
  return { context, out: () => printed.stdout, err: () => printed.stderr };
}

/** Every file under the bundled agents with its size and mtime, to show the demo changed none of them. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const stat = statSync(path.join(dir, name));
    out[name] = stat.isDirectory() ? 'dir' : `${stat.size}:${stat.mtimeMs}`;
  }
  return out;
}

describe('af demo', () => {
  it('runs the bundled agents, trains the learner and summarises, without touching the checkout or the current folder', async () => {
    const before = snapshot(REPO_AGENTS);
    const { context, out } = capture();
    const status = await demoCommand(context, { runs: 150, json: true });
    expect(status).toBe(0);
    const summary = JSON.parse(out()) as DemoSummary;
    expect(summary.env).toBe(DEMO_ENV);
    expect(summary.demoRoot).toBe(loadDemoKeys(REPO_AGENTS).root.id);
    // 150 planned runs, plus the children fan-out and the coordinator spawned.
    expect(summary.agents.reduce((sum, a) => sum + a.runs - a.spawned, 0)).toBe(150);
    expect(summary.runs).toBe(summary.agents.reduce((sum, a) => sum + a.runs, 0));
    expect(summary.agents.map((a) => a.agent)).toEqual([...summary.agents.map((a) => a.agent)].sort());
    for (const agent of summary.agents) {
      expect(agent.runMs.p95).toBeGreaterThanOrEqual(agent.runMs.p50);
      expect(agent.createMs.p95).toBeGreaterThanOrEqual(agent.createMs.p50);
    }
    // Signatures verified in a non-dev environment: a trust failure would show up as an error code here.
    for (const code of Object.keys(summary.errorsByCode)) expect(['E_CPU_LIMIT', 'E_MEMORY_LIMIT', 'E_TIMEOUT']).toContain(code);
    expect(summary.learn.runs).toBe(summary.runs);
    expect(summary.learn.templates).toBe(summary.agents.length);
    expect(summary.topSuggestions.length).toBe(Math.min(8, summary.learn.suggestions));
    expect(snapshot(REPO_AGENTS)).toEqual(before);
    expect(readdirSync(cwd)).toEqual([]);
  }, 120_000);

  it('prints a table per agent, errors by code and the top suggestions', async () => {
    const { context, out, err } = capture();
    expect(await demoCommand(context, { runs: 60, seed: 2 })).toBe(0);
    const text = out();
    expect(text).toMatch(/^Agent Factory demo — \d+ runs in [\d.]+ s \(\d+ runs\/s\), env demo, every agent signed by the DEMO key\n/);
    expect(text).toContain('AGENT  ');
    // Columns widen with their values (a slow machine's 100+ ms), so the header is matched up to its padding.
    expect(text).toMatch(/CREATE P50 +CREATE P95 +RUN P50 +RUN P95/);
    expect(text).toMatch(/learner: \d+ runs of \d+ templates in [\d.]+ s \(TensorFlow\.js \w+\), \d+ open suggestions/);
    expect(err()).toContain('af demo: 60 runs of 14 bundled agents in env "demo"');
  }, 120_000);

  it('refuses a bad --runs', async () => {
    const { context } = capture();
    const error = await demoCommand(context, { runs: 'lots' }).catch((caught: unknown) => caught);
    expect((error as FactoryError).code).toBe('E_USAGE');
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)('killed with %s mid-workload, removes its temporary state and exits 128+n', async (signal) => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'af-demo-kill-'));
    try {
      const child = spawn(process.execPath, [path.join(REPO_AGENTS, '..', 'bin', 'af.js'), 'demo', '--runs', '100000'], {
        cwd,
        env: { PATH: process.env.PATH, NO_COLOR: '1', TMPDIR: tmp },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      const started = new Promise<void>((resolve) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('removed afterwards')) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await started;
      expect(readdirSync(tmp).filter((name) => name.startsWith('af-demo-'))).toHaveLength(1);
      child.kill(signal);
      expect(await exited).toBe(128 + os.constants.signals[signal]);
      expect(readdirSync(tmp).filter((name) => name.startsWith('af-demo-'))).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
