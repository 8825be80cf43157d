/** @module core/clock — injectable time, so TTLs, timeouts and records can be tested without sleeping. */

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number;
  /** Monotonic milliseconds with sub-millisecond precision, for durations. */
  monotonic(): number;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A clock that moves only when told to; for tests. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(epochMs: number): void;
}

export function createManualClock(startEpochMs = 0): ManualClock {
  let wall = startEpochMs;
  // Like performance.now(), never 0: caches such as lru-cache treat a start time of 0 as "no start".
  let mono = 1000;
  return {
    now: () => wall,
    monotonic: () => mono,
    advance(ms) {
      wall += ms;
      mono += ms;
    },
    set(epochMs) {
      mono += Math.max(0, epochMs - wall);
      wall = epochMs;
    },
  };
}
