/** @module cli/commands/run — `af run NAME`: runs one agent on an input from --input, --input-file or stdin. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../../core/errors.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import { createFactory } from '../../runtime/index.js';
import { JsonSyntaxError, parseJsonSource } from '../../templates/index.js';
import type { CommandContext } from '../context.js';
import { EXIT, exitStatusFor } from '../exit-status.js';

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
  const config = context.config();
  // One host is enough for one run, and forks faster than one per core.
  const factory = await createFactory({ root: config.root, env: options.env ?? config.env, hosts: 1, processEnv: context.streams.env, logger: context.logger });
  try {
    const report = await factory.runSettled(name, input, {
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    });
    const { stats } = report;
    if (options.json) {
      context.streams.stdout.write(
        `${terminalSafeJson(JSON.stringify(report.ok ? { ok: true, runId: report.runId, output: report.output, stats } : { ok: false, runId: report.runId, error: report.error, stats }))}\n`,
      );
      if (!report.ok) context.streams.stderr.write(`error ${escapeLine(report.error.code)}: ${escapeLine(report.error.message)}\n`);
    } else {
      const { errPaint } = context;
      // Logs, outputs and error messages are the agent's: one line each, no control characters (a `\r` or `\n`
      // would let an agent forge an `ok` line, an escape sequence retitle or clear the terminal).
      for (const entry of stats.logs) {
        context.streams.stderr.write(`${errPaint.dim(`[${name}] ${escapeLine(entry.level)}`)} ${escapeLine(entry.message)}${entry.fields !== undefined ? ` ${escapeLine(JSON.stringify(entry.fields))}` : ''}\n`);
      }
      const cost = `run ${stats.runMs.toFixed(2)} ms · create ${stats.createMs.toFixed(2)} ms · cpu ${stats.cpuMs.toFixed(2)} ms`;
      if (report.ok) {
        context.streams.stdout.write(`${terminalSafeJson(JSON.stringify(report.output, null, 2) ?? 'undefined')}\n`);
        context.streams.stderr.write(`${errPaint.green('ok')} ${errPaint.dim(cost)}\n`);
      } else {
        context.streams.stderr.write(`${errPaint.red('error')} ${errPaint.bold(escapeLine(report.error.code))}: ${escapeLine(report.error.message)}\n${errPaint.dim(cost)}\n`);
      }
    }
    return report.ok ? EXIT.ok : exitStatusFor(report.error.code);
  } finally {
    await factory.close();
  }
}

async function readInput(context: CommandContext, options: RunCommandOptions): Promise<unknown> {
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
    if (!(error instanceof JsonSyntaxError)) throw error;
    // Text that is not JSON never reached the agent: a usage mistake (exit 2); E_INPUT_INVALID is for input the schema refuses.
    throw new FactoryError('E_USAGE', `input from ${where} is not valid JSON: line ${error.line}, column ${error.column}: ${error.message}`, {
      problems: [{ file: where, line: error.line, column: error.column, message: error.message }],
    });
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
