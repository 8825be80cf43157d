/** @module cli/main — the process entry of `af`: runs the command line against the real streams and exits with its status. */
import type { CliStreams } from './io.js';

const argv = process.argv.slice(2);
let streams: CliStreams = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
};
let status: number | undefined;
// `af run` goes to the project's running `af serve` when there is one (cli/handoff-client): checked before the command
// tree is even loaded, which is most of what a handed-over run costs here.
if (argv.includes('run')) {
  const outcome = await (await import('./handoff-client.js')).handOff(argv, streams);
  if ('status' in outcome) status = outcome.status;
  else {
    streams = outcome.streams;
    // Runs here: the sandbox host is forked now, before the command tree and the runtime load (cli/host-prestart);
    // the run command adopts it.
    await (await import('./host-prestart.js')).prestartForCommandLine(argv, streams);
  }
}
status ??= await (await import('./program.js')).runCli(argv, streams);
process.exitCode = status;
