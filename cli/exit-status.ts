/** @module cli/exit-status — the one mapping from error codes to the `af` command's exit status. */
import type { ErrorCode } from '../core/errors.js';

export const EXIT = {
  ok: 0,
  /** The agent failed: threw, broke a limit, or its input or output was invalid; also an invalid template. */
  failed: 1,
  usage: 2,
  trust: 3,
  notFound: 4,
  internal: 5,
} as const;

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  E_TEMPLATE_NOT_FOUND: EXIT.notFound,
  E_TEMPLATE_INVALID: EXIT.failed,
  E_TEMPLATE_IMPORT: EXIT.failed,
  E_SIGNATURE_MISSING: EXIT.trust,
  E_SIGNATURE_INVALID: EXIT.trust,
  E_KEY_REVOKED: EXIT.trust,
  E_KEY_EXPIRED: EXIT.trust,
  E_POLICY_DENIED: EXIT.trust,
  E_VERSION_RETIRED: EXIT.trust,
  E_TRUST_STATE: EXIT.trust,
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
  // No host had room for the run within its timeout: nothing ran, and retrying is safe.
  E_UNAVAILABLE: EXIT.failed,
  E_USAGE: EXIT.usage,
  E_CONFLICT: EXIT.usage,
  E_BODY_TOO_LARGE: EXIT.usage,
  E_NOT_FOUND: EXIT.notFound,
  E_SUGGESTION_NOT_FOUND: EXIT.notFound,
  E_KEY_NOT_FOUND: EXIT.notFound,
};

/** Exit status for an error code: 1 agent failed, 2 usage, 3 trust, 4 not found, 5 internal. */
export function exitStatusFor(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? EXIT.internal;
}
