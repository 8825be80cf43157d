// core/clock: the manual clock tests use instead of real time.
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../core/index.js';

describe('createManualClock', () => {
  it('moves only when told to', () => {
    const clock = createManualClock(1_000);
    const start = clock.monotonic();
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    expect(clock.monotonic() - start).toBe(250);
  });
});
