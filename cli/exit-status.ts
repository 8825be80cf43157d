/**
 * @module cli/exit-status — the one mapping from error codes to the `af` command's exit status.
 *
 * | status | meaning | what helps |
 * |---|---|---|
 * | 0 | ok | — |
 * | 1 | the agent failed: it threw (a tool error it did not catch included), broke a limit, its input or output was invalid; or the template is invalid | fix the agent, its input or its limits |
 * | 2 | usage: the command line, or what it asks for, is wrong | fix the command |
 * | 3 | trust: refused for who signed it or who asks (signature, key, policy, retired version, trust data, credentials, role) | sign, rotate keys, change the policy or the credentials |
 * | 4 | not found: no template, run, suggestion or key of that name | check the name |
 * | 5 | internal: a bug in Agent Factory | report it with the command |
 * | 6 | unavailable: the environment did not let it run or finish (the store, capacity, shutdown, rate limit, a service the server lacks); nothing is wrong with the agent or the command | fix the environment (the message says what), or retry |
 */
import { type ErrorCode, isErrorCode } from '../core/errors.js';

export const EXIT = {
  ok: 0,
  /** The agent failed: threw, broke a limit, or its input or output was invalid; also an invalid template. */
  failed: 1,
  usage: 2,
  trust: 3,
  notFound: 4,
  /** A bug: "please report it". */
  internal: 5,
  /** The environment failed or refused for now (store, capacity, shutdown, rate limit, missing service): fix it or retry. */
  unavailable: 6,
} as const;

// Every code has a row: a new code does not compile until someone decides what `af` exits with for it.
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  E_TEMPLATE_NOT_FOUND: EXIT.notFound,
  E_TEMPLATE_INVALID: EXIT.failed,
  E_TEMPLATE_IMPORT: EXIT.failed,
  E_SIGNATURE_MISSING: EXIT.trust,
  E_SIGNATURE_INVALID: EXIT.trust,
  E_KEY_REVOKED: EXIT.trust,
  E_KEY_EXPIRED: EXIT.trust,
  // Signing needs a key this machine does not hold: a key is what is missing, as for an unsigned template.
  E_SIGNER_KEY_MISSING: EXIT.trust,
  E_POLICY_DENIED: EXIT.trust,
  E_VERSION_RETIRED: EXIT.trust,
  E_TRUST_STATE: EXIT.trust,
  // Who asks (an API key) rather than who signed; other credentials or another role help, retrying does not.
  E_UNAUTHORIZED: EXIT.trust,
  E_FORBIDDEN: EXIT.trust,
  E_PERMISSION_DENIED: EXIT.failed,
  E_INPUT_INVALID: EXIT.failed,
  E_OUTPUT_INVALID: EXIT.failed,
  E_AGENT_THREW: EXIT.failed,
  E_TIMEOUT: EXIT.failed,
  E_CPU_LIMIT: EXIT.failed,
  E_MEMORY_LIMIT: EXIT.failed,
  E_OUTPUT_LIMIT: EXIT.failed,
  E_SANDBOX_CRASHED: EXIT.failed,
  E_SPAWN_LIMIT: EXIT.failed,
  E_KV_QUOTA: EXIT.failed,
  // Tool codes end no run themselves (an uncaught one is the `cause` of E_AGENT_THREW); were one to, the agent failed.
  E_FETCH: EXIT.failed,
  ENOENT: EXIT.failed,
  EISDIR: EXIT.failed,
  EACCES: EXIT.failed,
  EPERM: EXIT.failed,
  EROFS: EXIT.failed,
  ENOSPC: EXIT.failed,
  EDQUOT: EXIT.failed,
  EFBIG: EXIT.failed,
  EMFILE: EXIT.failed,
  ENFILE: EXIT.failed,
  ENAMETOOLONG: EXIT.failed,
  EBUSY: EXIT.failed,
  ETXTBSY: EXIT.failed,
  EAGAIN: EXIT.failed,
  ENXIO: EXIT.failed,
  EIO: EXIT.failed,
  E_USAGE: EXIT.usage,
  E_CONFLICT: EXIT.usage,
  E_BODY_TOO_LARGE: EXIT.usage,
  E_NOT_FOUND: EXIT.notFound,
  E_SUGGESTION_NOT_FOUND: EXIT.notFound,
  E_KEY_NOT_FOUND: EXIT.notFound,
  E_INTERNAL: EXIT.internal,
  // The store could not be opened, is damaged, or is newer than this build: the message says what to do; not a bug.
  E_STORE: EXIT.unavailable,
  // No host had room for the run within its timeout: nothing ran, and retrying is safe.
  E_UNAVAILABLE: EXIT.unavailable,
  // The factory or agent was closed (af shutting down) before the run finished.
  E_DISPOSED: EXIT.unavailable,
  E_RATE_LIMITED: EXIT.unavailable,
  // A server started without that service (no learner, no store): the server's set-up, not the request.
  E_NOT_IMPLEMENTED: EXIT.unavailable,
};

/** Exit status for an error code (see the table at the top); a string that is no code at all (from a newer peer) is internal. */
export function exitStatusFor(code: ErrorCode): number {
  return isErrorCode(code) ? STATUS_BY_CODE[code] : EXIT.internal;
}
