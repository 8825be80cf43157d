/** @module cli/handoff-protocol — the messages between `af run` and the `af serve` it hands a run to: one JSON line each way over a Unix socket. */

/** `.af/serve.json`: how a running `af serve` is found (mode 0600). */
export const HANDOFF_FILE = 'serve.json';

/** Input is at most 16 MB (`af run`); the rest of a request is small. */
export const MAX_REQUEST_BYTES = 40 * 1024 * 1024;

export interface HandoffFile {
  v: 1;
  pid: number;
  socket: string;
  token: string;
  root: string;
  home: string;
  env: string;
  store: string | undefined;
}

export interface HandoffRequest {
  token: string;
  pid: number;
  /** The command line, as typed after `af`. */
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** What stdin held (read to its end), or null when it is a terminal (the run's input is then `{}` or a flag's). */
  stdin: string | null;
  tty: { stdout: boolean; stderr: boolean };
  columns?: number;
}

export type HandoffAnswer =
  | { t: 'done'; status: number; out: Array<[1 | 2, string]> }
  /** Runs in the caller: the command needs what only the caller has. */
  | { t: 'declined'; reason: string }
  | { t: 'refused'; reason: string };
