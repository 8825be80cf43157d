/** @module cli/io — the streams a command writes to and how it prints data, tables and errors; injectable for tests. */
import { type FactoryError, formatProblem } from '../core/errors.js';
import { shouldUseColor } from '../core/logger.js';
import { escapeControl, terminalSafeJson } from '../core/terminal-text.js';

export interface CliStreams {
  stdout: { write(chunk: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Colour helpers that print plain text when colour is off (NO_COLOR, not a TTY). */
export interface Paint {
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function createPaint(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): Paint {
  const isOn = shouldUseColor(stream, env);
  const wrap = (open: number, close: number) => (text: string) => (isOn ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/** Writes `value` as one JSON document on stdout; characters a terminal would act on are `\uXXXX` escapes. */
export function printJson(streams: CliStreams, value: unknown): void {
  streams.stdout.write(`${terminalSafeJson(JSON.stringify(value, null, 2))}\n`);
}

/** Renders rows as left-aligned columns under a header. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) => Math.max(visibleLength(title), ...rows.map((row) => visibleLength(row[column] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** Prints an error for a person on stderr: the code, what went wrong, and every located problem. */
export function printError(streams: CliStreams, error: FactoryError, paint: Paint): void {
  // Messages quote what agents, signers and clients wrote (a thrown message, a denied path): never control characters.
  const lines = [`${paint.red('error')} ${paint.bold(escapeControl(error.code))}: ${escapeControl(error.message)}`];
  // The message of a multi-problem error already lists them; add them only when it does not.
  if (error.problems.length > 0 && !error.message.includes('\n')) {
    for (const problem of error.problems) {
      const text = formatProblem(problem);
      if (!error.message.includes(problem.message)) lines.push(`  ${escapeControl(text)}`);
    }
  }
  streams.stderr.write(`${lines.join('\n')}\n`);
}
