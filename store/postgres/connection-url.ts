/** @module store/postgres/connection-url — a PostgreSQL URL as it may be shown: without its password (no driver loaded for it). */

/**
 * The URL with its password replaced by `***`: what logs, errors and `af doctor` may show. A password can be given in
 * the user part or as a query parameter (`?password=…`, `sslpassword=…`): both are hidden.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()]) if (/pass/i.test(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}
