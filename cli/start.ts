/** @module cli/start — what `af` with no command does: help, the terminal UI on the project, or (`npm start` in a fresh checkout) on demo data. */
import { existsSync } from 'node:fs';
// Past the store's index on purpose: `af` with no command decides between help and the UI, and the whole store
// module costs about 40 ms more to load than the one function this needs.
import { openDatabase } from '../store/database.js';

/**
 * - `help`: not a terminal and not `npm start`: pipes and CI get the help, and raw mode is never touched;
 * - `demo-summary`: `npm start` without a terminal: the demo workload and its printed summary;
 * - `tui`: a terminal, on the project;
 * - `tui-on-demo`: `npm start` in a terminal on a project with no runs of its own: the demo workload runs into a
 *   temporary state first (progress on stderr), and the UI opens on that, where the bundled agents' DEMO signatures
 *   verify. A project with runs opens on its own data: `npm start` is also how a contributor opens their UI.
 */
export type StartAction = 'help' | 'demo-summary' | 'tui' | 'tui-on-demo';

export interface StartSituation {
  /** stdin and stdout are terminals. */
  isTerminal: boolean;
  /** Started by `npm start` (npm_lifecycle_event=start). */
  isNpmStart: boolean;
  /** The project's recorded runs; asked only when it decides. undefined: the store could not be read. */
  projectRuns(): number | undefined;
}

export function startAction(situation: StartSituation): StartAction {
  if (!situation.isTerminal) return situation.isNpmStart ? 'demo-summary' : 'help';
  if (!situation.isNpmStart) return 'tui';
  // A store that cannot be read opens the project, where the UI says what is wrong with it; demo data would hide that.
  const runs = situation.projectRuns();
  return runs === 0 ? 'tui-on-demo' : 'tui';
}

/** Runs in the store at `dbPath`, read-only (no store is created); 0 when there is none yet, undefined when it cannot be read. */
export function countRuns(dbPath: string): number | undefined {
  if (!existsSync(dbPath)) return 0;
  try {
    const db = openDatabase(dbPath, { readonly: true });
    try {
      const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'").get();
      return table ? (db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n : 0;
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}
