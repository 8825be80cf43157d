/** @module cli/commands/tui — `af` with no arguments in a terminal: opens the terminal UI on the project. */
import { createFactory } from '../../runtime/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';

export interface TuiCommandOptions {
  /** Open this view instead of the templates: templates, runs, live, suggestions or audit. */
  view?: 'templates' | 'runs' | 'live' | 'suggestions' | 'audit';
  /** Open on this project, state folder and environment instead of the configured ones (the demo state of `npm start`). */
  state?: { root: string; home: string; env: string };
}

/** The variables by which Ink (through is-in-ci) decides, once, on first import, that no one is watching. */
const CI_VARIABLES = ['CI', 'CONTINUOUS_INTEGRATION'] as const;

/**
 * Loads the UI (Ink and React) only when it opens, so the subcommands start without them. Ink draws
 * nothing but the last frame when CI is set; here a person at a terminal asked for the UI, so those
 * variables are hidden while Ink decides and put back at once for everything else (sandbox hosts, agents).
 */
async function loadTuiForTerminal(): Promise<typeof import('../../tui/index.js')> {
  const saved = CI_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const [name] of saved) delete process.env[name];
  // React's development build times every render into Node's performance timeline, which keeps them all:
  // a session of hours grew by hundreds of megabytes. React and Ink pick their build once, on first import.
  const nodeEnv = process.env.NODE_ENV;
  if (nodeEnv === undefined) process.env.NODE_ENV = 'production';
  try {
    return await import('../../tui/index.js');
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
  }
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
  const { runTui } = await loadTuiForTerminal();
  const state = options.state ?? context.config();
  const { root, env, home } = state;
  const store = 'store' in state ? state.store : undefined;
  // Logs would tear through the UI's frames; the factory stays silent and the UI shows outcomes itself.
  const factory = await createFactory({ root, env, home, store });
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
