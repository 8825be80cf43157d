/** @module api/problem — the one shape of every error answer (`{ error: { code, message, problems? } }`) and how anything thrown becomes one. */
import { type ErrorCode, FactoryError, type Problem } from '../core/errors.js';
import { httpStatusFor } from './errors.js';
import type { ApiErrorResponse } from './types.js';

type WireProblem = { pointer?: string; message: string };

/**
 * The body of an error answer. Problems keep only their pointer and message: files, lines and columns are the
 * server's, not the caller's.
 */
export function errorBody(code: ErrorCode, message: string, problems?: readonly (Problem | WireProblem)[]): ApiErrorResponse {
  const wire = problems?.map((p) => ({ ...(p.pointer !== undefined ? { pointer: p.pointer } : {}), message: p.message }));
  return { error: { code, message, ...(wire && wire.length > 0 ? { problems: wire } : {}) } };
}

/**
 * Turns anything a handler or hook threw into a status and body: a `FactoryError` answers with its code (the status
 * from {@link httpStatusFor}); Fastify's own errors get the nearest code; anything else is a 500 that says nothing.
 */
export function toErrorBody(error: unknown): { status: number; body: ApiErrorResponse } {
  if (error instanceof FactoryError) return answer(error.code, error.message, error.problems);
  const fastifyError = error as { code?: unknown; statusCode?: unknown; validation?: Array<{ instancePath: string; message?: string; params?: { additionalProperty?: string } }>; validationContext?: string; message?: string };
  if (Array.isArray(fastifyError.validation)) {
    const where = fastifyError.validationContext ?? 'request';
    const problems = fastifyError.validation.map((v) => ({
      pointer: v.instancePath,
      message: `${v.message ?? 'is invalid'}${v.params?.additionalProperty !== undefined ? ` (${JSON.stringify(v.params.additionalProperty)})` : ''}`,
    }));
    return answer('E_INPUT_INVALID', `${where} is invalid: ${problems.map((p) => `${p.pointer || '/'} ${p.message}`).join('; ')}`, problems);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer('E_BODY_TOO_LARGE', 'request body is larger than the server accepts; send a smaller input');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return answer('E_INPUT_INVALID', `request body is not valid JSON: ${fastifyError.message ?? ''}`.trim());
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answer('E_INPUT_INVALID', 'send the body as application/json');
    default:
  }
  // Fastify reports other client mistakes (bad prototype keys, bad headers) as 4xx with no code we know.
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status >= 400 && status < 500) return answer('E_INPUT_INVALID', fastifyError.message ?? 'invalid request');
  return answer('E_INTERNAL', 'internal error; the server log has the details');
}

function answer(code: ErrorCode, message: string, problems?: readonly (Problem | WireProblem)[]): { status: number; body: ApiErrorResponse } {
  return { status: httpStatusFor(code), body: errorBody(code, message, problems) };
}
