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
 *   run with the same input scavenges at the same points every time. They cost about 0.1 ms, but they promote the
 *   run's fresh context, which then dies in the old generation: about 1 ms per run more over time, measured, hence
 *   the sampling (SandboxOptions.heapProbeEvery).
 * - An old-generation collection during the run frees earlier runs' garbage and makes the difference too small or
 *   negative. A canary (an old-space object nothing holds, watched through a WeakRef) dies only in such a collection;
 *   when it died, the run has no figure (it was not measured), rather than a wrong one. The probe never forces a full
 *   collection to correct or prevent this: measured, any forced full collection (after such a run, or every 4 MB of
 *   old garbage) lowered V8's own threshold for them and made every later run with a fresh context slower (p50
 *   0.65 → 1.4 ms), even with one run in 8 probed.
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
    // Two scavenges: they promote the canary to old space, where only a full (mark-compact) collection can take it,
    // and they empty the young generation (the first leaves what survived it there; the second moves it out).
    collect({ type: 'minor' });
    collect({ type: 'minor' });
    target = undefined;
  }
  globalThis.arm = arm;
  // 1: the canary died, an old-generation collection ran since it was armed.
  globalThis.oldCollected = () => (canary === undefined || canary.deref() === undefined ? 1 : 0);
`;

type Fn = ivm.Reference<() => number>;

/** Heap in use plus memory held outside it (ArrayBuffers), which the isolate's memory limit also counts. */
function heapInUse(isolate: ivm.Isolate): number {
  const heap = isolate.getHeapStatisticsSync();
  return heap.used_heap_size + heap.externally_allocated_size;
}

/** One isolate's probe. Every call runs on the isolate while no run is executing in it. */
export class HeapProbe {
  readonly #isolate: ivm.Isolate;
  readonly #context: ivm.Context;
  readonly #arm: Fn;
  readonly #oldCollected: Fn;

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
    this.#arm = global.getSync('arm', { reference: true }) as Fn;
    this.#oldCollected = global.getSync('oldCollected', { reference: true }) as Fn;
  }

  /** Just before the agent's code starts: empties the young generation, puts a new canary, returns the baseline. */
  begin(): number {
    this.#arm.applySync(undefined, []);
    return heapInUse(this.#isolate);
  }

  /**
   * Right after the run, its context still alive: bytes the run grew the heap by, or undefined when V8 collected the
   * old generation during the run (see the module comment).
   */
  end(baseline: number): number | undefined {
    const used = heapInUse(this.#isolate);
    if (this.#oldCollected.applySync(undefined, []) === 1) return undefined;
    return Math.max(0, used - baseline);
  }

  dispose(): void {
    this.#arm.release();
    this.#oldCollected.release();
    this.#context.release();
  }
}
