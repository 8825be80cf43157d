/** @module sandbox/url-op — the host's URL parser, asked synchronously by the isolate's `URL` so agent and host never disagree on a URL. */

/**
 * Longest string (UTF-16 units) one URL call may take: the input, the base, a setter's value, and the href it yields.
 * The call runs on the host's thread while the isolate waits, so its cost must be bounded: parsing is linear,
 * and 64 Ki units cost about 4 ms here at worst (every character percent-encoded). Far above what servers
 * accept in a request line (Node's own HTTP server stops at 16 KB of headers).
 */
export const URL_MAX_CHARS = 65_536;
/** The components the isolate's URL exposes, in the order the reply lists them. */
const COMPONENTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const;
/** Setters the isolate may ask for; `origin` and `searchParams` have none. */
const SETTERS = new Set(['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

/**
 * One URL operation for the isolate. Only strings cross back: `O` + a JSON array of the components
 * (see COMPONENTS), `I` when the URL is invalid (Node's "Invalid URL"), `L` when a string is over URL_MAX_CHARS.
 * - `url.parse`: `a` the input, `b` the base, `c` `'1'` when a base was given (`''` is a base, and an invalid one).
 * - `url.set`: `a` the current href, `b` the component, `c` its new value; Node's setter decides what changes.
 */
export function urlOp(op: string, a: string, b: string, c: string): string {
  if (a.length > URL_MAX_CHARS || b.length > URL_MAX_CHARS || c.length > URL_MAX_CHARS) return 'L';
  let url: URL;
  try {
    if (op === 'url.parse') {
      url = c === '1' ? new URL(a, b) : new URL(a);
    } else if (op === 'url.set') {
      if (!SETTERS.has(b)) return 'I';
      url = new URL(a);
      (url as unknown as Record<string, string>)[b] = c;
    } else {
      return 'I';
    }
  } catch {
    return 'I';
  }
  if (url.href.length > URL_MAX_CHARS) return 'L';
  // What the agent reads is what the host will parse when the agent hands the URL back as a string (to fetch).
  let seen: URL;
  try {
    seen = new URL(url.href);
  } catch {
    return 'I';
  }
  return 'O' + JSON.stringify(COMPONENTS.map((name) => seen[name]));
}
