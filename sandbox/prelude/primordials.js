/**
 * @module sandbox/prelude/primordials — every builtin the prelude relies on, captured before agent code runs, and the
 * small helpers built only on them. Runs once per context when the prelude script runs; `install` closes over it.
 */

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
const mapDelete = Map.prototype.delete;
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
