/** @module sandbox/heap-probe — the per-run memory figure: how much heap a run grew its isolate by, measured so that earlier runs' garbage does not count. */
import v8 from 'node:v8';
import type ivm from 'isolated-vm';

/**
 * V8 reports only isolate-wide heap statistics, and an isolate serves many runs one after another, so "used heap
 * after the run" carries every earlier run's garbage (measured: the same word count read 135–766 KB depending on
 * what ran before, and −9 MB after a collection of earlier garbage). Two things disturb a before/after difference,
 * and the probe removes both:
 *
 * - The young generation's fill level: where the run's allocations hit a scavenge depends on what earlier runs left
 *   there. Two minor GCs just before the agent's code starts empty it (garbage collected, survivors promoted), so a
 *   run with the same input scavenges at the same points every time.
 * - An old-generation collection during the run frees earlier runs' garbage and makes the difference too small or
 *   negative. A canary (an old-space object nothing holds, watched through a WeakRef) dies only in such a collection;
 *   when it died, the baseline is re-taken as the live heap after a full GC at the end of the run, while the run's
 *   context is still alive. That full GC happens only on runs during which V8 already ran one.
 *
 * The GC calls live in a private context created with `--expose-gc` switched on just for it: agent contexts never
 * have `gc` (the flag is off again before any other context is created, which is always synchronous here).
 */
const PROBE_SOURCE = `
  const collect = gc;
  let canary;
  function arm() {
    let target = { canary: true };
    canary = new WeakRef(target);
    // Two scavenges promote it to old space, where only a full (mark-compact) collection can take it.
    collect({ type: 'minor' });
    collect({ type: 'minor' });
    target = undefined;
  }
  arm();
  // 0: only a minor GC ran; 1: the canary died (an old-generation collection ran since it was armed).
  // Twice: the first scavenge leaves objects that survived it in the young generation (they move out at their second),
  // so after one the fill level still depends on what ran before; after two the young generation is empty.
  globalThis.minor = () => { collect({ type: 'minor' }); collect({ type: 'minor' }); return canary.deref() === undefined ? 1 : 0; };
  globalThis.oldCollected = () => (canary.deref() === undefined ? 1 : 0);
  globalThis.full = () => { collect(); arm(); };
  globalThis.rearm = arm;
`;

type Fn = ivm.Reference<() => number>;

/**
 * Garbage earlier runs may leave in the old generation before the next run starts with a full collection. Left there,
 * V8 collects it during some later run (incremental marking may even have begun), which then reads too small; a full
 * collection costs 1–7 ms here, so it is done at most once per this much garbage, and only outside a run's budget.
 */
const GARBAGE_BUDGET_BYTES = 4 * 1024 * 1024;

/** Heap in use plus memory held outside it (ArrayBuffers), which the isolate's memory limit also counts. */
function heapInUse(isolate: ivm.Isolate): number {
  const heap = isolate.getHeapStatisticsSync();
  return heap.used_heap_size + heap.externally_allocated_size;
}

/** One isolate's probe. Every call runs on the isolate while no run is executing in it. */
export class HeapProbe {
  readonly #isolate: ivm.Isolate;
  readonly #context: ivm.Context;
  readonly #minor: Fn;
  readonly #oldCollected: Fn;
  readonly #full: Fn;
  readonly #rearm: Fn;
  /** Heap in use after the last full collection (or at the start): what is live, not garbage, as far as is known. */
  #live: number;

  constructor(isolate: ivm.Isolate) {
    this.#isolate = isolate;
    v8.setFlagsFromString('--expose-gc');
    try {
      this.#context = isolate.createContextSync();
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
    this.#context.evalSync(PROBE_SOURCE);
    const global = this.#context.global;
    this.#minor = global.getSync('minor', { reference: true }) as Fn;
    this.#oldCollected = global.getSync('oldCollected', { reference: true }) as Fn;
    this.#full = global.getSync('full', { reference: true }) as Fn;
    this.#rearm = global.getSync('rearm', { reference: true }) as Fn;
    this.#live = heapInUse(isolate);
  }

  /**
   * Just before the agent's code starts: clears the young generation and returns the baseline. With `mayCollect`
   * (outside the run's budget), first collects the old generation too when earlier runs left more than
   * {@link GARBAGE_BUDGET_BYTES} there since the last full collection.
   */
  begin(mayCollect: boolean): number {
    const oldCollected = this.#minor.applySync(undefined, []) === 1;
    let used = heapInUse(this.#isolate);
    if (mayCollect && used > this.#live + GARBAGE_BUDGET_BYTES) {
      this.#full.applySync(undefined, []);
      used = heapInUse(this.#isolate);
      this.#live = used;
    } else if (oldCollected) {
      // V8 collected the old generation since the last run (a load ahead, a run that failed): a new canary, a new floor.
      this.#rearm.applySync(undefined, []);
      used = heapInUse(this.#isolate);
      this.#live = used;
    }
    return used;
  }

  /** Right after the run, its context still alive: bytes the run grew the heap by (see the module comment). */
  end(baseline: number): number {
    const used = heapInUse(this.#isolate);
    if (this.#oldCollected.applySync(undefined, []) === 0) return Math.max(0, used - baseline);
    this.#full.applySync(undefined, []);
    this.#live = heapInUse(this.#isolate);
    return Math.max(0, used - Math.min(baseline, this.#live));
  }

  dispose(): void {
    this.#minor.release();
    this.#oldCollected.release();
    this.#full.release();
    this.#rearm.release();
    this.#context.release();
  }
}
