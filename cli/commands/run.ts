/** @module cli/commands/run — `af run NAME`: runs one agent on an input from --input, --input-file or stdin. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../../core/errors.js';
import { traceMark } from '../../core/startup-trace.js';
import { jsonSyntaxProblem, parseJsonSource } from '../../templates/json-source.js';
import type { CommandContext } from '../context.js';
import { declineHandoff, type HandoffScope, handoffScope } from '../handoff-scope.js';
import { discardPrestartedHost, prestartOneShotHost } from '../host-prestart.js';
import { printRunReport } from '../run-report.js';

export interface RunCommandOptions {
  input?: string;
  inputFile?: string;
  env?: string;
  tenant?: string;
  json?: boolean;
}

/** Largest input read from a file or stdin. */
const MAX_INPUT_BYTES = 16 * 1024 * 1024;

export async function runCommand(context: CommandContext, name: string, options: RunCommandOptions): Promise<number> {
  if (options.input !== undefined && options.inputFile !== undefined) {
    throw new FactoryError('E_USAGE', 'give the input once: either --input or --input-file');
  }
  const input = await readInput(context, options);
  const served = handoffScope.getStore();
  if (served) return runHandedOff(context, served, name, input, options);
  const config = context.config();
  // The host's start is most of a one-shot run: it is forked first, and starts while the runtime loads and the
  // template resolves (the runtime is imported after it for that reason).
  prestartOneShotHost(config);
  let factory;
  try {
    const { createFactory } = await import('../../runtime/index.js');
    traceMark('cli: runtime loaded');
    // One host is enough for one run, and forks faster than one per core.
    // A one-shot run reads the folder once: no file watcher (a long-lived factory in dev watches by default).
    factory = await createFactory({ root: config.root, env: options.env ?? config.env, home: config.home, store: config.store, hosts: 1, watch: false, processEnv: context.streams.env, logger: context.logger });
    traceMark('cli: factory open');
  } finally {
    // Not adopted (the factory failed to open): nothing may outlive the command.
    discardPrestartedHost();
  }
  try {
    const report = await factory.runSettled(name, input, {
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    });
    traceMark('cli: run settled');
    return printRunReport(context, name, report, options.json ? { json: true } : {});
  } finally {
    traceMark('cli: result printed, closing');
    await factory.close();
    traceMark('cli: factory closed');
  }
}

/**
 * `af run` handed to a running `af serve` (cli/handoff-server): the same command, on the server's factory. It runs what
 * a local run would or hands the run back: the project, state folder, store and environment must be the server's, the
 * template is resolved from disk now (never a cached or last-good version: an edit just saved is what runs), and a
 * template granted environment variables runs only where the caller's values are the server's.
 */
async function runHandedOff(context: CommandContext, served: HandoffScope, name: string, input: unknown, options: RunCommandOptions): Promise<number> {
  const config = context.config();
  const { factory } = served;
  const env = options.env ?? config.env;
  if (config.root !== factory.config.root || config.home !== factory.config.home || config.store !== served.store || env !== factory.config.env) {
    declineHandoff(served, 'another project, state folder, store or environment than the server');
  }
  const { lockdownReport, missingLayersWarning, unpatchedIsolateLibraryWarning } = await import('../../sandbox/index.js');
  const { envValuesFor } = await import('../../sandbox/calling-side.js');
  // The start-up warnings a factory of a non-dev environment prints: a local run prints them every time.
  if (!factory.isDevEnvironment(env)) {
    const unpatched = unpatchedIsolateLibraryWarning();
    if (unpatched !== undefined) context.logger.warn(unpatched);
    const missing = missingLayersWarning(lockdownReport('auto'));
    if (missing !== undefined) context.logger.warn(missing);
  }
  const template = await factory.registry.resolveFresh(name, { env });
  if (JSON.stringify(envValuesFor(template.spec, context.streams.env)) !== JSON.stringify(envValuesFor(template.spec, served.serverEnv))) {
    declineHandoff(served, `"${name}" is granted environment variables whose values here are not the server's`);
  }
  const report = await factory.runSettled(name, input, {
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
  });
  served.runId = report.runId;
  return printRunReport(context, name, report, options.json ? { json: true } : {});
}

export async function readInput(context: CommandContext, options: RunCommandOptions): Promise<unknown> {
  let text: string;
  let where: string;
  if (options.input !== undefined) {
    text = options.input;
    where = '--input';
  } else if (options.inputFile !== undefined) {
    const file = path.resolve(context.streams.cwd, options.inputFile);
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      // The command line names a file that is not there: a usage mistake (exit 2), not an agent failing on its input.
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message);
      throw new FactoryError('E_USAGE', `cannot read --input-file ${options.inputFile}: ${why} (${file})`, { cause: error });
    }
    where = options.inputFile;
  } else if (context.streams.stdin.isTTY) {
    return {};
  } else {
    text = await readStream(context.streams.stdin);
    where = 'stdin';
    if (text.trim() === '') return {};
  }
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) {
    throw new FactoryError('E_INPUT_INVALID', `input from ${where} is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`);
  }
  try {
    return parseJsonSource(text).value;
  } catch (error) {
    const problem = jsonSyntaxProblem(error, where);
    if (!problem) throw error;
    // Text that is not JSON never reached the agent: a usage mistake (exit 2); E_INPUT_INVALID is for input the schema refuses.
    throw new FactoryError('E_USAGE', `input from ${where} is not valid JSON: line ${problem.line}, column ${problem.column}: ${problem.message}`, { problems: [problem] });
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_INPUT_BYTES) throw new FactoryError('E_INPUT_INVALID', `input from stdin is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
