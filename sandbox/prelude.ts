/** @module sandbox/prelude — the script run in every context before agent code (captures primordials, builds `ctx` and the web globals, hides the host bridge): its settings and its text. */

/**
 * Settings the host hands the prelude's install function, as JSON.
 * Only primitives cross: the bridge itself is two `ivm.Callback` functions passed as arguments.
 */
export interface PreludeSettings {
  template: string;
  outputLimitBytes: number;
  logLimitBytes: number;
  wasm: boolean;
  configJson: string;
  /** Bound of the run's kv read cache (sandbox/prelude/kv-cache.js), in UTF-16 units of keys and payloads: limits.kvKb × 1024. */
  kvCacheChars: number;
  /** The running Node's form parser lets '+' end a %XX check (Node 24 does, 20 and 22 do not): the isolate follows it. */
  plusEndsEscape: boolean;
  /** `new URLSearchParams(null)` is the string "null" (Node 24, as WebIDL says) rather than empty (Node 20, 22). */
  nullInitIsString: boolean;
}

/** Probed once from this Node's own URLSearchParams, so the isolate parses forms as the host's Node does. */
export const PLUS_ENDS_ESCAPE = new URLSearchParams('a=%4+1\u00e9').get('a') === '%4 1\u00e9';
export const NULL_INIT_IS_STRING = String(new URLSearchParams(null as unknown as string)) === 'null=';

/**
 * The prelude. Its completion value is `install(hostSync, hostCall, settingsJson)`, reachable only
 * through the Reference the host gets from `script.run(context, { reference: true })`; it is never a global.
 * `install` returns `dispatch(op, a, b, c)`, again only as a host-side Reference.
 *
 * Rules this code keeps (see DESIGN "Sandbox rules that must never bend"):
 * - strict mode throughout, so `fn.caller` and CallSite `getFunction`/`getThis` never reveal a prelude frame;
 * - `hostSync`/`hostCall` are only ever called directly, never stored on an object, passed as an argument or returned;
 * - every builtin the prelude relies on after agent code has run is captured first and called via `Reflect.apply`,
 *   so a patched `JSON.stringify` or `String.prototype.charCodeAt` cannot defeat the output-size check;
 * - internal records are null-prototype objects, so getters on `Object.prototype` never see them;
 * - the host parses every URL: `URL` only holds the components the host's parser returned (sandbox/url-op.ts), so the
 *   host and agent cannot disagree on one; `TextEncoder`/`TextDecoder`/`URLSearchParams` are pure computation and
 *   follow Node, checked against Node on shared tables (test/security/url-parser.test.ts). These four classes are
 *   built on first use, so code that builds them relies only on captures and null-prototype descriptors.
 *
 * Envelopes returned by a run: `O<dropped>;<json>` (output), `U<dropped>;` (undefined), `E<dropped>;<json>` (error),
 * where `<dropped>` may be followed by `,<n>`: the run's kv.get calls answered from its own cache (sandbox/prelude/kv-cache.js).
 *
 * Its sources are plain scripts in sandbox/prelude/ (primordials, bridge, web-codecs, web-classes, globals, ctx),
 * type-checked with checkJs and concatenated by scripts/build-prelude.mjs into sandbox/prelude-source.ts.
 */
export { PRELUDE_SOURCE } from './prelude-source.js';
