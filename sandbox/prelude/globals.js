/**
 * @module sandbox/prelude/globals — installs the globals agent code sees (console, the lazy web classes,
 * structuredClone, crypto, bounded timers) and removes or narrows the dangerous ones (WebAssembly unless granted,
 * Atomics.waitAsync, resizable buffers). Fourth part of `install`.
 */

// Timers cross to a host timer so they can only fire while their run lives; the host clears them when it ends.
const timers = ObjectCreate(null);
function setTimeoutImpl(fn, ms, args, repeat) {
  const run = requireRun();
  if (typeof fn !== 'function') throw new TypeErrorCtor('setTimeout: callback must be a function');
  const delay = MathMax(0, MathMin(2147483647, NumberCtor(ms) || 0));
  const handle = ++seq;
  const fire = function () {
    if (timers[handle] === undefined || run !== current) return;
    if (!repeat) ReflectDeleteProperty(timers, handle);
    try { ReflectApply(fn, undefined, args); } catch (e) { emit(run, 'error', 'uncaught error in timer: ' + safeString(e && e.stack ? e.stack : e)); }
    if (repeat && timers[handle] !== undefined) arm();
  };
  const arm = function () {
    const id = ++seq;
    pending[id] = { __proto__: null, resolve: fire, reject: function () {}, decode: undefined };
    hostCall(run.token, id, 'timer', StringCtor(delay));
  };
  timers[handle] = true;
  arm();
  return handle;
}
const clearTimer = function (handle) { ReflectDeleteProperty(timers, handle); };

function consoleMethod(level) {
  return function () {
    const parts = [];
    for (let i = 0; i < arguments.length; i++) {
      const a = arguments[i];
      parts[i] = typeof a === 'string' ? a : (a !== null && typeof a === 'object' && !(a instanceof ErrorCtor) ? safeStringify(a) : safeString(a && a.stack ? a.stack : a));
    }
    emit(current, level, ReflectApply(arrayJoin, parts, [' ']));
  };
}

const define = function (name, value) {
  ObjectDefineProperty(G, name, { __proto__: null, value: value, writable: true, configurable: true, enumerable: false });
};
define('console', ObjectFreeze({ log: consoleMethod('info'), info: consoleMethod('info'), debug: consoleMethod('debug'), warn: consoleMethod('warn'), error: consoleMethod('error'), trace: consoleMethod('debug') }));
lazyGlobal('TextEncoder');
lazyGlobal('TextDecoder');
lazyGlobal('URL');
lazyGlobal('URLSearchParams');
define('structuredClone', structuredClone);
define('crypto', crypto);
define('setTimeout', function (fn, ms) { const args = []; for (let i = 2; i < arguments.length; i++) args[i - 2] = arguments[i]; return setTimeoutImpl(fn, ms, args, false); });
define('setInterval', function (fn, ms) { const args = []; for (let i = 2; i < arguments.length; i++) args[i - 2] = arguments[i]; return setTimeoutImpl(fn, MathMax(1, NumberCtor(ms) || 0), args, true); });
define('clearTimeout', clearTimer);
define('clearInterval', clearTimer);
define('queueMicrotask', function (fn) { ReflectApply(promiseThen, new PromiseCtor(function (r) { r(); }), [function () { fn(); }]); });
if (!settings.wasm) ReflectDeleteProperty(G, 'WebAssembly');
// Atomics.waitAsync with a timeout makes V8 post a delayed task that isolated-vm's platform answers by aborting the
// whole process: the sandbox host (every tenant's run on it), or inline the embedding program. Nothing else in the
// isolate reaches that function, so removing the property removes it.
if (typeof G.Atomics === 'object' && G.Atomics !== null) ReflectDeleteProperty(G.Atomics, 'waitAsync');
// V8 allocates resizable ArrayBuffers and growable SharedArrayBuffers (their initial length too) outside
// isolated-vm's allocator, so limits.memoryMb never counted them: a run held 1.1 GB under memoryMb 32 and took its
// host down without being blamed. Their constructors drop the options argument, so every buffer is fixed-length;
// the global and prototype.constructor are the only ways to the original (sandbox hosts also run V8 with
// --no-harmony-rab-gsab, see supervisor.ts).
const fixedLengthOnly = function (name) {
  const Original = G[name];
  if (typeof Original !== 'function') return;
  const Fixed = function (length) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor " + name + " requires 'new'");
    return ReflectConstruct(Original, [length], new.target === Fixed ? Original : new.target);
  };
  const keys = ReflectOwnKeys(Original);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key === 'prototype' || key === 'length' || key === 'name') continue;
    ObjectDefineProperty(Fixed, key, ReflectGetOwnPropertyDescriptor(Original, key));
  }
  ObjectDefineProperty(Fixed, 'prototype', { __proto__: null, value: Original.prototype, writable: false, enumerable: false, configurable: false });
  ObjectDefineProperty(Fixed, 'name', { __proto__: null, value: name, writable: false, enumerable: false, configurable: true });
  ObjectDefineProperty(Fixed, 'length', { __proto__: null, value: 1, writable: false, enumerable: false, configurable: true });
  ObjectDefineProperty(Original.prototype, 'constructor', { __proto__: null, value: Fixed, writable: true, enumerable: false, configurable: true });
  define(name, Fixed);
};
fixedLengthOnly('ArrayBuffer');
fixedLengthOnly('SharedArrayBuffer');
