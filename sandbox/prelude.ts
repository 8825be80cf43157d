/** @module sandbox/prelude — the script run in every context before agent code: captures primordials, builds `ctx` and the web globals, hides the host bridge. */

/**
 * Settings the host hands the prelude's install function, as JSON.
 * Only primitives cross: the bridge itself is two `ivm.Callback` functions passed as arguments.
 */
export interface PreludeSettings {
  template: string;
  outputLimitBytes: number;
  logLimitBytes: number;
  wasm: boolean;
  kv: boolean;
  configJson: string;
}

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
 * - internal records are null-prototype objects, so getters on `Object.prototype` never see them.
 *
 * Envelopes returned by a run: `O<dropped>;<json>` (output), `U<dropped>;` (undefined), `E<dropped>;<json>` (error).
 */
export const PRELUDE_SOURCE = String.raw`'use strict';
(function () {
  'use strict';
  const G = globalThis;
  const ObjectFreeze = Object.freeze;
  const ObjectDefineProperty = Object.defineProperty;
  const ObjectKeys = Object.keys;
  const ObjectGetPrototypeOf = Object.getPrototypeOf;
  const ObjectCreate = Object.create;
  const ObjectPrototype = Object.prototype;
  const ArrayIsArray = Array.isArray;
  const ReflectApply = Reflect.apply;
  const ReflectDeleteProperty = Reflect.deleteProperty;
  const ReflectOwnKeys = Reflect.ownKeys;
  const JSONparse = JSON.parse;
  const JSONstringify = JSON.stringify;
  const StringCtor = String;
  const NumberCtor = Number;
  const MathFloor = Math.floor;
  const MathMin = Math.min;
  const MathMax = Math.max;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const PromiseCtor = Promise;
  const promiseThen = Promise.prototype.then;
  const WeakMapCtor = WeakMap;
  const weakMapGet = WeakMap.prototype.get;
  const weakMapSet = WeakMap.prototype.set;
  const MapCtor = Map;
  const mapGet = Map.prototype.get;
  const mapSet = Map.prototype.set;
  const mapHas = Map.prototype.has;
  const charCodeAt = String.prototype.charCodeAt;
  const stringSlice = String.prototype.slice;
  const StringFromCharCode = String.fromCharCode;
  const Uint8ArrayCtor = Uint8Array;
  const ArrayBufferCtor = ArrayBuffer;
  const ArrayBufferIsView = ArrayBuffer.isView;
  const arrayPush = Array.prototype.push;
  const arrayJoin = Array.prototype.join;
  const DateCtor = Date;
  const RegExpCtor = RegExp;
  const SetCtor = Set;

  const PROPAGATED_CODES = ObjectFreeze({ __proto__: null, E_PERMISSION_DENIED: true, E_SPAWN_LIMIT: true });

  function safeString(value) {
    try {
      return StringCtor(value);
    } catch (e) {
      return '[unprintable]';
    }
  }
  function safeStringify(value) {
    try {
      const json = JSONstringify(value);
      return json === undefined ? '' : json;
    } catch (e) {
      return JSONstringify('[unserialisable]');
    }
  }
  function truncate(text, max) {
    return text.length > max ? ReflectApply(stringSlice, text, [0, max]) + '…' : text;
  }
  function utf8Length(text, limit) {
    // Bytes are never fewer than UTF-16 units and never more than three per unit: decide cheaply when possible.
    const units = text.length;
    if (units > limit) return units;
    if (units * 3 <= limit) return units;
    let bytes = 0;
    for (let i = 0; i < units; i++) {
      const c = ReflectApply(charCodeAt, text, [i]);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < units) { bytes += 4; i++; }
      else bytes += 3;
    }
    return bytes;
  }

  return function install(hostSync, hostCall, settingsJson) {
    'use strict';
    const settings = JSONparse(settingsJson);
    const outputLimit = settings.outputLimitBytes;
    const logLimit = settings.logLimitBytes;
    const configJson = settings.configJson;

    // Errors made here for tool failures; only these may carry a code that ends the run with that code.
    const toolErrors = new WeakMapCtor();
    function makeError(code, message, name) {
      const err = new ErrorCtor(message);
      ObjectDefineProperty(err, 'name', { value: name || 'Error', writable: true, configurable: true, enumerable: false });
      ObjectDefineProperty(err, 'code', { value: code, writable: true, configurable: true, enumerable: true });
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
    function call(run, tool, argsJson, decode) {
      if (run !== current) {
        return new PromiseCtor(function (resolve, reject) {
          reject(makeError('E_DISPOSED', 'this run has ended; its ctx can no longer be used', 'Error'));
        });
      }
      const id = ++seq;
      return new PromiseCtor(function (resolve, reject) {
        pending[id] = { __proto__: null, resolve: resolve, reject: reject, decode: decode };
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

    // ---- web globals -------------------------------------------------------------------------
    let randomPool = '';
    let randomAt = 0;
    function randomByte() {
      if (randomAt >= randomPool.length) {
        randomPool = hostSync(0, 'random', '1024', '', '');
        randomAt = 0;
      }
      return ReflectApply(charCodeAt, randomPool, [randomAt++]);
    }
    const hex = [];
    for (let i = 0; i < 256; i++) hex[i] = (i < 16 ? '0' : '') + i.toString(16);
    const crypto = {
      getRandomValues(array) {
        if (!ArrayBufferIsView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
          throw new TypeErrorCtor('crypto.getRandomValues: argument must be an integer TypedArray');
        }
        if (array.byteLength > 65536) throw new RangeErrorCtor('crypto.getRandomValues: at most 65536 bytes per call');
        const bytes = new Uint8ArrayCtor(array.buffer, array.byteOffset, array.byteLength);
        for (let i = 0; i < bytes.length; i++) bytes[i] = randomByte();
        return array;
      },
      randomUUID() {
        const b = [];
        for (let i = 0; i < 16; i++) b[i] = randomByte();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let s = '';
        for (let i = 0; i < 16; i++) {
          s += hex[b[i]];
          if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
        }
        return s;
      },
    };

    class TextEncoder {
      get encoding() { return 'utf-8'; }
      encode(input) {
        const s = input === undefined ? '' : StringCtor(input);
        const out = [];
        for (let i = 0; i < s.length; i++) {
          let c = ReflectApply(charCodeAt, s, [i]);
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
            const d = ReflectApply(charCodeAt, s, [i + 1]);
            if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; } else c = 0xfffd;
          } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
          if (c < 0x80) out[out.length] = c;
          else if (c < 0x800) { out[out.length] = 0xc0 | (c >> 6); out[out.length] = 0x80 | (c & 63); }
          else if (c < 0x10000) { out[out.length] = 0xe0 | (c >> 12); out[out.length] = 0x80 | ((c >> 6) & 63); out[out.length] = 0x80 | (c & 63); }
          else { out[out.length] = 0xf0 | (c >> 18); out[out.length] = 0x80 | ((c >> 12) & 63); out[out.length] = 0x80 | ((c >> 6) & 63); out[out.length] = 0x80 | (c & 63); }
        }
        return new Uint8ArrayCtor(out);
      }
    }
    class TextDecoder {
      constructor(label, options) {
        const l = label === undefined ? 'utf-8' : StringCtor(label).toLowerCase();
        if (l !== 'utf-8' && l !== 'utf8') throw new RangeErrorCtor('TextDecoder: only utf-8 is supported');
        this.fatal = !!(options && options.fatal);
        this.ignoreBOM = !!(options && options.ignoreBOM);
      }
      get encoding() { return 'utf-8'; }
      decode(input) {
        if (input === undefined) return '';
        let bytes;
        if (input instanceof ArrayBufferCtor) bytes = new Uint8ArrayCtor(input);
        else if (ArrayBufferIsView(input)) bytes = new Uint8ArrayCtor(input.buffer, input.byteOffset, input.byteLength);
        else throw new TypeErrorCtor('TextDecoder.decode: argument must be a BufferSource');
        const fatal = this.fatal;
        const bad = function () { if (fatal) throw new TypeErrorCtor('TextDecoder: invalid utf-8'); return 0xfffd; };
        const codes = [];
        let out = '';
        let i = 0;
        if (!this.ignoreBOM && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
        while (i < bytes.length) {
          const b = bytes[i];
          let c;
          let need = 0;
          if (b < 0x80) { c = b; } else if (b >= 0xc2 && b < 0xe0) { c = b & 31; need = 1; } else if (b >= 0xe0 && b < 0xf0) { c = b & 15; need = 2; } else if (b >= 0xf0 && b < 0xf5) { c = b & 7; need = 3; } else { c = bad(); }
          i++;
          for (let k = 0; k < need; k++) {
            const n = bytes[i];
            if (n === undefined || (n & 0xc0) !== 0x80) { c = bad(); need = 0; break; }
            c = (c << 6) | (n & 63);
            i++;
          }
          if (c > 0xffff) { c -= 0x10000; codes[codes.length] = 0xd800 + (c >> 10); codes[codes.length] = 0xdc00 + (c & 1023); } else codes[codes.length] = c;
          if (codes.length > 4096) { out += ReflectApply(StringFromCharCode, undefined, codes); codes.length = 0; }
        }
        return out + ReflectApply(StringFromCharCode, undefined, codes);
      }
    }

    function structuredClone(value) {
      const seen = new MapCtor();
      const clone = function (v) {
        if (v === null || (typeof v !== 'object' && typeof v !== 'function')) {
          if (typeof v === 'symbol') throw new TypeErrorCtor('structuredClone: a Symbol could not be cloned');
          return v;
        }
        if (typeof v === 'function') throw new TypeErrorCtor('structuredClone: a function could not be cloned');
        if (ReflectApply(mapHas, seen, [v])) return ReflectApply(mapGet, seen, [v]);
        let out;
        if (ArrayIsArray(v)) {
          out = [];
          ReflectApply(mapSet, seen, [v, out]);
          for (let i = 0; i < v.length; i++) out[i] = clone(v[i]);
          return out;
        }
        if (v instanceof DateCtor) { out = new DateCtor(v.getTime()); ReflectApply(mapSet, seen, [v, out]); return out; }
        if (v instanceof RegExpCtor) { out = new RegExpCtor(v.source, v.flags); ReflectApply(mapSet, seen, [v, out]); return out; }
        if (v instanceof MapCtor) { out = new MapCtor(); ReflectApply(mapSet, seen, [v, out]); v.forEach(function (val, key) { out.set(clone(key), clone(val)); }); return out; }
        if (v instanceof SetCtor) { out = new SetCtor(); ReflectApply(mapSet, seen, [v, out]); v.forEach(function (val) { out.add(clone(val)); }); return out; }
        if (v instanceof ArrayBufferCtor) { out = v.slice(0); ReflectApply(mapSet, seen, [v, out]); return out; }
        if (ArrayBufferIsView(v)) { out = new v.constructor(v); ReflectApply(mapSet, seen, [v, out]); return out; }
        if (v instanceof ErrorCtor) { out = new ErrorCtor(v.message); out.name = v.name; ReflectApply(mapSet, seen, [v, out]); return out; }
        out = {};
        ReflectApply(mapSet, seen, [v, out]);
        const keys = ObjectKeys(v);
        for (let i = 0; i < keys.length; i++) out[keys[i]] = clone(v[keys[i]]);
        return out;
      };
      return clone(value);
    }

    class URLSearchParams {
      constructor(init) {
        this._list = [];
        this._onChange = null;
        if (init === undefined || init === null) return;
        if (typeof init === 'object') {
          if (ArrayIsArray(init)) { for (const pair of init) this._list.push([StringCtor(pair[0]), StringCtor(pair[1])]); }
          else { for (const k of ObjectKeys(init)) this._list.push([k, StringCtor(init[k])]); }
          return;
        }
        let s = StringCtor(init);
        if (s[0] === '?') s = s.slice(1);
        for (const part of s.split('&')) {
          if (part === '') continue;
          const eq = part.indexOf('=');
          const k = eq === -1 ? part : part.slice(0, eq);
          const v = eq === -1 ? '' : part.slice(eq + 1);
          this._list.push([decodeForm(k), decodeForm(v)]);
        }
      }
      _changed() { if (this._onChange !== null) this._onChange(this.toString()); }
      get(name) { for (const p of this._list) if (p[0] === StringCtor(name)) return p[1]; return null; }
      getAll(name) { const out = []; for (const p of this._list) if (p[0] === StringCtor(name)) out.push(p[1]); return out; }
      has(name) { return this.get(name) !== null; }
      append(name, value) { this._list.push([StringCtor(name), StringCtor(value)]); this._changed(); }
      set(name, value) {
        const n = StringCtor(name);
        const i = this._list.findIndex(function (p) { return p[0] === n; });
        this._list = this._list.filter(function (p, j) { return p[0] !== n || j === i; });
        if (i === -1) this._list.push([n, StringCtor(value)]); else this._list[this._list.findIndex(function (p) { return p[0] === n; })][1] = StringCtor(value);
        this._changed();
      }
      delete(name) { const n = StringCtor(name); this._list = this._list.filter(function (p) { return p[0] !== n; }); this._changed(); }
      forEach(fn, thisArg) { for (const p of this._list) ReflectApply(fn, thisArg, [p[1], p[0], this]); }
      keys() { return this._list.map(function (p) { return p[0]; })[Symbol.iterator](); }
      values() { return this._list.map(function (p) { return p[1]; })[Symbol.iterator](); }
      entries() { return this._list.map(function (p) { return [p[0], p[1]]; })[Symbol.iterator](); }
      [Symbol.iterator]() { return this.entries(); }
      get size() { return this._list.length; }
      toString() { return this._list.map(function (p) { return encodeForm(p[0]) + '=' + encodeForm(p[1]); }).join('&'); }
    }
    function decodeForm(s) { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (e) { return s; } }
    function encodeForm(s) { return encodeURIComponent(s).replace(/%20/g, '+'); }

    const SPECIAL = { __proto__: null, 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21', 'file:': '' };
    function normalisePath(p) {
      const segments = p.split('/');
      const out = [];
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i];
        if (s === '..') { if (out.length > 1) out.pop(); if (i === segments.length - 1) out.push(''); }
        else if (s === '.') { if (i === segments.length - 1) out.push(''); }
        else out.push(s);
      }
      let joined = out.join('/');
      if (joined[0] !== '/') joined = '/' + joined;
      return joined.replace(/ /g, '%20');
    }
    class URL {
      constructor(input, base) {
        const text = StringCtor(input).trim();
        const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(text);
        if (m !== null) { this._parseAbsolute(m[1].toLowerCase() + ':', m[2], text); return; }
        if (base === undefined) throw new TypeErrorCtor('Invalid URL: ' + text);
        const b = base instanceof URL ? base : new URL(base);
        this._protocol = b._protocol; this._username = b._username; this._password = b._password;
        this._hostname = b._hostname; this._port = b._port; this._hash = '';
        let rest = text;
        const hashAt = rest.indexOf('#');
        if (hashAt !== -1) { this._hash = rest.slice(hashAt); rest = rest.slice(0, hashAt); }
        if (rest.slice(0, 2) === '//') { this._parseAbsolute(b._protocol, rest + this._hash, b._protocol + rest); return; }
        const qAt = rest.indexOf('?');
        const pathPart = qAt === -1 ? rest : rest.slice(0, qAt);
        this._search = qAt === -1 ? (pathPart === '' ? b._search : '') : rest.slice(qAt);
        if (pathPart === '') this._pathname = b._pathname;
        else if (pathPart[0] === '/') this._pathname = normalisePath(pathPart);
        else this._pathname = normalisePath(b._pathname.slice(0, b._pathname.lastIndexOf('/') + 1) + pathPart);
        if (this._search === '?') this._search = '';
      }
      _parseAbsolute(protocol, rest, original) {
        this._protocol = protocol; this._username = ''; this._password = ''; this._hostname = ''; this._port = '';
        this._search = ''; this._hash = '';
        const hashAt = rest.indexOf('#');
        if (hashAt !== -1) { this._hash = rest.slice(hashAt); rest = rest.slice(0, hashAt); if (this._hash === '#') this._hash = ''; }
        const qAt = rest.indexOf('?');
        if (qAt !== -1) { this._search = rest.slice(qAt); rest = rest.slice(0, qAt); if (this._search === '?') this._search = ''; }
        const special = SPECIAL[protocol] !== undefined;
        if (rest.slice(0, 2) === '//' || (special && protocol !== 'file:')) {
          rest = rest.replace(/^[\/\\]*/, '');
          const slash = rest.search(/[\/\\]/);
          let authority = slash === -1 ? rest : rest.slice(0, slash);
          rest = slash === -1 ? '' : rest.slice(slash).replace(/\\/g, '/');
          const at = authority.lastIndexOf('@');
          if (at !== -1) {
            const info = authority.slice(0, at);
            authority = authority.slice(at + 1);
            const colon = info.indexOf(':');
            this._username = colon === -1 ? info : info.slice(0, colon);
            this._password = colon === -1 ? '' : info.slice(colon + 1);
          }
          const hm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
          if (hm === null) throw new TypeErrorCtor('Invalid URL: ' + original);
          this._hostname = hm[1].toLowerCase();
          this._port = hm[2] === undefined || hm[2] === SPECIAL[protocol] ? '' : StringCtor(NumberCtor(hm[2]));
          if (special && protocol !== 'file:' && this._hostname === '') throw new TypeErrorCtor('Invalid URL: ' + original);
          if (/[\s<>^|%]/.test(this._hostname) && this._hostname[0] !== '[') throw new TypeErrorCtor('Invalid URL: ' + original);
          if (this._port !== '' && NumberCtor(this._port) > 65535) throw new TypeErrorCtor('Invalid URL: ' + original);
          this._pathname = special ? normalisePath(rest) : rest;
        } else {
          this._pathname = rest;
        }
      }
      get protocol() { return this._protocol; }
      get username() { return this._username; }
      get password() { return this._password; }
      get hostname() { return this._hostname; }
      get port() { return this._port; }
      get host() { return this._hostname + (this._port === '' ? '' : ':' + this._port); }
      get origin() { return SPECIAL[this._protocol] !== undefined && this._protocol !== 'file:' ? this._protocol + '//' + this.host : 'null'; }
      get pathname() { return this._pathname; }
      set pathname(v) { this._pathname = normalisePath(StringCtor(v)); }
      get search() { return this._search; }
      set search(v) { const s = StringCtor(v); this._search = s === '' || s === '?' ? '' : (s[0] === '?' ? s : '?' + s); this._params = undefined; }
      get hash() { return this._hash; }
      set hash(v) { const s = StringCtor(v); this._hash = s === '' || s === '#' ? '' : (s[0] === '#' ? s : '#' + s); }
      get searchParams() {
        if (this._params === undefined) {
          const self = this;
          this._params = new URLSearchParams(this._search);
          this._params._onChange = function (text) { self._search = text === '' ? '' : '?' + text; };
        }
        return this._params;
      }
      get href() {
        const hasAuthority = this._hostname !== '' || this._protocol === 'file:' || SPECIAL[this._protocol] !== undefined;
        const userinfo = this._username === '' && this._password === '' ? '' : this._username + (this._password === '' ? '' : ':' + this._password) + '@';
        return this._protocol + (hasAuthority ? '//' + userinfo + this.host : '') + this._pathname + this._search + this._hash;
      }
      toString() { return this.href; }
      toJSON() { return this.href; }
      static canParse(input, base) { try { new URL(input, base); return true; } catch (e) { return false; } }
    }

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
      ObjectDefineProperty(G, name, { value: value, writable: true, configurable: true, enumerable: false });
    };
    define('console', ObjectFreeze({ log: consoleMethod('info'), info: consoleMethod('info'), debug: consoleMethod('debug'), warn: consoleMethod('warn'), error: consoleMethod('error'), trace: consoleMethod('debug') }));
    define('TextEncoder', TextEncoder);
    define('TextDecoder', TextDecoder);
    define('URL', URL);
    define('URLSearchParams', URLSearchParams);
    define('structuredClone', structuredClone);
    define('crypto', crypto);
    define('setTimeout', function (fn, ms) { const args = []; for (let i = 2; i < arguments.length; i++) args[i - 2] = arguments[i]; return setTimeoutImpl(fn, ms, args, false); });
    define('setInterval', function (fn, ms) { const args = []; for (let i = 2; i < arguments.length; i++) args[i - 2] = arguments[i]; return setTimeoutImpl(fn, MathMax(1, NumberCtor(ms) || 0), args, true); });
    define('clearTimeout', clearTimer);
    define('clearInterval', clearTimer);
    define('queueMicrotask', function (fn) { ReflectApply(promiseThen, new PromiseCtor(function (r) { r(); }), [function () { fn(); }]); });
    if (!settings.wasm) ReflectDeleteProperty(G, 'WebAssembly');

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
        arrayBuffer() { return new PromiseCtor(function (resolve) { resolve(new TextEncoder().encode(take()).buffer); }); },
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
              request.body = typeof init.body === 'string' ? init.body : (ArrayBufferIsView(init.body) || init.body instanceof ArrayBufferCtor ? new TextDecoder().decode(init.body) : StringCtor(init.body));
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
      };
      if (settings.kv) {
        ctx.kv = ObjectFreeze({
          get: function (key) { return call(run, 'kv.get', JSONstringify([StringCtor(key)]), decodeJson); },
          set: function (key, value) {
            const json = JSONstringify(value);
            if (json === undefined) throw new TypeErrorCtor('kv.set: value must be JSON-serialisable');
            return call(run, 'kv.set', JSONstringify([StringCtor(key), json]), undefined);
          },
          delete: function (key) { return call(run, 'kv.delete', JSONstringify([StringCtor(key)]), decodeJson); },
          list: function (options) {
            const o = { prefix: options && options.prefix !== undefined ? StringCtor(options.prefix) : '', limit: options && options.limit !== undefined ? NumberCtor(options.limit) : 1000 };
            return call(run, 'kv.list', JSONstringify(o), decodeJson);
          },
        });
      }
      return ObjectFreeze(ctx);
    }

    function envelope(kind, run, body) {
      return kind + run.logDropped + ';' + body;
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
      const run = { __proto__: null, token: token, logBytes: 0, logDropped: 0, abort: makeSignal() };
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

    return function dispatch(op, a, b, c) {
      if (op === 'run') return startRun(a, b);
      if (op === 'deliver') { deliver(a, b, c); return undefined; }
      if (op === 'abort') {
        const run = current;
        if (run !== null && run.token === a) run.abort.fire(makeError('E_DISPOSED', 'the run was cancelled', 'AbortError'));
        return undefined;
      }
      return undefined;
    };
  };
})()`;
