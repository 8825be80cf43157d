/** @module cli/commands/runs-follow — `af runs --follow`: prints runs as other processes record them, until Ctrl-C. */
import { terminalSafeJson } from '../../core/terminal-text.js';
import type { RunFilter, SequencedRun, Store } from '../../store/index.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../exit-status.js';
import { untilStopped } from '../process-lifetime.js';
import { RUN_COLUMNS, runRow } from './runs.js';

/** How often the store is asked whether anything was committed. The question reads no table (`PRAGMA data_version`). */
export const FOLLOW_POLL_MS = 200;

/** Widths of the columns when rows arrive one by one and cannot be measured together first. */
const WIDTHS = [19, 14, 8, 5, 8, 14, 8, 8, 7];

export interface FollowOptions {
  json?: boolean;
  fullIds?: boolean;
  /** Stops following when aborted. @default SIGINT or SIGTERM */
  signal?: AbortSignal;
}

/**
 * Prints the last `filter.limit` matching runs, then every matching run written after them, in the order they were
 * written, until SIGINT or SIGTERM (exit 0). With `json`, one JSON object per line. Polls cheaply: an unchanged
 * `data_version` means no other connection committed, and nothing is read.
 */
export async function followRuns(context: CommandContext, store: Store, filter: RunFilter, options: FollowOptions): Promise<number> {
  const { stdout } = context.streams;
  const print = (runs: readonly SequencedRun[]) => {
    for (const { run } of runs) {
      if (options.json) stdout.write(`${terminalSafeJson(JSON.stringify(run))}\n`);
      else stdout.write(`${padded(runRow(context, run, options.fullIds === true))}\n`);
    }
  };
  if (!options.json) stdout.write(`${padded([...RUN_COLUMNS])}\n`);
  let cursor = await store.queries.maxSeq();
  let version = await store.queries.dataVersion();
  print(await store.queries.upTo(cursor, filter));
  const stopped = untilStopped(options.signal);
  let isStopped = false;
  void stopped.then(() => (isStopped = true));
  context.streams.stderr.write('following new runs; Ctrl-C to stop\n');
  while (!isStopped) {
    // A referenced timer: it is what keeps the process alive between polls (signal listeners do not).
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))]);
    if (isStopped) break;
    const now = await store.queries.dataVersion();
    if (now === version) continue;
    version = now;
    // Read first: every matching run up to it is printed below, so the cursor may skip to it past runs the filter leaves out.
    const top = await store.queries.maxSeq();
    // In pages, so a burst of thousands of runs is printed without holding them all.
    for (;;) {
      const page = await store.queries.after(cursor, { ...filter, limit: 500 });
      if (page.length === 0) break;
      print(page);
      cursor = (page[page.length - 1] as { seq: number }).seq;
      if (page.length < 500) break;
    }
    // Runs the filter left out still move the cursor, so they are not read again at every change.
    cursor = Math.max(cursor, top);
  }
  return EXIT.ok;
}

function padded(cells: string[]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '').length;
  return cells.map((cell, i) => (i < WIDTHS.length ? cell + ' '.repeat(Math.max(1, (WIDTHS[i] as number) - visible(cell) + 2)) : cell)).join('').trimEnd();
}
