// Runs the af command in-process, as a user would from a terminal with no input, and captures what it printed.
import { runCli } from '../../cli/index.js';
import { captureStreams } from './streams.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** `af ...args` in `cwd`, with NO_COLOR set and `env` added to the command's environment. */
export async function runAf(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { streams, printed } = captureStreams({ cwd, env });
  const status = await runCli(args, streams);
  return { status, ...printed };
}
