/** @module cli/run-report — prints the outcome of one run as `af run` does: output on stdout, logs, cost and the code that ran on stderr, or one JSON line. */
import { escapeLine, terminalSafeJson } from '../core/terminal-text.js';
import type { RunOrigin, RunReport } from '../runtime/index.js';
import type { CommandContext } from './context.js';
import { EXIT, exitStatusFor } from './exit-status.js';

/**
 * Prints `report` for the template `name` and returns the exit status `af run` gives it. `extra` is added to the
 * `--json` line (e.g. which run was replayed).
 */
export function printRunReport(context: CommandContext, name: string, report: RunReport, options: { json?: boolean; extra?: Record<string, unknown> } = {}): number {
  const { stats } = report;
  if (options.json) {
    const origin = { version: report.version, digest: report.digest, source: report.source, signed: report.signed, ...(report.keyId ? { keyId: report.keyId } : {}) };
    const line = report.ok
      ? { ok: true, runId: report.runId, ...origin, ...options.extra, output: report.output, stats }
      : { ok: false, runId: report.runId, ...origin, ...options.extra, error: report.error, stats };
    context.streams.stdout.write(`${terminalSafeJson(JSON.stringify(line))}\n`);
    if (!report.ok) context.streams.stderr.write(`error ${escapeLine(report.error.code)}: ${escapeLine(report.error.message)}\n`);
  } else {
    const { errPaint } = context;
    // Logs, outputs and error messages are the agent's: one line each, no control characters (a `\r` or `\n`
    // would let an agent forge an `ok` line, an escape sequence retitle or clear the terminal).
    for (const entry of stats.logs) {
      context.streams.stderr.write(`${errPaint.dim(`[${escapeLine(name)}] ${escapeLine(entry.level)}`)} ${escapeLine(entry.message)}${entry.fields !== undefined ? ` ${escapeLine(JSON.stringify(entry.fields))}` : ''}\n`);
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
}

/**
 * Which code ran, on one line: `ran hi 1.1.0 (digest 3f2a9c1e0b7d, on disk, signed by 0123456789abcdef)`.
 * Two edits of one version differ in their digest, which `af runs` shows too.
 */
export function describeOrigin(name: string, origin: RunOrigin): string {
  const source = origin.source === 'on-disk' ? 'on disk' : origin.source === 'stored' ? 'stored version' : 'canary candidate';
  const trust = origin.signed ? `signed${origin.keyId ? ` by ${origin.keyId}` : ''}` : 'signature not verified: dev only';
  return `ran ${escapeLine(name)} ${escapeLine(origin.version)} (digest ${shortDigest(origin.digest)}, ${source}, ${trust})`;
}

/** The first 12 hex digits of a digest: enough to tell two builds of one version apart at a glance. */
export function shortDigest(digest: string): string {
  return digest.slice(0, 12);
}
