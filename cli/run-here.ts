/** @module cli/run-here — the command line run in this process once it was not handed to an `af serve`: a one-shot run's host forked first, then the command tree. */
import { traceMark } from '../core/startup-trace.js';
import type { HandoffOutcome } from './handoff-client.js';

/**
 * The exit status of `argv` after its hand-off attempt (cli/handoff-client; `{ streams }` when none was tried): the
 * server's when it ran it, an error when the server went away mid-run, else the command run here. bin/af.js calls this
 * after the separately built hand-off client, cli/main after its own.
 */
export async function runHere(argv: readonly string[], outcome: HandoffOutcome): Promise<number> {
  if ('status' in outcome) return outcome.status;
  const { streams } = outcome;
  if ('lost' in outcome) {
    // Sent, and no answer: the run may have happened. Running it again here could run it twice.
    const { FactoryError } = await import('../core/errors.js');
    const { exitStatusFor } = await import('./exit-status.js');
    const { createPaint, printError } = await import('./io.js');
    const error = new FactoryError('E_INTERNAL', `the af serve (pid ${outcome.lost}) this run was handed to stopped before answering; the run may or may not have happened (see \`af runs\`)`);
    printError(streams, error, createPaint(streams.stderr, streams.env));
    return exitStatusFor(error.code);
  }
  // A one-shot run's sandbox host is forked now, before the command tree and the runtime load (cli/host-prestart);
  // the run command adopts it.
  if (argv.includes('run')) await (await import('./host-prestart.js')).prestartForCommandLine(argv, streams);
  const { runCli } = await import('./program.js');
  traceMark('cli: command tree loaded');
  return runCli(argv, streams);
}
