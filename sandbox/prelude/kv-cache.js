/**
 * @module sandbox/prelude/kv-cache — repeatable reads within a run: `ctx.kv.get` of a key this run has already read
 * (or written) is answered from the run's own cache, without crossing the bridge. Part of `install`, before ctx.js.
 */

// Why: a kv.get crosses isolate → host → calling process and back (four wake-ups, ~150 µs here); a key a run reads again
// is the common case (a counter, a config document, a loop over the same record). The calling side still decides every
// first read (permission, namespace, store), and there is no cache outside the isolate: nothing is shared between runs,
// tenants or processes, so there is nothing to keep coherent. What a run gives up is seeing another run's write to a key
// it has already read (repeatable-read isolation); its own writes it always sees (read-your-writes).
//
// The cache belongs to the run object (startRun makes one per run, fresh or reused context alike) and holds the payload
// string exactly as the calling side sent it (or as this run wrote it), parsed on every get: an agent that mutates a
// returned object does not change what the next get returns. It is bounded by limits.kvKb worth of characters (the
// whole namespace's quota): past that, nothing more is cached.
const kvCacheLimit = settings.kvCacheChars > 0 ? settings.kvCacheChars : 0;

/** The run's cache, made on its first kv call (most runs make none). */
function kvState(run) {
  let kv = run.kv;
  if (kv === undefined) {
    // values: key → payload ('' for "no such key"); writing: key → the run's writes of it not yet answered.
    kv = { __proto__: null, values: new MapCtor(), writing: new MapCtor(), chars: 0, writes: 0 };
    run.kv = kv;
  }
  return kv;
}
function kvForget(kv, key) {
  const old = ReflectApply(mapGet, kv.values, [key]);
  if (old === undefined) return;
  ReflectApply(mapDelete, kv.values, [key]);
  kv.chars -= key.length + old.length;
}
function kvRemember(kv, key, payload) {
  kvForget(kv, key);
  const size = key.length + payload.length;
  if (kv.chars + size > kvCacheLimit) return;
  ReflectApply(mapSet, kv.values, [key, payload]);
  kv.chars += size;
}

/** 'ctx.kv.get': from the cache when this run has read or written the key and no write of it is in flight, else a round trip. */
function kvGet(run, key) {
  const argsJson = JSONstringify([key]);
  // A run that has ended gets E_DISPOSED from call, cached key or not.
  if (run !== current) return call(run, 'kv.get', argsJson, decodeJson);
  const kv = kvState(run);
  const hit = ReflectApply(mapGet, kv.values, [key]);
  if (hit !== undefined) {
    // Reported in the run's envelope; the host adds it to the run's kv count, so the record still counts every call.
    run.kvCachedReads++;
    return new PromiseCtor(function (resolve) { resolve(decodeJson(hit)); });
  }
  // Cached from only if no write of the key was in flight when it was asked, and none started before it was answered:
  // the answer may then predate the run's own write.
  const writesAtAsk = ReflectApply(mapHas, kv.writing, [key]) ? -1 : kv.writes;
  return call(run, 'kv.get', argsJson, decodeJson, function (ok, payload) {
    if (ok && kv.writes === writesAtAsk) kvRemember(kv, key, payload);
  });
}

/**
 * 'ctx.kv.set' and 'ctx.kv.delete': always a round trip. The key leaves the cache while the write is in flight; once the
 * calling side has accepted it, the cache holds what the run wrote ('cachedAs'), unless another write of the key overlapped
 * (their order at the store is not this side's to know). A failed write (quota, denial) leaves the key uncached.
 */
function kvWrite(run, tool, key, argsJson, decode, cachedAs) {
  if (run !== current) return call(run, tool, argsJson, decode);
  const kv = kvState(run);
  kvForget(kv, key);
  kv.writes++;
  let writing = ReflectApply(mapGet, kv.writing, [key]);
  if (writing === undefined) {
    writing = { __proto__: null, count: 0, overlapped: false };
    ReflectApply(mapSet, kv.writing, [key, writing]);
  } else {
    writing.overlapped = true;
  }
  writing.count++;
  return call(run, tool, argsJson, decode, function (ok) {
    if (--writing.count > 0) return;
    ReflectApply(mapDelete, kv.writing, [key]);
    if (ok && !writing.overlapped) kvRemember(kv, key, cachedAs);
  });
}
