// Runs the af command in-process, as a user would from a terminal with no input, and captures what it printed.
// With AF_TEST_CLI=bundle, `af` runs as its own process from the bundled CLI (dist/cli-bundle/main.js, what bin/af.js
// loads), so the CLI tests check the bundle too: `AF_TEST_CLI=bundle npx vitest run test/cli/run.test.ts`.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runCli } from '../../cli/index.js';
import { captureStreams } from './streams.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

const BUNDLE = path.resolve(import.meta.dirname, '../../dist/cli-bundle/main.js');

/** `af ...args` in `cwd`, with NO_COLOR set and `env` added to the command's environment. */
export async function runAf(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  if (process.env.AF_TEST_CLI === 'bundle') return runBundled(cwd, args, env);
  const { streams, printed } = captureStreams({ cwd, env });
  const status = await runCli(args, streams);
  return { status, ...printed };
}

/** The same, as a process of the bundled CLI: the environment is the in-process one (NO_COLOR and `env`) plus PATH. */
function runBundled(cwd: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE, ...args], { cwd, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', AF_NO_HANDOFF: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}
