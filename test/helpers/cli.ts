// Runs the af command in-process, as a user would from a terminal with no input, and captures what it printed.
import { PassThrough } from 'node:stream';
import { runCli } from '../../cli/index.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** `af ...args` in `cwd`, with NO_COLOR set and `env` added to the command's environment. */
export async function runAf(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const stdin = new PassThrough();
  stdin.end();
  const status = await runCli(args, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    stdin,
    env: { NO_COLOR: '1', ...env },
    cwd,
  });
  return { status, stdout, stderr };
}
