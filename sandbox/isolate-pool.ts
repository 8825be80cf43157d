/** @module sandbox/isolate-pool — isolates of one memory size, the contexts each keeps ready by digest (fresh, or reused by one tenant), and who gets an isolate next. */
import type ivm from 'isolated-vm';
import { releasePrepared, type Prepared } from './context-bridge.js';
import type { HeapProbe } from './heap-probe.js';
import { loadIsolatedVm } from './isolate-library.js';

/** Tenants' reused contexts kept per isolate. */
const MAX_REUSED_PER_ISOLATE = 8;

/**
 * V8 lost control of an isolate. `runId` is the run it was serving, `loading` the digest it was loading ahead of
 * demand (see EngineOptions.onCatastrophicError).
 */
export type CatastrophicErrorHandler = (message: string, runId: number | undefined, loading: string | undefined) => void;

/** The pool key of a reused context: one per template and tenant. */
export function reuseKey(digest: string, tenant: string): string {
  return `${digest}\u0000${tenant}`;
}

export class PooledIsolate {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  prelude: Promise<ivm.Script> | undefined;
  readonly scripts = new Map<string, Promise<ivm.Script>>();
  /** Fresh contexts by digest: module loaded, never run. Each serves one run, whoever's it is. */
  readonly ready = new Map<string, Prepared[]>();
  /**
   * `reuseContext` contexts by digest and tenant ({@link reuseKey}), least recently used first: a context that served
   * one tenant never serves another, since its module state is that tenant's.
   */
  readonly reused = new Map<string, Prepared>();
  /** The run this isolate serves now, if any: who to blame if V8 loses it. */
  runId: number | undefined;
  /** The digest this isolate is loading ahead of demand, if any. */
  loading: string | undefined;
  /** Made at the isolate's first run (sandbox/heap-probe): the per-run memory figure. */
  heapProbe: HeapProbe | undefined;
  busy = false;
  dead = false;
  retiring = false;
  /** Runs served (the heap probe samples by it). */
  runs = 0;
  /** Contexts that served their last run here and were released: what recycling counts. */
  contextsReleased = 0;

  constructor(memoryMb: number, onCatastrophicError: CatastrophicErrorHandler) {
    this.memoryMb = memoryMb;
    this.isolate = new (loadIsolatedVm().Isolate)({ memoryLimit: memoryMb, onCatastrophicError: (message: string) => onCatastrophicError(message, this.runId, this.loading) });
  }

  /** Contexts a run of `digest` (for the tenant behind `key`, if given) could start in without loading the module. */
  readyFor(digest: string, key?: string): number {
    return (this.ready.get(digest)?.length ?? 0) + (key !== undefined && this.reused.has(key) ? 1 : 0);
  }

  /** Takes a tenant's reused context out of the pool while it runs; {@link keepReused} puts it back. */
  takeReused(key: string): Prepared | undefined {
    const prepared = this.reused.get(key);
    if (prepared !== undefined) this.reused.delete(key);
    return prepared;
  }

  keepReused(key: string, prepared: Prepared): void {
    this.reused.set(key, prepared);
    // Tenants are unbounded; contexts per isolate are not. The least recently used one goes.
    if (this.reused.size > MAX_REUSED_PER_ISOLATE) {
      const [oldestKey, oldest] = this.reused.entries().next().value as [string, Prepared];
      this.reused.delete(oldestKey);
      this.release(oldest);
    }
  }

  /** Releases a context that will serve no more runs here. */
  release(prepared: Prepared): void {
    releasePrepared(prepared);
    this.contextsReleased++;
  }

  /** Keeps a context loaded ahead of demand. Fresh even for reuseContext templates: it becomes one tenant's only once that tenant runs in it. */
  keepReady(digest: string, prepared: Prepared): void {
    if (this.dead) return;
    const list = this.ready.get(digest);
    if (list) list.push(prepared);
    else this.ready.set(digest, [prepared]);
  }

  dispose(): void {
    this.dead = true;
    this.ready.clear();
    this.reused.clear();
    try {
      this.isolate.dispose();
    } catch {
      // Already disposed by V8 (memory limit) or by a watchdog.
    }
  }
}

interface Waiter {
  digest: string;
  resolve(isolate: PooledIsolate | undefined): void;
}

/** The isolates of one `limits.memoryMb`, at most `maxIsolates` alive, and the runs waiting for one of them. */
export class IsolatePool {
  readonly memoryMb: number;
  readonly isolates: PooledIsolate[] = [];
  readonly #queue: Waiter[] = [];
  readonly #maxIsolates: number;
  readonly #onCatastrophicError: CatastrophicErrorHandler;

  constructor(memoryMb: number, maxIsolates: number, onCatastrophicError: CatastrophicErrorHandler) {
    this.memoryMb = memoryMb;
    this.#maxIsolates = maxIsolates;
    this.#onCatastrophicError = onCatastrophicError;
  }

  /** Runs waiting for an isolate. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Contexts ready now for a digest, across the isolates still serving. */
  ready(digest: string): number {
    let n = 0;
    for (const iso of this.isolates) if (!iso.dead && !iso.retiring) n += iso.readyFor(digest);
    return n;
  }

  /**
   * An idle isolate for a run of `digest`: the one holding the tenant's reused context (`key`), else the one with
   * most fresh contexts ready, else a new one while under the cap; otherwise waits its turn.
   * @returns undefined when `signal` aborted the wait or the pool closed.
   */
  acquire(digest: string, key: string | undefined, signal?: AbortSignal): Promise<PooledIsolate | undefined> {
    let best: PooledIsolate | undefined;
    for (const iso of this.isolates) {
      if (iso.busy || iso.dead || iso.retiring) continue;
      // The tenant's own reused context first, then a fresh one.
      if (key !== undefined && iso.reused.has(key)) {
        best = iso;
        break;
      }
      if (best === undefined || iso.readyFor(digest) > best.readyFor(digest)) best = iso;
      if (key === undefined && best.readyFor(digest) > 0) break;
    }
    if (best === undefined && this.#live() < this.#maxIsolates) best = this.#newIsolate();
    if (best !== undefined) {
      best.busy = true;
      return Promise.resolve(best);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { digest, resolve };
      this.#queue.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.#queue.indexOf(waiter);
          if (at !== -1) {
            this.#queue.splice(at, 1);
            resolve(undefined);
          }
        },
        { once: true },
      );
    });
  }

  /** An isolate finished a run or a preparation: retire it if due, then hand it (or its replacement) to a waiter. */
  release(iso: PooledIsolate, closed: boolean): void {
    iso.busy = false;
    if (!iso.dead && iso.retiring) iso.dispose();
    if (iso.dead) {
      const at = this.isolates.indexOf(iso);
      if (at !== -1) this.isolates.splice(at, 1);
    }
    const waiter = this.#queue.shift();
    if (waiter) {
      const next = !iso.dead ? iso : this.#live() < this.#maxIsolates && !closed ? this.#newIsolate() : undefined;
      if (next) {
        next.busy = true;
        waiter.resolve(next);
      } else {
        this.#queue.unshift(waiter);
      }
    }
  }

  /** Where to load one more context of `digest` ahead of demand, spreading them over isolates; undefined if nowhere now. */
  pickForTopUp(digest: string): PooledIsolate | undefined {
    let best: PooledIsolate | undefined;
    for (const iso of this.isolates) {
      if (iso.busy || iso.dead || iso.retiring) continue;
      if (iso.readyFor(digest) >= 2) continue;
      if (best === undefined || iso.readyFor(digest) < best.readyFor(digest)) best = iso;
    }
    // Spread ready contexts over isolates: a run needs an idle isolate as much as a ready context.
    if ((best === undefined || best.readyFor(digest) > 0) && this.#live() < this.#maxIsolates) return this.#newIsolate();
    return best;
  }

  /** Ends every wait (with undefined) and disposes every isolate. */
  close(): void {
    for (const waiter of this.#queue.splice(0)) waiter.resolve(undefined);
    for (const iso of this.isolates) iso.dispose();
    this.isolates.length = 0;
  }

  #live(): number {
    let n = 0;
    for (const iso of this.isolates) if (!iso.dead) n++;
    return n;
  }

  #newIsolate(): PooledIsolate {
    const iso = new PooledIsolate(this.memoryMb, this.#onCatastrophicError);
    this.isolates.push(iso);
    return iso;
  }
}
