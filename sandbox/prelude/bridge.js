/**
 * @module sandbox/prelude/bridge — the isolate's half of the bridge: settings, tool errors, the run in progress, and
 * the only calls of `hostSync`/`hostCall` (see bridge.d.ts). First part of `install(hostSync, hostCall, settingsJson)`.
 */

const settings = JSONparse(settingsJson);
const outputLimit = settings.outputLimitBytes;
const logLimit = settings.logLimitBytes;
const configJson = settings.configJson;
const plusEndsEscape = settings.plusEndsEscape === true;
const nullInitIsString = settings.nullInitIsString === true;

// Errors made here for tool failures; only these may carry a code that ends the run with that code.
const toolErrors = new WeakMapCtor();
function makeError(code, message, name) {
  const err = new ErrorCtor(message);
  // Null-prototype descriptors: a getter an agent put on Object.prototype must not change how tool errors are built.
  ObjectDefineProperty(err, 'name', { __proto__: null, value: name || 'Error', writable: true, configurable: true, enumerable: false });
  ObjectDefineProperty(err, 'code', { __proto__: null, value: code, writable: true, configurable: true, enumerable: true });
  ReflectApply(weakMapSet, toolErrors, [err, code]);
  return err;
}
function errorFromJson(json) {
  let parsed;
  try { parsed = JSONparse(json); } catch (e) { parsed = { code: 'E_INTERNAL', message: 'malformed tool error' }; }
  return makeError(parsed.code, parsed.message, parsed.name);
}

let current = null;
let entry;
let seq = 0;
const pending = ObjectCreate(null);

function requireRun() {
  const run = current;
  if (run === null) throw makeError('E_DISPOSED', 'ctx tools and timers can only be used while a run is in progress', 'Error');
  return run;
}
/** settled(ok, payload), when given, learns the answer before the agent does (the kv cache keeps it, kv-cache.js). */
function call(run, tool, argsJson, decode, settled) {
  if (run !== current) {
    return new PromiseCtor(function (resolve, reject) {
      reject(makeError('E_DISPOSED', 'this run has ended; its ctx can no longer be used', 'Error'));
    });
  }
  const id = ++seq;
  return new PromiseCtor(function (resolve, reject) {
    pending[id] = { __proto__: null, resolve: resolve, reject: reject, decode: decode, settled: settled };
    hostCall(run.token, id, tool, argsJson);
  });
}
function syncOp(run, op, arg) {
  if (run !== current) throw makeError('E_DISPOSED', 'this run has ended; its ctx can no longer be used', 'Error');
  const reply = hostSync(run.token, op, arg, '', '');
  const kind = ReflectApply(stringSlice, reply, [0, 1]);
  const body = ReflectApply(stringSlice, reply, [1]);
  if (kind === 'E') throw errorFromJson(body);
  return body;
}
function deliver(id, ok, payload) {
  const p = pending[id];
  if (p === undefined) return;
  ReflectDeleteProperty(pending, id);
  if (p.settled !== undefined) p.settled(ok, payload);
  if (!ok) { p.reject(errorFromJson(payload)); return; }
  let value;
  try {
    value = p.decode === undefined ? undefined : p.decode(payload);
  } catch (e) {
    p.reject(e);
    return;
  }
  p.resolve(value);
}
const decodeJson = function (payload) { return payload === '' ? undefined : JSONparse(payload); };
const decodeText = function (payload) { return payload; };

function emit(run, level, message, fields) {
  if (run === null || run !== current) return;
  const text = typeof message === 'string' ? message : safeString(message);
  const fieldsJson = fields === undefined ? '' : safeStringify(fields);
  const bytes = text.length + fieldsJson.length;
  // Counting here first keeps a log flood from crossing the bridge once per line; the host counts again.
  if (run.logBytes + bytes > logLimit) { run.logDropped++; return; }
  run.logBytes += bytes;
  hostSync(run.token, 'log', level, text, fieldsJson);
}
