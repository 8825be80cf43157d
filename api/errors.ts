/** @module api/errors — the one mapping from error codes to HTTP statuses. Routes throw `FactoryError`; the status comes from here, never from the thrower. */
import type { ErrorCode } from '../core/errors.js';

/**
 * Status per code. Grouping, so a client can act on the status alone:
 * - 400 the request or the agent input is wrong (fix it and resend);
 * - 401 / 403 who you are / what your role allows; 404 nothing of that name in your tenant;
 * - 409 the target's state forbids it: a suggestion no longer open, a template that is invalid, unsigned,
 *   signed with a revoked or expired key, denied by policy, or a retired version (fix the template, not the request);
 * - 413 body over the limit; 422 the agent ran on valid input and failed (threw, broke a limit, bad output,
 *   a denied permission); 429 slow down (`retry-after`);
 * - 500 a bug or the store; 501 the server was started without that service; 502 the sandbox host died under
 *   the run (it may have had effects, so it is not retried automatically); 503 not ready or shutting down
 *   (nothing ran: safe to retry).
 */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  E_INPUT_INVALID: 400,
  E_USAGE: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_TEMPLATE_NOT_FOUND: 404,
  E_SUGGESTION_NOT_FOUND: 404,
  E_KEY_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_TEMPLATE_INVALID: 409,
  E_TEMPLATE_IMPORT: 409,
  E_SIGNATURE_MISSING: 409,
  E_SIGNATURE_INVALID: 409,
  E_KEY_REVOKED: 409,
  E_KEY_EXPIRED: 409,
  E_SIGNER_KEY_MISSING: 409,
  E_POLICY_DENIED: 409,
  E_VERSION_RETIRED: 409,
  E_TRUST_STATE: 409,
  E_BODY_TOO_LARGE: 413,
  E_PERMISSION_DENIED: 422,
  E_OUTPUT_INVALID: 422,
  E_AGENT_THREW: 422,
  E_TIMEOUT: 422,
  E_CPU_LIMIT: 422,
  E_MEMORY_LIMIT: 422,
  E_OUTPUT_LIMIT: 422,
  E_SPAWN_LIMIT: 422,
  E_KV_QUOTA: 422,
  // Tool codes reach a caller only as `details.cause` of an E_AGENT_THREW run; were one to end a run, it is the agent's failure too.
  E_FETCH: 422,
  ENOENT: 422,
  EISDIR: 422,
  EACCES: 422,
  EPERM: 422,
  EROFS: 422,
  ENOSPC: 422,
  EDQUOT: 422,
  EFBIG: 422,
  EMFILE: 422,
  ENFILE: 422,
  ENAMETOOLONG: 422,
  EBUSY: 422,
  ETXTBSY: 422,
  EAGAIN: 422,
  ENXIO: 422,
  EIO: 422,
  E_RATE_LIMITED: 429,
  E_INTERNAL: 500,
  E_STORE: 500,
  E_NOT_IMPLEMENTED: 501,
  E_SANDBOX_CRASHED: 502,
  E_UNAVAILABLE: 503,
  E_DISPOSED: 503,
};

/** The status decided for `code`, or undefined for a string that is no code (what {@link httpStatusFor} answers 500 for). */
export function declaredHttpStatus(code: string): number | undefined {
  return Object.hasOwn(STATUS_BY_CODE, code) ? (STATUS_BY_CODE as Record<string, number>)[code] : undefined;
}

/** The HTTP status for an error code; 500 for a code this server does not know. */
export function httpStatusFor(code: string): number {
  // Own keys only: a code such as `toString` must not find Object.prototype's function.
  return declaredHttpStatus(code) ?? 500;
}
