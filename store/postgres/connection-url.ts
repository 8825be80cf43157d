/** @module store/postgres/connection-url — a PostgreSQL URL as it may be shown: without its password (no driver loaded for it). */

/** The URL with its password replaced by `***`: what logs, errors and `af doctor` may show. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}
