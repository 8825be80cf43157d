/** @module cli/request-log — the one line `af serve` prints per answered request. */
import { escapeLine } from '../core/terminal-text.js';

/**
 * `2026-12-01T12:00:00.000Z POST /v1/agents/hello/runs 200 12.3 ms tenant=acme`. The query string is left out and
 * no header is ever read here: an API key someone put in a URL or a header stays out of the log. `tenant=-` means
 * the request was not authenticated (public routes, refused keys).
 */
export function requestLogLine(at: Date, method: string, url: string, status: number, ms: number, tenant: string | undefined): string {
  const path = url.split('?', 1)[0] ?? '';
  // The path is the client's text: one line, no terminal controls, so it cannot forge a log line.
  return `${at.toISOString()} ${escapeLine(method)} ${escapeLine(path)} ${status} ${ms.toFixed(1)} ms tenant=${escapeLine(tenant ?? '-')}`;
}
