/** @module cli/commands/run — `af run NAME`: runs one agent on an input from --input, --input-file or stdin. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../../core/errors.js';
import { escapeLine, terminalSafeJson } from '../../core/terminal-text.js';
import { createFactory, type RunOrigin } from '../../runtime/index.js';
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
  // A one-shot run reads the folder once: no file watcher (a long-lived factory in dev watches by default).
  const factory = await createFactory({ root: config.root, env: options.env ?? config.env, hosts: 1, watch: false, processEnv: context.streams.env, logger: context.logger });
  try {
    const report = await factory.runSettled(name, input, {
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
    });
    const { stats } = report;
    const origin = { version: report.version, digest: report.digest, source: report.source, signed: report.signed, ...(report.keyId ? { keyId: report.keyId } : {}) };
    if (options.json) {
      context.streams.stdout.write(
        `${terminalSafeJson(JSON.stringify(report.ok ? { ok: true, runId: report.runId, ...origin, output: report.output, stats } : { ok: false, runId: report.runId, ...origin, error: report.error, stats }))}\n`,
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
      context.streams.stderr.write(`${errPaint.dim(describeOrigin(name, report))}\n`);
    }
    return report.ok ? EXIT.ok : exitStatusFor(report.error.code);
  } finally {
    await factory.close();
  }
}

/**
 * Which code ran, on one line: `ran hi 1.1.0 (digest 3f2a9c1e0b7d, on disk, signed by 0123456789abcdef)`.
 * Two edits of one version differ in their digest, which `af runs` shows too.
 */
export function describeOrigin(name: string, origin: RunOrigin): string {
  const source = origin.source === 'on-disk' ? 'on disk' : origin.source === 'stored' ? 'stored version' : 'canary candidate';
  const trust = origin.signed ? `signed${origin.keyId ? ` by ${origin.keyId}` : ''}` : 'unsigned: dev only';
  return `ran ${escapeLine(name)} ${escapeLine(origin.version)} (digest ${shortDigest(origin.digest)}, ${source}, ${trust})`;
}

/** The first 12 hex digits of a digest: enough to tell two builds of one version apart at a glance. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 12);
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
      throw new FactoryError('E_INPUT_INVALID', `cannot read --input-file ${options.inputFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
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
    throw new FactoryError('E_INPUT_INVALID', `input from ${where} is not valid JSON: line ${error.line}, column ${error.column}: ${error.message}`, {
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
