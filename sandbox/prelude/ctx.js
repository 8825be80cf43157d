/**
 * @module sandbox/prelude/ctx — the `ctx` each run gets (every tool present, granted or not), the run's result
 * envelope, and `dispatch`, which `install` returns (the build turns `function dispatch` into that return statement).
 * Last part of `install`.
 */

// ---- ctx ---------------------------------------------------------------------------------
function deepFreeze(value) {
  if (value !== null && typeof value === 'object') {
    const keys = ReflectOwnKeys(value);
    for (let i = 0; i < keys.length; i++) deepFreeze(value[keys[i]]);
    ObjectFreeze(value);
  }
  return value;
}
function makeSignal() {
  const listeners = [];
  const signal = {
    aborted: false,
    reason: undefined,
    onabort: null,
    addEventListener(type, fn) { if (type === 'abort' && typeof fn === 'function') listeners[listeners.length] = fn; },
    removeEventListener(type, fn) { for (let i = 0; i < listeners.length; i++) if (listeners[i] === fn) listeners[i] = undefined; },
    throwIfAborted() { if (signal.aborted) throw signal.reason; },
  };
  const fire = function (reason) {
    if (signal.aborted) return;
    signal.aborted = true;
    signal.reason = reason;
    const event = { type: 'abort', target: signal };
    try { if (typeof signal.onabort === 'function') signal.onabort(event); } catch (e) { /* listeners cannot stop the abort */ }
    for (let i = 0; i < listeners.length; i++) { const fn = listeners[i]; if (fn !== undefined) { try { fn(event); } catch (e) { /* as above */ } } }
  };
  return { __proto__: null, signal: signal, fire: fire };
}
function headerPairs(headers) {
  const out = [];
  if (headers === undefined || headers === null) return out;
  if (ArrayIsArray(headers)) { for (let i = 0; i < headers.length; i++) out[out.length] = [StringCtor(headers[i][0]), StringCtor(headers[i][1])]; return out; }
  if (typeof headers.forEach === 'function' && typeof headers.get === 'function') { headers.forEach(function (v, k) { out[out.length] = [StringCtor(k), StringCtor(v)]; }); return out; }
  const keys = ObjectKeys(headers);
  for (let i = 0; i < keys.length; i++) out[out.length] = [keys[i], StringCtor(headers[keys[i]])];
  return out;
}
function makeResponse(payload) {
  const r = JSONparse(payload);
  const pairs = r.headers;
  const headers = {
    get(name) { const n = StringCtor(name).toLowerCase(); const found = []; for (const p of pairs) if (p[0] === n) found.push(p[1]); return found.length === 0 ? null : found.join(', '); },
    has(name) { return this.get(name) !== null; },
    forEach(fn) { for (const p of pairs) fn(p[1], p[0], this); },
    entries() { return pairs.map(function (p) { return [p[0], p[1]]; })[Symbol.iterator](); },
    [Symbol.iterator]() { return this.entries(); },
  };
  const body = r.body;
  let used = false;
  const take = function () { if (used) throw new TypeErrorCtor('Body has already been consumed'); used = true; return body; };
  return {
    ok: r.status >= 200 && r.status < 300, status: r.status, statusText: r.statusText, url: r.url, redirected: r.redirected, headers: headers,
    get bodyUsed() { return used; },
    text() { return new PromiseCtor(function (resolve) { resolve(take()); }); },
    json() { return new PromiseCtor(function (resolve) { resolve(JSONparse(take())); }); },
    arrayBuffer() { return new PromiseCtor(function (resolve) { resolve(utf8Encode(take()).buffer); }); },
  };
}
function makeCtx(run) {
  const log = ObjectFreeze({
    debug: function (m, f) { emit(run, 'debug', m, f); },
    info: function (m, f) { emit(run, 'info', m, f); },
    warn: function (m, f) { emit(run, 'warn', m, f); },
    error: function (m, f) { emit(run, 'error', m, f); },
  });
  const ctx = {
    log: log,
    config: deepFreeze(JSONparse(configJson)),
    signal: run.abort.signal,
    env: ObjectFreeze({ get: function (name) { const v = syncOp(run, 'env', StringCtor(name)); return v === '' ? undefined : JSONparse(v); } }),
    fetch: function (input, init) {
      const url = typeof input === 'string' ? input : (input !== null && typeof input === 'object' && typeof input.url === 'string' ? input.url : StringCtor(input));
      const request = { url: url, method: 'GET', headers: [], body: null };
      if (init !== undefined && init !== null) {
        if (init.method !== undefined) request.method = StringCtor(init.method).toUpperCase();
        request.headers = headerPairs(init.headers);
        if (init.body !== undefined && init.body !== null) {
          const bytes = typeof init.body === 'string' ? undefined : bufferBytes(init.body);
          request.body = typeof init.body === 'string' ? init.body : (bytes !== undefined ? utf8Decode(utf8State(), bytes, false, true, false) : StringCtor(init.body));
        }
      }
      return call(run, 'fetch', JSONstringify(request), makeResponse);
    },
    readTextFile: function (p) { return call(run, 'readTextFile', JSONstringify([StringCtor(p)]), decodeText); },
    writeTextFile: function (p, data) { return call(run, 'writeTextFile', JSONstringify([StringCtor(p), StringCtor(data)]), undefined); },
    spawn: function (name, input) {
      const json = input === undefined ? '' : JSONstringify(input);
      return call(run, 'spawn', JSONstringify([StringCtor(name), json === undefined ? '' : json]), decodeJson);
    },
    // Present whether granted or not (as in Deno): the host denies an ungranted call with E_PERMISSION_DENIED.
    kv: ObjectFreeze({
      get: function (key) { return kvGet(run, StringCtor(key)); },
      set: function (key, value) {
        const json = JSONstringify(value);
        if (json === undefined) throw new TypeErrorCtor('kv.set: value must be JSON-serialisable');
        const k = StringCtor(key);
        return kvWrite(run, 'kv.set', k, JSONstringify([k, json]), undefined, json);
      },
      delete: function (key) { const k = StringCtor(key); return kvWrite(run, 'kv.delete', k, JSONstringify([k]), decodeJson, ''); },
      list: function (options) {
        const o = { prefix: options && options.prefix !== undefined ? StringCtor(options.prefix) : '', limit: options && options.limit !== undefined ? NumberCtor(options.limit) : 1000 };
        return call(run, 'kv.list', JSONstringify(o), decodeJson);
      },
    }),
  };
  return ObjectFreeze(ctx);
}

/** kind, log lines dropped [',' kv reads answered from the run's cache] ';' body: the count is left out when 0. */
function envelope(kind, run, body) {
  return kind + run.logDropped + (run.kvCachedReads === 0 ? ';' : ',' + run.kvCachedReads + ';') + body;
}
function encodeError(run, e) {
  let code = 'E_AGENT_THREW';
  let cause;
  let message;
  let name = 'Error';
  let stack = '';
  if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
    const toolCode = ReflectApply(weakMapGet, toolErrors, [e]);
    if (toolCode !== undefined) { if (PROPAGATED_CODES[toolCode] === true) code = toolCode; else cause = toolCode; }
    try { message = safeString(e.message); } catch (x) { message = '[unprintable]'; }
    try { name = safeString(e.name); } catch (x) { name = 'Error'; }
    try { stack = typeof e.stack === 'string' ? e.stack : ''; } catch (x) { stack = ''; }
  } else {
    message = safeString(e);
  }
  const out = { __proto__: null, code: code, message: truncate(message, 4000), name: truncate(name, 200), stack: truncate(stack, 8000) };
  if (cause !== undefined) out.cause = cause;
  return envelope('E', run, JSONstringify(out));
}
function encodeOutput(run, value) {
  if (value === undefined) return envelope('U', run, '');
  // A huge string fails here before it is even serialised (a 50 MB string would double in stringify).
  if (typeof value === 'string' && value.length > outputLimit) return outputTooBig(run, value.length);
  let json;
  try {
    json = JSONstringify(value);
  } catch (e) {
    return envelope('E', run, JSONstringify({ code: 'E_AGENT_THREW', message: 'output is not JSON-serialisable: ' + safeString(e && e.message), name: 'TypeError', stack: '' }));
  }
  if (json === undefined) return envelope('U', run, '');
  const bytes = utf8Length(json, outputLimit);
  if (bytes > outputLimit) return outputTooBig(run, bytes);
  return envelope('O', run, json);
}
function outputTooBig(run, bytes) {
  return envelope('E', run, JSONstringify({
    code: 'E_OUTPUT_LIMIT',
    message: 'run output is at least ' + bytes + ' bytes, over limits.outputKb (' + (outputLimit / 1024) + ' KB); return less or raise limits.outputKb in agent.json',
    name: 'RangeError', stack: '', bytes: bytes,
  }));
}

function startRun(token, inputJson) {
  if (entry === undefined) {
    const mod = G.__afModule;
    ReflectDeleteProperty(G, '__afModule');
    entry = mod !== null && typeof mod === 'object' && typeof mod.default === 'function' ? mod.default : null;
  }
  const run = { __proto__: null, token: token, logBytes: 0, logDropped: 0, kvCachedReads: 0, kv: undefined, abort: makeSignal() };
  if (entry === null) {
    return envelope('E', run, JSONstringify({ code: 'E_AGENT_THREW', message: 'the bundle has no default export function; write export default async function run(input, ctx) { ... }', name: 'TypeError', stack: '' }));
  }
  current = run;
  return new PromiseCtor(function (resolve) {
    let settled = false;
    const finish = function (text) {
      if (settled) return;
      settled = true;
      if (current === run) current = null;
      resolve(text);
    };
    try {
      const input = inputJson === '' ? undefined : JSONparse(inputJson);
      const result = ReflectApply(entry, undefined, [input, makeCtx(run)]);
      const wrapped = new PromiseCtor(function (r) { r(result); });
      ReflectApply(promiseThen, wrapped, [
        function (value) { finish(encodeOutput(run, value)); },
        function (error) { finish(encodeError(run, error)); },
      ]);
    } catch (e) {
      finish(encodeError(run, e));
    }
  });
}

function dispatch(op, a, b, c) {
  if (op === 'run') return startRun(a, b);
  if (op === 'deliver') { deliver(a, b, c); return undefined; }
  if (op === 'abort') {
    const run = current;
    if (run !== null && run.token === a) run.abort.fire(makeError('E_DISPOSED', 'the run was cancelled', 'AbortError'));
    return undefined;
  }
  return undefined;
}
