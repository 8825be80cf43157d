/** @module core/terminal-text — makes text that someone else controls (agents, signers, API clients) safe to print on a terminal: its control characters become visible escapes. */

/**
 * What a terminal may act on rather than show: C0 controls (ESC starts every escape sequence, BEL ends OSC
 * titles, a lone CR rewrites the line), DEL, C1 controls (U+009B is a one-character CSI, U+009D an OSC), the
 * Unicode line and paragraph separators, and the bidirectional overrides and isolates that reorder what is
 * shown (Trojan Source). Tab, newline and CR before newline stay: multi-line text stays readable.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\r(?!\n)/;
// eslint-disable-next-line no-control-regex
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
/** The same plus every line break: where one line is expected, a newline would let the text forge the next line. */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_LINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** Characters JSON.stringify leaves raw that a terminal may still act on; `\uXXXX` keeps the JSON's meaning. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

function visible(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Escapes the control characters of `text` as visible `\x1b`, `\x9b`, `\u202e`; keeps tab and newline.
 * Call it where text leaves for a terminal (CLI human output, Ink text), never on stored data.
 * @example escapeControl('\u001b]0;pwned\u0007') // '\\x1b]0;pwned\\x07'
 */
export function escapeControl(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, visible) : text;
}

/** {@link escapeControl} for a one-line display (a log line, a table cell): line breaks become `\n` too. */
export function escapeLine(text: string): string {
  UNSAFE_IN_LINE.lastIndex = 0;
  return UNSAFE_IN_LINE.test(text) ? text.replace(UNSAFE_IN_LINE, visible) : text;
}

/**
 * JSON text that is also safe on a terminal: JSON.stringify escapes C0 controls but leaves DEL, C1 controls,
 * U+2028/U+2029 and bidi overrides raw. They can only occur inside strings, where `\uXXXX` parses back to the
 * same value.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A copy of a JSON-like value with every string and key passed through {@link escapeLine}: for a report built
 * from untrusted data before it is laid out and painted.
 */
export function escapeStrings<T>(value: T): T {
  if (typeof value === 'string') return escapeLine(value) as T;
  if (Array.isArray(value)) return value.map(escapeStrings) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [escapeLine(key), escapeStrings(item)])) as T;
  }
  return value;
}
