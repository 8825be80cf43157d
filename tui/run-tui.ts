/** @module tui/run-tui — mounts the app on a terminal (alternate screen, raw mode through Ink) and resolves when the user quits. */
import { createElement } from 'react';
import { render } from 'ink';
import { FactoryError } from '../core/errors.js';
import { App } from './App.js';
import { createTuiServices, type TuiServicesOptions } from './services.js';

export interface TuiOptions extends TuiServicesOptions {
  /** @default process.stdin */
  stdin?: NodeJS.ReadStream;
  /** @default process.stdout */
  stdout?: NodeJS.WriteStream;
  /** @default process.stderr */
  stderr?: NodeJS.WriteStream;
  /** Draw on the terminal's alternate screen and restore the shell's screen on exit, as k9s and less do. @default true */
  isAlternateScreen?: boolean;
}

const ENTER_ALTERNATE = '\u001b[?1049h\u001b[H';
const LEAVE_ALTERNATE = '\u001b[?1049l';

/**
 * Opens the terminal UI and resolves when it is closed (`:q` or Ctrl-C). The factory stays open: the caller closes it.
 * @throws FactoryError `E_USAGE` when stdin or stdout is not a terminal: raw mode needs one, and a pipe would hang.
 * @example
 * const factory = await createFactory({ root: '.' });
 * try { await runTui({ factory }); } finally { await factory.close(); }
 */
export async function runTui(options: TuiOptions): Promise<void> {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  if (!stdin.isTTY || !stdout.isTTY) {
    throw new FactoryError('E_USAGE', 'the terminal UI needs an interactive terminal (stdin and stdout a TTY); use the `af` subcommands in scripts (`af --help`)');
  }
  const services = createTuiServices({ ...options, isTTY: stdout.isTTY === true });
  const isAlternate = options.isAlternateScreen ?? true;
  if (isAlternate) stdout.write(ENTER_ALTERNATE);
  try {
    const instance = render(createElement(App, { services }), { stdin, stdout, stderr, exitOnCtrlC: true, patchConsole: true, maxFps: 20 });
    await instance.waitUntilExit();
  } finally {
    if (isAlternate) stdout.write(LEAVE_ALTERNATE);
  }
}
