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
  configJson: string;
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
  const ReflectConstruct = Reflect.construct;
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
  const SymbolIterator = Symbol.iterator;
  const SymbolToStringTag = Symbol.toStringTag;
  const ReflectGetOwnPropertyDescriptor = Reflect.getOwnPropertyDescriptor;
  const IteratorPrototype = ObjectGetPrototypeOf(ObjectGetPrototypeOf([][Symbol.iterator]()));
  const stringToWellFormed = String.prototype.toWellFormed;
  const arraySlice = Array.prototype.slice;
  const decodeURIComponentFn = decodeURIComponent;
  const stringSplit = String.prototype.split;
  function getter(proto, name) { return ReflectGetOwnPropertyDescriptor(proto, name).get; }
  const TypedArrayPrototype = ObjectGetPrototypeOf(Uint8Array.prototype);
  const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag);
  const typedArrayBuffer = getter(TypedArrayPrototype, 'buffer');
  const typedArrayByteOffset = getter(TypedArrayPrototype, 'byteOffset');
  const typedArrayByteLength = getter(TypedArrayPrototype, 'byteLength');
  const dataViewBuffer = getter(DataView.prototype, 'buffer');
  const dataViewByteOffset = getter(DataView.prototype, 'byteOffset');
  const dataViewByteLength = getter(DataView.prototype, 'byteLength');
  const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength');
  const sharedArrayBufferByteLength = typeof SharedArrayBuffer === 'function' ? getter(SharedArrayBuffer.prototype, 'byteLength') : undefined;

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

    // ---- TextEncoder / TextDecoder: WHATWG Encoding, UTF-8 only. Pure computation on bytes, so it runs here:
    // there is no host value to agree with, only Node's behaviour to match (test/security/url-parser.test.ts).
    function nodeError(Ctor, code, message) {
      const err = new Ctor(message);
      ObjectDefineProperty(err, 'code', { __proto__: null, value: code, writable: true, configurable: true, enumerable: true });
      return err;
    }
    function toStr(value) {
      // As a template literal does: a Symbol throws instead of printing "Symbol(x)".
      if (typeof value === 'symbol') throw new TypeErrorCtor('Cannot convert a Symbol value to a string');
      return StringCtor(value);
    }
    function toUSV(text) {
      if (stringToWellFormed !== undefined) return ReflectApply(stringToWellFormed, text, []);
      let out = '';
      let from = 0;
      for (let i = 0; i < text.length; i++) {
        const c = ReflectApply(charCodeAt, text, [i]);
        if (c < 0xd800 || c > 0xdfff) continue;
        if (c <= 0xdbff && i + 1 < text.length) {
          const d = ReflectApply(charCodeAt, text, [i + 1]);
          if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
        }
        out += ReflectApply(stringSlice, text, [from, i]) + '\uFFFD';
        from = i + 1;
      }
      return from === 0 ? text : out + ReflectApply(stringSlice, text, [from]);
    }
    /** Writes whole UTF-8 sequences of text into out from index 0 while they fit; lone surrogates become U+FFFD. Returns [read, written]. */
    function utf8Write(text, out) {
      const n = text.length;
      const room = out.length;
      let w = 0;
      let i = 0;
      for (; i < n; i++) {
        let c = ReflectApply(charCodeAt, text, [i]);
        let units = 1;
        if (c >= 0xd800 && c <= 0xdfff) {
          const d = c <= 0xdbff && i + 1 < n ? ReflectApply(charCodeAt, text, [i + 1]) : 0;
          if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); units = 2; } else c = 0xfffd;
        }
        if (c < 0x80) { if (w + 1 > room) break; out[w++] = c; }
        else if (c < 0x800) { if (w + 2 > room) break; out[w++] = 0xc0 | (c >> 6); out[w++] = 0x80 | (c & 63); }
        else if (c < 0x10000) { if (w + 3 > room) break; out[w++] = 0xe0 | (c >> 12); out[w++] = 0x80 | ((c >> 6) & 63); out[w++] = 0x80 | (c & 63); }
        else { if (w + 4 > room) break; out[w++] = 0xf0 | (c >> 18); out[w++] = 0x80 | ((c >> 12) & 63); out[w++] = 0x80 | ((c >> 6) & 63); out[w++] = 0x80 | (c & 63); }
        i += units - 1;
      }
      return [i, w];
    }
    function utf8Encode(text) {
      const n = text.length;
      let size = 0;
      for (let i = 0; i < n; i++) {
        const c = ReflectApply(charCodeAt, text, [i]);
        if (c < 0x80) size += 1;
        else if (c < 0x800) size += 2;
        else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
          const d = ReflectApply(charCodeAt, text, [i + 1]);
          if (d >= 0xdc00 && d <= 0xdfff) { size += 4; i++; } else size += 3;
        } else size += 3;
      }
      const out = new Uint8ArrayCtor(size);
      utf8Write(text, out);
      return out;
    }
    /** A fresh WHATWG UTF-8 decoder state. */
    function utf8State() {
      return { __proto__: null, need: 0, seen: 0, cp: 0, lower: 0x80, upper: 0xbf, bomSeen: false };
    }
    /**
     * The WHATWG UTF-8 decoder over bytes, continuing from state: each maximal invalid subpart becomes one U+FFFD,
     * or a TypeError when fatal (the state is then reset). flush ends the stream: a truncated sequence is an error.
     */
    function utf8Decode(state, bytes, fatal, flush, ignoreBOM) {
      const codes = [];
      let out = '';
      let k = 0;
      const emit = function (c) {
        if (!state.bomSeen) {
          state.bomSeen = true;
          if (c === 0xfeff && !ignoreBOM) return;
        }
        if (c > 0xffff) { c -= 0x10000; codes[k++] = 0xd800 + (c >> 10); codes[k++] = 0xdc00 + (c & 1023); } else codes[k++] = c;
        if (k > 8192) { out += ReflectApply(StringFromCharCode, undefined, codes); codes.length = 0; k = 0; }
      };
      const error = function () {
        if (fatal) {
          state.need = 0; state.seen = 0; state.cp = 0; state.lower = 0x80; state.upper = 0xbf; state.bomSeen = false;
          throw nodeError(TypeErrorCtor, 'ERR_ENCODING_INVALID_ENCODED_DATA', 'The encoded data was not valid for encoding utf-8');
        }
        emit(0xfffd);
      };
      const n = bytes.length;
      for (let i = 0; i < n; i++) {
        const b = bytes[i];
        if (state.need === 0) {
          if (b < 0x80) emit(b);
          else if (b >= 0xc2 && b <= 0xdf) { state.need = 1; state.cp = b & 0x1f; }
          else if (b >= 0xe0 && b <= 0xef) { if (b === 0xe0) state.lower = 0xa0; if (b === 0xed) state.upper = 0x9f; state.need = 2; state.cp = b & 0xf; }
          else if (b >= 0xf0 && b <= 0xf4) { if (b === 0xf0) state.lower = 0x90; if (b === 0xf4) state.upper = 0x8f; state.need = 3; state.cp = b & 7; }
          else error();
          continue;
        }
        if (b < state.lower || b > state.upper) {
          state.need = 0; state.seen = 0; state.cp = 0; state.lower = 0x80; state.upper = 0xbf;
          error();
          i--; // the byte starts over: it may begin the next sequence
          continue;
        }
        state.lower = 0x80; state.upper = 0xbf;
        state.cp = (state.cp << 6) | (b & 0x3f);
        if (++state.seen === state.need) {
          const c = state.cp;
          state.need = 0; state.seen = 0; state.cp = 0;
          emit(c);
        }
      }
      if (flush && state.need !== 0) {
        state.need = 0; state.seen = 0; state.cp = 0; state.lower = 0x80; state.upper = 0xbf;
        error();
      }
      return k === 0 ? out : out + ReflectApply(StringFromCharCode, undefined, codes);
    }
    /** The bytes a BufferSource covers, read through the builtins' own getters (an own "buffer" property is not consulted). */
    function bufferBytes(input) {
      if (ArrayBufferIsView(input)) {
        if (ReflectApply(typedArrayTag, input, []) !== undefined) {
          return new Uint8ArrayCtor(ReflectApply(typedArrayBuffer, input, []), ReflectApply(typedArrayByteOffset, input, []), ReflectApply(typedArrayByteLength, input, []));
        }
        return new Uint8ArrayCtor(ReflectApply(dataViewBuffer, input, []), ReflectApply(dataViewByteOffset, input, []), ReflectApply(dataViewByteLength, input, []));
      }
      if (input !== null && typeof input === 'object') {
        try { ReflectApply(arrayBufferByteLength, input, []); return new Uint8ArrayCtor(input); } catch (e) { /* not an ArrayBuffer */ }
        if (sharedArrayBufferByteLength !== undefined) {
          try { ReflectApply(sharedArrayBufferByteLength, input, []); return new Uint8ArrayCtor(input); } catch (e) { /* not a SharedArrayBuffer */ }
        }
      }
      return undefined;
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

    // ---- URLSearchParams: application/x-www-form-urlencoded, as Node implements it. Pure computation too: the host
    // only ever sees the URL string it is part of, and parses that itself.
    // URLSearchParams runs here, not on the host: its input is agent data the host never interprets (the host parses
    // only the URL the query ends up in), and a host call would let an agent spend host CPU its cpuMs does not count
    // (Node takes ~0.7 s for a 1 MB form string). The parse is Node's own algorithm (internal/url parseParams and
    // querystring.unescape), quirks included: a part with a valid %XX is decodeURIComponent'd, and when that throws,
    // decoded byte-wise with each UTF-16 unit cut to its low byte (so '😀%zz%41' is not what WHATWG would give).
    function formParse(qs) {
      const out = [];
      let k = 0;
      let seenSep = false;
      let buf = '';
      let encoded = false;
      let encodeCheck = 0;
      let i = ReflectApply(charCodeAt, qs, [0]) === 0x3f ? 1 : 0;
      let pairStart = i;
      let lastPos = i;
      const n = qs.length;
      for (; i < n; ++i) {
        const code = ReflectApply(charCodeAt, qs, [i]);
        if (code === 0x26) {
          if (pairStart === i) { lastPos = pairStart = i + 1; continue; }
          if (lastPos < i) buf += ReflectApply(stringSlice, qs, [lastPos, i]);
          out[k++] = encoded ? formUnescape(buf) : buf;
          if (!seenSep) out[k++] = '';
          seenSep = false; buf = ''; encoded = false; encodeCheck = 0;
          lastPos = pairStart = i + 1;
          continue;
        }
        if (!seenSep && code === 0x3d) {
          if (lastPos < i) buf += ReflectApply(stringSlice, qs, [lastPos, i]);
          out[k++] = encoded ? formUnescape(buf) : buf;
          seenSep = true; buf = ''; encoded = false; encodeCheck = 0;
          lastPos = i + 1;
          continue;
        }
        if (code === 0x2b) {
          if (lastPos < i) buf += ReflectApply(stringSlice, qs, [lastPos, i]);
          buf += ' ';
          lastPos = i + 1;
          if (plusEndsEscape && !encoded) encodeCheck = 0;
        } else if (!encoded) {
          if (code === 0x25) encodeCheck = 1;
          else if (encodeCheck > 0) {
            if (hexValue(code) !== -1) { if (++encodeCheck === 3) encoded = true; } else encodeCheck = 0;
          }
        }
      }
      if (pairStart === i) return out;
      if (lastPos < i) buf += ReflectApply(stringSlice, qs, [lastPos, i]);
      out[k++] = encoded ? formUnescape(buf) : buf;
      if (!seenSep) out[k++] = '';
      return out;
    }
    function hexValue(c) {
      if (c >= 0x30 && c <= 0x39) return c - 0x30;
      if (c >= 0x41 && c <= 0x46) return c - 0x37;
      if (c >= 0x61 && c <= 0x66) return c - 0x57;
      return -1;
    }
    function formUnescape(s) {
      try {
        return decodeURIComponentFn(s);
      } catch (e) {
        // querystring.unescapeBuffer: '%' needs two characters after it; every unit is stored as a byte.
        const bytes = new Uint8ArrayCtor(s.length);
        let w = 0;
        let index = 0;
        const maxLength = s.length - 2;
        while (index < s.length) {
          let c = ReflectApply(charCodeAt, s, [index]);
          if (c === 0x25 && index < maxLength) {
            c = ReflectApply(charCodeAt, s, [++index]);
            const high = hexValue(c);
            if (high === -1) { bytes[w++] = 0x25; continue; }
            const low = hexValue(ReflectApply(charCodeAt, s, [++index]));
            if (low === -1) { bytes[w++] = 0x25; index--; } else c = high * 16 + low;
          }
          bytes[w++] = c & 0xff;
          index++;
        }
        return utf8Decode(utf8State(), new Uint8ArrayCtor(bytes.buffer, 0, w), false, true, true);
      }
    }
    function formSafe(b) {
      return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f;
    }
    const HEX_UPPER = '0123456789ABCDEF';
    function formEncode(text) {
      const bytes = utf8Encode(text);
      let out = '';
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i];
        if (formSafe(b)) out += StringFromCharCode(b);
        else if (b === 0x20) out += '+';
        else out += '%' + HEX_UPPER[b >> 4] + HEX_UPPER[b & 15];
      }
      return out;
    }
    function formSerialize(list) {
      let out = '';
      for (let i = 0; i < list.length; i += 2) out += (i === 0 ? '' : '&') + formEncode(list[i]) + '=' + formEncode(list[i + 1]);
      return out;
    }
    function missingArgs(names) {
      return nodeError(TypeErrorCtor, 'ERR_MISSING_ARGS', names);
    }
    const invalidTuple = function () { return nodeError(TypeErrorCtor, 'ERR_INVALID_TUPLE', 'Each query pair must be an iterable [name, value] tuple'); };

    // ---- URL: the host parses, the isolate asks (see sandbox/url-op.ts). One synchronous host call per parse or
    // setter, strings only both ways, so every component the agent reads is what the host will see in the href.
    const URL_MAX_CHARS = 32768;
    function urlHost(op, a, b, c) {
      // The host refuses these too; checking here first spares copying a huge string across.
      if (a.length > URL_MAX_CHARS || b.length > URL_MAX_CHARS || c.length > URL_MAX_CHARS) return 'L';
      // The run in progress pays for the host's parsing out of its cpuMs; module top-level code has no run (token 0).
      return hostSync(current === null ? 0 : current.token, op, a, b, c);
    }
    function urlError(reply, input, base, hasBase) {
      const err = new TypeErrorCtor(reply === 'L' ? 'Invalid URL: longer than ' + URL_MAX_CHARS + ' characters, the sandbox limit for one URL'
        : reply === 'B' ? 'Invalid URL: this run has used its limits.cpuMs of host time parsing URLs' : 'Invalid URL');
      ObjectDefineProperty(err, 'code', { __proto__: null, value: 'ERR_INVALID_URL', writable: true, configurable: true, enumerable: true });
      ObjectDefineProperty(err, 'input', { __proto__: null, value: input, writable: true, configurable: true, enumerable: true });
      if (hasBase) ObjectDefineProperty(err, 'base', { __proto__: null, value: base, writable: true, configurable: true, enumerable: true });
      return err;
    }
    /** The components in a host reply ('O' + eleven strings joined by a line feed), or undefined for any other reply. */
    function replyParts(reply) {
      if (ReflectApply(stringSlice, reply, [0, 1]) !== 'O') return undefined;
      const parts = ReflectApply(stringSplit, ReflectApply(stringSlice, reply, [1]), ['\n']);
      return parts.length === 11 ? parts : undefined;
    }
    function urlParts(input, base) {
      const text = toStr(input);
      const hasBase = base !== undefined;
      const baseText = hasBase ? toStr(base) : '';
      const reply = urlHost('url.parse', text, baseText, hasBase ? '1' : '');
      const parts = replyParts(reply);
      if (parts === undefined) throw urlError(reply, text, baseText, hasBase);
      return parts;
    }
    // Components, in the order the host lists them.
    const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5, HOSTNAME = 6, PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;

    /**
     * Builds TextEncoder, TextDecoder, URLSearchParams and URL on first use: most agents never touch them, and with a
     * fresh context per run every class built at install is paid for on every run. Built after agent code may have
     * run, so it relies only on captured builtins and null-prototype descriptors, as the rest of the prelude does.
     */
    function buildWebGlobals() {
      const UTF8_LABELS = ObjectFreeze({ __proto__: null, 'unicode-1-1-utf-8': true, 'unicode11utf8': true, 'unicode20utf8': true, 'utf-8': true, 'utf8': true, 'x-unicode20utf8': true });

      let encoderBrand; // set by TextEncoder's static block: throws unless this is a TextEncoder
      class TextEncoder {
        #brand = true;
        get encoding() { ReflectApply(encoderBrand, this, []); return 'utf-8'; }
        encode(input) {
          ReflectApply(encoderBrand, this, []);
          return utf8Encode(input === undefined ? '' : toStr(input));
        }
        encodeInto(src, dest) {
          ReflectApply(encoderBrand, this, []);
          if (typeof src !== 'string') throw nodeError(TypeErrorCtor, 'ERR_INVALID_ARG_TYPE', 'The "src" argument must be of type string.');
          if (!ArrayBufferIsView(dest) || ReflectApply(typedArrayTag, dest, []) !== 'Uint8Array') {
            throw nodeError(TypeErrorCtor, 'ERR_INVALID_ARG_TYPE', 'The "dest" argument must be an instance of Uint8Array.');
          }
          const done = utf8Write(src, dest);
          return { read: done[0], written: done[1] };
        }
        static { encoderBrand = function () { if (!(#brand in this)) throw nodeError(TypeErrorCtor, 'ERR_INVALID_THIS', 'Value of "this" must be of type TextEncoder'); }; }
      }
      class TextDecoder {
        #fatal;
        #ignoreBOM;
        #state = utf8State();
        #streaming = false;
        constructor(encoding, options) {
          const label = encoding === undefined ? 'utf-8' : toStr(encoding);
          if (options !== undefined && options !== null && typeof options !== 'object') {
            throw nodeError(TypeErrorCtor, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object.');
          }
          // WHATWG "get an encoding": ASCII whitespace trimmed, ASCII case-insensitive.
          let from = 0;
          let to = label.length;
          const space = function (c) { return c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20; };
          while (from < to && space(ReflectApply(charCodeAt, label, [from]))) from++;
          while (to > from && space(ReflectApply(charCodeAt, label, [to - 1]))) to--;
          let name = '';
          for (let i = from; i < to; i++) {
            const c = ReflectApply(charCodeAt, label, [i]);
            name += StringFromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
          }
          if (UTF8_LABELS[name] !== true) throw nodeError(RangeErrorCtor, 'ERR_ENCODING_NOT_SUPPORTED', 'The "' + label + '" encoding is not supported');
          this.#fatal = options !== undefined && options !== null && !!options.fatal;
          this.#ignoreBOM = options !== undefined && options !== null && !!options.ignoreBOM;
        }
        get encoding() { this.#fatal; return 'utf-8'; }
        get fatal() { return this.#fatal; }
        get ignoreBOM() { return this.#ignoreBOM; }
        decode(input, options) {
          const fatal = this.#fatal;
          const bytes = input === undefined ? new Uint8ArrayCtor(0) : bufferBytes(input);
          if (bytes === undefined) {
            throw nodeError(TypeErrorCtor, 'ERR_INVALID_ARG_TYPE', 'The "list" argument must be an instance of SharedArrayBuffer, ArrayBuffer or ArrayBufferView.');
          }
          const stream = options !== undefined && options !== null && !!options.stream;
          if (!this.#streaming) this.#state = utf8State();
          this.#streaming = stream;
          try {
            return utf8Decode(this.#state, bytes, fatal, !stream, this.#ignoreBOM);
          } catch (e) {
            this.#streaming = false;
            throw e;
          }
        }
      }

      let paramsList;    // (params) → its flat [name, value, …] list
      let paramsLink;    // (params, url, search) → ties params to url and fills it from search
      let paramsReload;  // (params, search) → refills the list after the URL's query changed
      let urlSearchFromParams; // (url, serialized) → sets url's query without refilling its params

      class URLSearchParams {
        #list = [];
        #url = null;
        constructor(init) {
          if (init === null && nullInitIsString) init = 'null';
          if (init === undefined || init === null) return;
          const list = this.#list;
          if (typeof init === 'object' || typeof init === 'function') {
            const method = init[SymbolIterator];
            if (method !== undefined && method !== null) {
              if (typeof method !== 'function') throw nodeError(TypeErrorCtor, 'ERR_ARG_NOT_ITERABLE', 'Query pairs must be iterable');
              for (const pair of init) {
                if (pair === null || pair === undefined) throw invalidTuple();
                if (ArrayIsArray(pair)) {
                  if (pair.length !== 2) throw invalidTuple();
                  list[list.length] = toUSV(toStr(pair[0]));
                  list[list.length] = toUSV(toStr(pair[1]));
                  continue;
                }
                if ((typeof pair !== 'object' && typeof pair !== 'function') || typeof pair[SymbolIterator] !== 'function') throw invalidTuple();
                let count = 0;
                for (const element of pair) {
                  count++;
                  list[list.length] = toUSV(toStr(element));
                  if (count > 2) throw invalidTuple();
                }
                if (count !== 2) throw invalidTuple();
              }
              return;
            }
            // A record: own enumerable keys in order; two keys equal once well-formed keep the later value.
            const keys = ReflectOwnKeys(init);
            const at = new MapCtor();
            for (let i = 0; i < keys.length; i++) {
              const key = keys[i];
              const desc = ReflectGetOwnPropertyDescriptor(init, key);
              if (desc === undefined || !desc.enumerable) continue;
              const name = toUSV(toStr(key));
              const value = toUSV(toStr(init[key]));
              const found = ReflectApply(mapGet, at, [name]);
              if (found !== undefined) list[found] = value;
              else { ReflectApply(mapSet, at, [name, list.length + 1]); list[list.length] = name; list[list.length] = value; }
            }
            return;
          }
          this.#list = formParse(toUSV(toStr(init)));
        }
        #changed() {
          if (this.#url !== null) urlSearchFromParams(this.#url, formSerialize(this.#list));
        }
        get size() { return this.#list.length / 2; }
        append(name, value) {
          if (arguments.length < 2) throw missingArgs('The "name" and "value" arguments must be specified');
          const list = this.#list;
          list[list.length] = toUSV(toStr(name));
          list[list.length] = toUSV(toStr(value));
          this.#changed();
        }
        delete(name, value) {
          if (arguments.length < 1) throw missingArgs('The "name" argument must be specified');
          const n = toUSV(toStr(name));
          const v = value === undefined ? undefined : toUSV(toStr(value));
          const list = this.#list;
          const kept = [];
          for (let i = 0; i < list.length; i += 2) {
            if (list[i] === n && (v === undefined || list[i + 1] === v)) continue;
            kept[kept.length] = list[i];
            kept[kept.length] = list[i + 1];
          }
          this.#list = kept;
          this.#changed();
        }
        get(name) {
          if (arguments.length < 1) throw missingArgs('The "name" argument must be specified');
          const n = toUSV(toStr(name));
          const list = this.#list;
          for (let i = 0; i < list.length; i += 2) if (list[i] === n) return list[i + 1];
          return null;
        }
        getAll(name) {
          if (arguments.length < 1) throw missingArgs('The "name" argument must be specified');
          const n = toUSV(toStr(name));
          const list = this.#list;
          const out = [];
          for (let i = 0; i < list.length; i += 2) if (list[i] === n) out[out.length] = list[i + 1];
          return out;
        }
        has(name, value) {
          if (arguments.length < 1) throw missingArgs('The "name" argument must be specified');
          const n = toUSV(toStr(name));
          const v = value === undefined ? undefined : toUSV(toStr(value));
          const list = this.#list;
          for (let i = 0; i < list.length; i += 2) if (list[i] === n && (v === undefined || list[i + 1] === v)) return true;
          return false;
        }
        set(name, value) {
          if (arguments.length < 2) throw missingArgs('The "name" and "value" arguments must be specified');
          const n = toUSV(toStr(name));
          const v = toUSV(toStr(value));
          const list = this.#list;
          const out = [];
          let found = false;
          for (let i = 0; i < list.length; i += 2) {
            if (list[i] !== n) { out[out.length] = list[i]; out[out.length] = list[i + 1]; continue; }
            if (found) continue;
            found = true;
            out[out.length] = n;
            out[out.length] = v;
          }
          if (!found) { out[out.length] = n; out[out.length] = v; }
          this.#list = out;
          this.#changed();
        }
        sort() {
          // Stable, by UTF-16 code units of the names (insertion into a merge of runs would do; a plain stable merge sort is enough).
          const list = this.#list;
          let pairs = [];
          for (let i = 0; i < list.length; i += 2) pairs[pairs.length] = [list[i], list[i + 1]];
          pairs = mergeSort(pairs);
          const out = [];
          for (let i = 0; i < pairs.length; i++) { out[out.length] = pairs[i][0]; out[out.length] = pairs[i][1]; }
          this.#list = out;
          this.#changed();
        }
        entries() { return makeParamsIterator(this, 2); }
        forEach(callback, thisArg) {
          if (typeof callback !== 'function') throw nodeError(TypeErrorCtor, 'ERR_INVALID_ARG_TYPE', 'The "callback" argument must be of type function.');
          // Live, as Node: entries added during the walk are visited.
          for (let i = 0; i < this.#list.length; i += 2) {
            const list = this.#list;
            ReflectApply(callback, thisArg, [list[i + 1], list[i], this]);
          }
        }
        keys() { return makeParamsIterator(this, 0); }
        values() { return makeParamsIterator(this, 1); }
        toString() { return formSerialize(this.#list); }
        static {
          paramsList = function (params) { return params.#list; };
          paramsLink = function (params, url, search) { params.#url = url; params.#list = formParse(search); };
          paramsReload = function (params, search) { params.#list = formParse(search); };
        }
      }
      function mergeSort(items) {
        if (items.length < 2) return items;
        const mid = MathFloor(items.length / 2);
        const left = mergeSort(ReflectApply(arraySlice, items, [0, mid]));
        const right = mergeSort(ReflectApply(arraySlice, items, [mid]));
        const out = [];
        let i = 0;
        let j = 0;
        while (i < left.length && j < right.length) out[out.length] = right[j][0] < left[i][0] ? right[j++] : left[i++];
        while (i < left.length) out[out.length] = left[i++];
        while (j < right.length) out[out.length] = right[j++];
        return out;
      }
      // Iterators read the list at each step, as Node's do, so they see changes made while iterating.
      const paramsIteratorState = new WeakMapCtor();
      const ParamsIteratorPrototype = ObjectCreate(IteratorPrototype);
      ObjectDefineProperty(ParamsIteratorPrototype, 'next', {
        __proto__: null,
        writable: true, enumerable: true, configurable: true,
        value: function next() {
          const s = ReflectApply(weakMapGet, paramsIteratorState, [this]);
          if (s === undefined) throw nodeError(TypeErrorCtor, 'ERR_INVALID_THIS', 'Value of "this" must be of type URLSearchParamsIterator');
          const list = paramsList(s.params);
          if (s.index >= list.length) return { value: undefined, done: true };
          const i = s.index;
          s.index += 2;
          return { value: s.kind === 0 ? list[i] : (s.kind === 1 ? list[i + 1] : [list[i], list[i + 1]]), done: false };
        },
      });
      ObjectDefineProperty(ParamsIteratorPrototype, SymbolToStringTag, { __proto__: null, value: 'URLSearchParams Iterator', configurable: true });
      function makeParamsIterator(params, kind) {
        paramsList(params); // brand check
        const it = ObjectCreate(ParamsIteratorPrototype);
        ReflectApply(weakMapSet, paramsIteratorState, [it, { __proto__: null, params: params, kind: kind, index: 0 }]);
        return it;
      }
      ObjectDefineProperty(URLSearchParams.prototype, SymbolIterator, { __proto__: null, value: URLSearchParams.prototype.entries, writable: true, configurable: true });
      ObjectDefineProperty(URLSearchParams.prototype, SymbolToStringTag, { __proto__: null, value: 'URLSearchParams', configurable: true });

      class URL {
        #parts;
        #params;
        constructor(input, base) {
          if (arguments.length === 0) throw missingArgs('The "url" argument must be specified');
          this.#parts = urlParts(input, base);
        }
        // First, as in Node's URL.prototype (the order for...in and Object.keys show).
        toString() { return this.#parts[HREF]; }
        #set(name, value) {
          const text = toStr(value);
          const reply = urlHost('url.set', this.#parts[HREF], name, text);
          const parts = replyParts(reply);
          if (parts === undefined) throw urlError(reply, text, '', false);
          this.#parts = parts;
        }
        get href() { return this.#parts[HREF]; }
        set href(v) { this.#set('href', v); if (this.#params !== undefined) paramsReload(this.#params, this.#parts[SEARCH]); }
        get origin() { return this.#parts[ORIGIN]; }
        get protocol() { return this.#parts[PROTOCOL]; }
        set protocol(v) { this.#set('protocol', v); }
        get username() { return this.#parts[USERNAME]; }
        set username(v) { this.#set('username', v); }
        get password() { return this.#parts[PASSWORD]; }
        set password(v) { this.#set('password', v); }
        get host() { return this.#parts[HOST]; }
        set host(v) { this.#set('host', v); }
        get hostname() { return this.#parts[HOSTNAME]; }
        set hostname(v) { this.#set('hostname', v); }
        get port() { return this.#parts[PORT]; }
        set port(v) { this.#set('port', v); }
        get pathname() { return this.#parts[PATHNAME]; }
        set pathname(v) { this.#set('pathname', v); }
        get search() { return this.#parts[SEARCH]; }
        set search(v) { this.#set('search', v); if (this.#params !== undefined) paramsReload(this.#params, this.#parts[SEARCH]); }
        get searchParams() {
          if (this.#params === undefined) {
            const params = new URLSearchParams();
            paramsLink(params, this, this.#parts[SEARCH]);
            this.#params = params;
          }
          return this.#params;
        }
        get hash() { return this.#parts[HASH]; }
        set hash(v) { this.#set('hash', v); }
        toJSON() { return this.#parts[HREF]; }
        static canParse(input, base) {
          if (arguments.length === 0) throw missingArgs('The "url" argument must be specified');
          const text = toStr(input);
          const hasBase = base !== undefined;
          const baseText = hasBase ? toStr(base) : '';
          return replyParts(urlHost('url.parse', text, baseText, hasBase ? '1' : '')) !== undefined;
        }
        static parse(input, base) {
          if (arguments.length === 0) throw missingArgs('The "url" argument must be specified');
          const text = toStr(input);
          const baseText = base === undefined ? undefined : toStr(base);
          // Once both are strings, the only error left is the host saying the URL is invalid.
          try { return new URL(text, baseText); } catch (e) { return null; }
        }
        static {
          urlSearchFromParams = function (url, serialized) { url.#set('search', serialized); };
        }
      }
      // WebIDL attributes and operations are enumerable on the prototype, as Node's are.
      const URL_ATTRIBUTES = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash'];
      for (let i = 0; i < URL_ATTRIBUTES.length; i++) {
        // Own get and set of an accessor: nothing here reads through Object.prototype, which agent code may have changed.
        const desc = ReflectGetOwnPropertyDescriptor(URL.prototype, URL_ATTRIBUTES[i]);
        ObjectDefineProperty(URL.prototype, URL_ATTRIBUTES[i], { __proto__: null, get: desc.get, set: desc.set, enumerable: true, configurable: true });
      }
      ObjectDefineProperty(URL.prototype, 'toString', { __proto__: null, value: URL.prototype.toString, writable: true, enumerable: true, configurable: true });
      ObjectDefineProperty(URL.prototype, 'toJSON', { __proto__: null, value: URL.prototype.toJSON, writable: true, enumerable: true, configurable: true });
      ObjectDefineProperty(URL.prototype, SymbolToStringTag, { __proto__: null, value: 'URL', configurable: true });
      return { __proto__: null, TextEncoder: TextEncoder, TextDecoder: TextDecoder, URLSearchParams: URLSearchParams, URL: URL };
    }
    let webGlobals;
    function lazyGlobal(name) {
      const build = function () {
        if (webGlobals === undefined) webGlobals = buildWebGlobals();
        return webGlobals[name];
      };
      // An accessor until first read, then the class itself as a plain global (a frozen globalThis keeps the accessor).
      ObjectDefineProperty(G, name, {
        __proto__: null,
        get: function () { const value = build(); try { define(name, value); } catch (e) { /* globalThis frozen */ } return value; },
        set: function (value) { define(name, value); },
        configurable: true,
        enumerable: false,
      });
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
        }),
      };
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
