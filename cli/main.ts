/** @module cli/main — the process entry of `af`: runs the command line against the real streams and exits with its status. */
import { runCli } from './program.js';

const status = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = status;
