/** @module cli/program — the `af` command tree; runs one command line and returns its exit status. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { FactoryError, toFactoryError } from '../core/errors.js';
import { escapeControl, terminalSafeJson } from '../core/terminal-text.js';
import { enableTelemetry, type TelemetrySdk } from '../runtime/telemetry/index.js';
import { COMMANDS, type CommandSpec, GLOBAL_OPTIONS, type HandlerEnvironment, type OptionSpec, PROGRAM_DESCRIPTION } from './command-table.js';
import { type CommandContext, createCommandContext, type GlobalOptions } from './context.js';
import { EXIT, exitStatusFor } from './exit-status.js';
import { type CliStreams, printError } from './io.js';

/** The version `af --version` prints: package.json's. */
const VERSION = packageVersion();

/**
 * Reads the version from the package's own package.json: two folders up from the build (`dist/cli/`, also in an installed
 * copy), one up from the sources (`cli/`, under the tests). A plain read: resolving `agent-factory/package.json` through
 * Node's resolver cost 10 ms or more at every start of `af`, a read about a millisecond.
 */
function packageVersion(): string {
  for (const relative of ['../../package.json', '../package.json']) {
    let manifest: { name?: unknown; version?: unknown };
    try {
      manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as typeof manifest;
    } catch {
      continue;
    }
    if (manifest.name === 'agent-factory' && typeof manifest.version === 'string') return manifest.version;
  }
  throw new FactoryError('E_INTERNAL', `agent-factory's package.json is not beside ${fileURLToPath(import.meta.url)}; reinstall agent-factory`);
}

/**
 * Runs `af` with `argv` (the words after `af`) and returns the exit status instead of exiting,
 * so tests can drive it in-process. Errors are printed, never thrown.
 */
export async function runCli(argv: readonly string[], streams: CliStreams): Promise<number> {
  let status: number = EXIT.ok;
  let isJson = false;
  const program = new Command('af');
  const context = createCommandContext(streams, () => program.opts<GlobalOptions>());
  const environment: HandlerEnvironment = { context, program };
  // Every action reports its status here; commander itself never exits the process.
  const declare = (parent: Command, spec: CommandSpec): void => {
    const command = parent.command(spec.name, spec.isDefault ? { isDefault: true } : {}).description(spec.description);
    for (const argument of spec.arguments ?? []) {
      const declared = program.createArgument(argument.name, argument.description);
      command.addArgument(argument.choices ? declared.choices(argument.choices) : declared);
    }
    addOptions(command, spec.options ?? []);
    if (spec.helpAfter !== undefined) command.addHelpText('after', spec.helpAfter);
    const { handler } = spec;
    if (handler) {
      // Commander calls an action with the arguments, the options, then the command itself.
      command.action(async (...parsed: unknown[]) => {
        const own = parsed.at(-1) as Command;
        isJson = own.opts<{ json?: boolean }>().json === true;
        status = await handler(environment, parsed.slice(0, -1));
      });
    }
    for (const child of spec.subcommands ?? []) declare(command, child);
  };

  program.description(PROGRAM_DESCRIPTION).version(VERSION, '-V, --version');
  addOptions(program, GLOBAL_OPTIONS);
  program
    .showHelpAfterError('(run `af --help` for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
    });
  for (const spec of COMMANDS) declare(program, spec);

  if (argv.length === 0) {
    try {
      const { countRuns, startAction } = await import('./start.js');
      const start = startAction({
        isTerminal: streams.stdin.isTTY === true && streams.stdout.isTTY === true,
        isNpmStart: streams.env.npm_lifecycle_event === 'start',
        projectRuns: () => countRuns(context.config().dbPath),
      });
      if (start === 'help') {
        streams.stdout.write(program.helpInformation());
        return EXIT.ok;
      }
      if (start === 'tui') return await (await import('./commands/tui.js')).tuiCommand(context);
      const demo = await import('./commands/demo.js');
      if (start === 'demo-summary') return await demo.demoCommand(context, {});
      streams.stderr.write('no runs in this project yet: opening the UI on demo data (the bundled agents as a workload, in a temporary state removed when the UI closes)\n');
      const state = await demo.prepareDemoState(context, {});
      try {
        return await (await import('./commands/tui.js')).tuiCommand(context, { state });
      } finally {
        demo.removeDemoState(state);
      }
    } catch (error) {
      return reportFailure(context, toFactoryError(error), false);
    }
  }

  let sdk: TelemetrySdk | undefined;
  // The OpenTelemetry SDK is imported only when asked for, so a plain run pays nothing for it.
  program.hook('preAction', async (_root, actionCommand) => {
    await checkEnvironments(context, program.opts<GlobalOptions>().env, actionCommand);
    sdk = await enableTelemetry({ ...(program.opts<GlobalOptions>().otel ? { enabled: true } : {}), env: streams.env, logger: context.logger });
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    return reportFailure(context, toFactoryError(error), isJson);
  } finally {
    await sdk?.shutdown();
  }
  return status;
}

/**
 * Refuses an environment the project does not know (`--env stagign`) where one is used: the global `--env` when given,
 * a command's own `--env`, `AF_ENV` for commands that take an environment, and `af serve --allow-env`.
 */
async function checkEnvironments(context: CommandContext, globalEnv: string | undefined, command: Command): Promise<void> {
  const own = command.opts<{ env?: string; allowEnv?: string }>();
  const takesEnv = command.options.some((option) => option.long === '--env') || command.name() === 'serve';
  const given: Array<[string, string]> = [];
  if (globalEnv !== undefined) given.push([globalEnv, '--env']);
  if (own.env !== undefined) given.push([own.env, '--env']);
  if (takesEnv && globalEnv === undefined && own.env === undefined && context.streams.env.AF_ENV !== undefined) given.push([context.streams.env.AF_ENV, 'AF_ENV']);
  if (command.name() === 'serve' && own.allowEnv !== undefined) {
    for (const env of own.allowEnv.split(',').map((part) => part.trim()).filter((part) => part !== '')) given.push([env, '--allow-env']);
  }
  if (given.length === 0) return;
  const { checkEnvironment } = await import('./environments.js');
  for (const [env, where] of given) checkEnvironment(() => context.config(), env, where);
}

function addOptions(command: Command, options: readonly OptionSpec[]): void {
  for (const option of options) {
    if (option.required) command.requiredOption(option.flags, option.description, option.defaultValue);
    else command.option(option.flags, option.description, option.defaultValue);
  }
}

function reportFailure(context: CommandContext, error: FactoryError, isJson: boolean): number {
  // One line, like `af run --json`, so scripts can read the last line of stdout either way.
  if (isJson) context.streams.stdout.write(`${terminalSafeJson(JSON.stringify({ ok: false, error: error.toJSON() }))}\n`);
  printError(context.streams, error, context.errPaint);
  if (error.code === 'E_INTERNAL' && error.cause instanceof Error && context.streams.env.AF_DEBUG) {
    context.streams.stderr.write(`${escapeControl(error.cause.stack ?? '')}\n`);
  }
  return exitStatusFor(error.code);
}
