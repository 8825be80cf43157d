/**
 * @module sandbox/prelude/install — for type-checking only: the parameters of `install(hostSync, hostCall, settingsJson)`,
 * which scripts/build-prelude.mjs wraps around bridge.js, web-codecs.js, web-classes.js, globals.js, kv-cache.js and
 * ctx.js. The host passes two `ivm.Callback`s and the template's settings (sandbox/context-bridge.ts); only primitives cross.
 */

/** The synchronous half of the bridge (log, env.get, random, url.*): `O<payload>` or `E<error json>`. */
declare function hostSync(token: number, op: string, a: string, b: string, c: string): string;
/** The asynchronous half: a capability tool call or a timer, answered later through `dispatch('deliver', …)`. */
declare function hostCall(token: number, id: number, tool: string, argsJson: string): void;
/** `PreludeSettings` (sandbox/prelude.ts) as JSON. */
declare const settingsJson: string;

// What TypeScript's library does not model and the prelude relies on.
interface PropertyDescriptor {
  /** A null-prototype descriptor (`{ __proto__: null, … }`): a getter an agent put on Object.prototype cannot add fields to it. */
  __proto__?: null;
}
interface String {
  /** ES2024; absent on older V8, where the prelude falls back to its own loop. */
  toWellFormed?(): string;
}
interface ArrayBufferView {
  /** Every view's constructor makes a copy of a view (structuredClone relies on it). */
  constructor: new (source: ArrayBufferView) => ArrayBufferView;
}
