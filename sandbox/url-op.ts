/** @module sandbox/url-op — the host's URL parser, asked synchronously by the isolate's `URL` so agent and host never disagree on a URL. */

/**
 * Longest string (UTF-16 units) one URL call may take: the input, the base, a setter's value, and the href it yields.
 * The call runs on the host's thread while the isolate waits, so one call must stay short: measured here, 32 Ki units
 * cost at most ~17 ms (a host of 32 Ki non-ASCII characters through IDNA), most inputs well under 5 ms. That is far
 * above what servers accept in a request line (nginx and Apache stop at 8 KB, Node's HTTP server at 16 KB of headers).
 */
export const URL_MAX_CHARS = 32_768;

/** The components the isolate's URL exposes, in the order the reply lists them. */
const COMPONENTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const;
/** Setters the isolate may ask for; `origin` and `searchParams` have none. */
const SETTERS = new Set(['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

/** What a run may be charged for: its CPU budget, which also pays for the host's URL work done on its behalf. */
export interface UrlOpRun {
  readonly spec: { readonly limits: { readonly cpuMs: number } };
}
/** Host milliseconds spent parsing URLs per run: the isolate's cpuTime does not see them. */
const spentMs = new WeakMap<UrlOpRun, number>();

/**
 * One URL operation for the isolate. Only strings cross back: `O` + the components joined by `\n` (see COMPONENTS),
 * `I` when the URL is invalid (Node's "Invalid URL"), `L` when a string is over URL_MAX_CHARS, `B` when the run
 * has already had limits.cpuMs of host time for URLs.
 * - `url.parse`: `a` the input, `b` the base, `c` `'1'` when a base was given (`''` is a base, and an invalid one).
 * - `url.set`: `a` the current href, `b` the component, `c` its new value; Node's setter decides what changes.
 * @param run the run in progress, if any (module top-level code has none; its load timeout bounds it).
 */
export function urlOp(op: string, a: string, b: string, c: string, run?: UrlOpRun): string {
  if (a.length > URL_MAX_CHARS || b.length > URL_MAX_CHARS || c.length > URL_MAX_CHARS) return 'L';
  if (run === undefined) return parseUrl(op, a, b, c);
  const spent = spentMs.get(run) ?? 0;
  if (spent > run.spec.limits.cpuMs) return 'B';
  const started = performance.now();
  try {
    return parseUrl(op, a, b, c);
  } finally {
    spentMs.set(run, spent + (performance.now() - started));
  }
}

function parseUrl(op: string, a: string, b: string, c: string): string {
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
  // Joined by a line feed, which the URL parser strips from every input and no component can hold (the isolate
  // refuses a reply that does not split into exactly the eleven components); cheaper than JSON both ways.
  return 'O' + COMPONENTS.map((name) => seen[name]).join('\n');
}
