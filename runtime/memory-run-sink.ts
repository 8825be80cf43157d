/** @module runtime/memory-run-sink — a RunSink that keeps the latest records in memory; the default until a store is attached. */
import type { RunRecord, RunSink } from '../core/run-record.js';

export interface MemoryRunSink extends RunSink {
  /** Records written so far, oldest first (at most `capacity`). */
  records(): RunRecord[];
  /** Records dropped because the buffer was full. */
  readonly dropped: number;
}

/** Keeps the last `capacity` records in a ring; older ones are overwritten and counted, so memory stays bounded. */
export function createMemoryRunSink(capacity = 10_000): MemoryRunSink {
  const ring: RunRecord[] = [];
  let next = 0;
  let dropped = 0;
  return {
    write(record) {
      if (ring.length < capacity) ring.push(record);
      else {
        ring[next] = record;
        dropped++;
      }
      next = (next + 1) % capacity;
    },
    flush: async () => {},
    close: async () => {},
    records: () => (ring.length < capacity ? [...ring] : [...ring.slice(next), ...ring.slice(0, next)]),
    get dropped() {
      return dropped;
    },
  };
}
