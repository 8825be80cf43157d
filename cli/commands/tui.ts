/** @module cli/commands/tui — `af` with no arguments in a terminal: opens the terminal UI on the project. */
import { createFactory } from '../../runtime/index.js';
import { runTui } from '../../tui/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';

export interface TuiCommandOptions {
  /** Open this view instead of the templates: templates, runs, live, suggestions or audit. */
  view?: 'templates' | 'runs' | 'live' | 'suggestions' | 'audit';
}

/**
 * Opens the UI and returns when it is closed. Refuses (exit 2, help on stderr) without a TTY on
 * stdin and stdout, so a pipe or CI never puts the terminal into raw mode.
 */
export async function tuiCommand(context: CommandContext, options: TuiCommandOptions = {}): Promise<number> {
  const { streams } = context;
  if (!streams.stdin.isTTY || !streams.stdout.isTTY) {
    streams.stderr.write('af: the terminal UI needs an interactive terminal; run `af --help` for the commands\n');
    return EXIT.usage;
  }
  const config = context.config();
  // Logs would tear through the UI's frames; the factory stays silent and the UI shows outcomes itself.
  const factory = await createFactory({ root: config.root, env: config.env, home: config.home });
  try {
    await runTui({
      factory,
      stdin: streams.stdin as NodeJS.ReadStream,
      stdout: streams.stdout as NodeJS.WriteStream,
      stderr: streams.stderr as NodeJS.WriteStream,
      env: streams.env,
      ...(options.view ? { initialRoute: { view: options.view } } : {}),
    });
    return EXIT.ok;
  } finally {
    await factory.close();
  }
}
