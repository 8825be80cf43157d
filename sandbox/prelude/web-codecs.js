/**
 * @module sandbox/prelude/web-codecs — the pure computations behind the web globals: crypto's random bytes (drawn from
 * the host in blocks), UTF-8 encode and decode, structuredClone, the form codec of URLSearchParams (Node's own
 * algorithm) and the one host call that parses a URL. Second part of `install`.
 */

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
