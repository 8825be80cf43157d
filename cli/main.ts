/** @module cli/main — the process entry of `af`: runs the command line against the real streams and exits with its status. */
import type { CliStreams } from './io.js';

const argv = process.argv.slice(2);
const streams: CliStreams = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
};
// `af run` goes to the project's running `af serve` when there is one (cli/handoff-client): checked before the command
// tree is even loaded, which is most of what a handed-over run costs here. (bin/af.js does the same with the client's
// own small build, dist/cli-bundle/handoff.cjs, and then calls run-here itself.)
const outcome = argv.includes('run') ? await (await import('./handoff-client.js')).handOff(argv, streams) : { streams };
process.exitCode = await (await import('./run-here.js')).runHere(argv, outcome);
