/** @module core/errors — the one error hierarchy: stable codes, messages that say what to do next. */

/**
 * Codes of the errors a tool call gives the agent (`ctx.fetch`, `ctx.readTextFile`, `ctx.writeTextFile`), besides the
 * run codes a tool may also give (`E_PERMISSION_DENIED`, `E_USAGE`, `E_DISPOSED`, `E_KV_QUOTA`, `E_SPAWN_LIMIT`,
 * `E_STORE`, `E_INTERNAL`). The file codes keep the operating system's spelling, as Node and Deno give them, because
 * agents match on them (`if (e.code === 'ENOENT')`); a system code not listed here reaches the agent as `EIO`, its
 * message naming the system's own. An agent may catch them; uncaught, the run ends with `E_AGENT_THREW` and the tool
 * code as `details.cause`, so they reach a user only as the cause of an agent failure (HTTP 422, exit status 1).
 */
export const TOOL_ERROR_CODES = [
  'E_FETCH',
  'ENOENT',
  'EISDIR',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOSPC',
  'EDQUOT',
  'EFBIG',
  'EMFILE',
  'ENFILE',
  'ENAMETOOLONG',
  'EBUSY',
  'ETXTBSY',
  'EAGAIN',
  'ENXIO',
  'EIO',
] as const;

/** Every code a {@link FactoryError} can carry. Stable: scripts and the HTTP API match on them. */
export const ERROR_CODES = [
  'E_TEMPLATE_NOT_FOUND',
  'E_TEMPLATE_INVALID',
  'E_TEMPLATE_IMPORT',
  'E_SIGNATURE_MISSING',
  'E_SIGNATURE_INVALID',
  'E_KEY_REVOKED',
  'E_KEY_EXPIRED',
  'E_POLICY_DENIED',
  'E_VERSION_RETIRED',
  'E_TRUST_STATE',
  'E_PERMISSION_DENIED',
  'E_INPUT_INVALID',
  'E_OUTPUT_INVALID',
  'E_AGENT_THREW',
  'E_TIMEOUT',
  'E_CPU_LIMIT',
  'E_MEMORY_LIMIT',
  'E_OUTPUT_LIMIT',
  'E_SANDBOX_CRASHED',
  'E_SPAWN_LIMIT',
  'E_KV_QUOTA',
  'E_DISPOSED',
  'E_UNAUTHORIZED',
  'E_FORBIDDEN',
  'E_RATE_LIMITED',
  'E_STORE',
  'E_USAGE',
  'E_INTERNAL',
  'E_NOT_FOUND',
  'E_CONFLICT',
  'E_BODY_TOO_LARGE',
  'E_NOT_IMPLEMENTED',
  'E_UNAVAILABLE',
  'E_SUGGESTION_NOT_FOUND',
  'E_KEY_NOT_FOUND',
  'E_SIGNER_KEY_MISSING',
  ...TOOL_ERROR_CODES,
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A code a tool call gives the agent; see {@link TOOL_ERROR_CODES}. */
export type ToolErrorCode = (typeof TOOL_ERROR_CODES)[number];

/** One problem found while checking a document: where it is and what is wrong. */
export interface Problem {
  /** File the problem is in, relative to the project root where possible. */
  file?: string;
  /** JSON pointer (RFC 6901) into the document; `''` is the whole document. */
  pointer?: string;
  /** 1-based line and column in `file`, when known. */
  line?: number;
  column?: number;
  message: string;
}

export interface FactoryErrorOptions {
  cause?: unknown;
  /** Every problem behind the error, for errors that summarise a list (validation). */
  problems?: Problem[];
  /** Extra machine-readable facts (the permission, the limit, the rule id). */
  details?: Record<string, unknown>;
}

const BRAND = Symbol.for('agent-factory.FactoryError');

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  E_TEMPLATE_NOT_FOUND: 'Template not found; run `af templates list` to see what is available.',
  E_TEMPLATE_INVALID: 'Template is invalid; run `af validate` for every problem and where it is.',
  E_TEMPLATE_IMPORT: 'Template imports something it may not; only relative files inside its folder can be imported.',
  E_SIGNATURE_MISSING: 'Template is not signed; sign it with `af sign NAME`.',
  E_SIGNATURE_INVALID: 'Template signature does not match its content; re-sign it with `af sign NAME`.',
  E_KEY_REVOKED: 'Template was signed with a revoked key; re-sign it with a current key.',
  E_KEY_EXPIRED: 'Template was signed with an expired key; re-sign it with a current key.',
  E_POLICY_DENIED: 'Template is denied by policy; see the rule named in the message.',
  E_VERSION_RETIRED: 'This template version was retired (`af versions retire`); run a newer version (`af versions list NAME`).',
  E_TRUST_STATE: 'The trust data (roots, revocations, retirements) is not what the keys folder vouches for; run `af keys verify`.',
  E_PERMISSION_DENIED: 'Permission denied; grant it in the template manifest.',
  E_INPUT_INVALID: 'Input does not match the template input schema.',
  E_OUTPUT_INVALID: 'Agent output does not match the template output schema.',
  E_AGENT_THREW: 'The agent threw an error.',
  E_TIMEOUT: 'The run exceeded its wall-time limit (limits.timeoutMs).',
  E_CPU_LIMIT: 'The run exceeded its CPU-time limit (limits.cpuMs).',
  E_MEMORY_LIMIT: 'The run exceeded its memory limit (limits.memoryMb).',
  E_OUTPUT_LIMIT: 'The run output exceeded its size limit (limits.outputKb).',
  E_SANDBOX_CRASHED: 'The sandbox host process crashed; the run was lost and the host restarted.',
  E_SPAWN_LIMIT: 'Spawn depth or fan-out limit reached.',
  E_KV_QUOTA: "The template's kv data for this tenant would exceed limits.kvKb; delete keys the agent no longer needs or raise limits.kvKb in agent.json.",
  E_DISPOSED: 'The agent or factory was disposed; create a new one.',
  E_UNAUTHORIZED: 'Authentication required: send a valid API key.',
  E_FORBIDDEN: 'Your role does not allow this action.',
  E_RATE_LIMITED: 'Too many requests; retry later.',
  E_STORE: 'The store failed; check that the database file is writable and not corrupt.',
  E_USAGE: 'Invalid usage; see `af --help`.',
  E_INTERNAL: 'Internal error; please report it with the command that produced it.',
  E_NOT_FOUND: 'Not found: nothing of that name is visible to you.',
  E_CONFLICT: 'The target is not in a state that allows this; reload it and try again.',
  E_BODY_TOO_LARGE: 'The request body is larger than the server accepts.',
  E_NOT_IMPLEMENTED: 'This server was started without that service.',
  E_UNAVAILABLE: 'Not ready or shutting down; nothing ran, so it is safe to retry.',
  E_SUGGESTION_NOT_FOUND: 'No suggestion with that id; run `af suggestions list --all` to see them.',
  E_KEY_NOT_FOUND: 'No key with that id; run `af keys list` (signing keys) or `af keys api list` (API keys).',
  E_SIGNER_KEY_MISSING: 'No signer key here to sign with; run `af keys init` (first time, or `af init --keys`) or `af keys rotate`.',
  E_FETCH: 'fetch failed: the host could not be reached or its name not resolved, a redirect was invalid or one too many, or the body was over the cap; the message says which.',
  ENOENT: 'No such file or folder: a grant admits the path, but nothing is there.',
  EISDIR: 'Not a file: readTextFile and writeTextFile take regular files, not folders or devices.',
  EACCES: 'The operating system refused access to the file (its mode or owner), though a grant admits the path.',
  EPERM: 'The operating system does not permit this operation on the file.',
  EROFS: 'The file is on a read-only file system.',
  ENOSPC: 'No space left on the device holding the file.',
  EDQUOT: 'The disk quota of the user serving file tools is used up.',
  EFBIG: 'The file would be larger than the file system allows.',
  EMFILE: 'Too many files open in the process serving file tools; retry later.',
  ENFILE: 'Too many files open on the system; retry later.',
  ENAMETOOLONG: 'A name in the path is longer than the file system allows.',
  EBUSY: 'The file is busy (locked or in use by the system); retry later.',
  ETXTBSY: 'The file is a program being run; it cannot be written now.',
  EAGAIN: 'The file is not ready (a pipe or device with nothing to read or no room to write); only regular files are meant for file tools.',
  ENXIO: 'Nothing is at the other end of the file (a pipe with no reader, or a device that is gone).',
  EIO: 'The file system failed (an I/O error, or a system error the message names).',
};

/**
 * The base of every error Agent Factory throws on purpose.
 * `instanceof` works across module copies through a global symbol brand (as undici does).
 */
export class FactoryError extends Error {
  readonly code: ErrorCode;
  readonly problems: Problem[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, options: FactoryErrorOptions = {}) {
    super(message ?? DEFAULT_MESSAGES[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FactoryError';
    this.code = code;
    this.problems = options.problems ?? [];
    this.details = options.details ?? {};
  }

  get [BRAND](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** A plain object for JSON output (CLI `--json`, HTTP bodies, run records). */
  toJSON(): { code: ErrorCode; message: string; problems?: Problem[]; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.problems.length > 0 ? { problems: this.problems } : {}),
      ...(Object.keys(this.details).length > 0 ? { details: this.details } : {}),
    };
  }
}

const CODES: ReadonlySet<unknown> = new Set(ERROR_CODES);
const TOOL_CODES: ReadonlySet<unknown> = new Set(TOOL_ERROR_CODES);

/** True when `code` is one of {@link ERROR_CODES}. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return CODES.has(code);
}

/** True when `code` is one of {@link TOOL_ERROR_CODES}. */
export function isToolErrorCode(code: unknown): code is ToolErrorCode {
  return TOOL_CODES.has(code);
}

/** The default message of a code: what it means and what to do next. */
export function defaultMessageFor(code: ErrorCode): string {
  return DEFAULT_MESSAGES[code];
}

/** Wraps anything thrown into a FactoryError, keeping FactoryErrors as they are. */
export function toFactoryError(error: unknown, fallback: ErrorCode = 'E_INTERNAL'): FactoryError {
  if (error instanceof FactoryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FactoryError(fallback, message, { cause: error });
}

/** Renders problems one per line with {@link formatProblem}. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map(formatProblem).join('\n');
}

/** Renders one problem as `file:line:column (at /pointer): message`, leaving out what is unknown. */
export function formatProblem(problem: Problem): string {
  let where = problem.file ?? '';
  if (problem.line !== undefined) where += `:${problem.line}:${problem.column ?? 1}`;
  if (problem.pointer) where += `${where ? ' ' : ''}(at ${problem.pointer})`;
  return where ? `${where}: ${problem.message}` : problem.message;
}
