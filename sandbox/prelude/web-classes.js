/**
 * @module sandbox/prelude/web-classes — TextEncoder, TextDecoder, URLSearchParams and URL, built on first use from the
 * codecs and captured builtins only, and the lazy globals that build them. Third part of `install`.
 */

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
