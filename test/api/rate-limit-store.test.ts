// The rate limiter's counters read the injected clock: windows restart when the clock passes them, never on real time.
import { describe, expect, it } from 'vitest';
import { clockedRateLimitStore } from '../../api/rate-limit-store.js';
import { createManualClock } from '../../core/clock.js';

function counter(startMs = 1_700_000_000_000) {
  const clock = createManualClock(startMs);
  const store = new (clockedRateLimitStore(clock))();
  const incr = (key: string, windowMs = 1000) => {
    let result: { current: number; ttl: number } | undefined;
    store.incr(key, (error, value) => {
      if (error) throw error;
      result = value;
    }, windowMs, 10);
    return { current: result?.current, ttl: result?.ttl };
  };
  return { clock, store, incr };
}

describe('clockedRateLimitStore', () => {
  it('counts per key within a window, with the time left as ttl', () => {
    const { clock, incr } = counter();
    expect(incr('a')).toEqual({ current: 1, ttl: 1000 });
    clock.advance(300);
    expect(incr('a')).toEqual({ current: 2, ttl: 700 });
    expect(incr('b')).toEqual({ current: 1, ttl: 1000 });
  });

  it('starts a new window once the clock has passed the last one, and not before', () => {
    const { clock, incr } = counter();
    incr('a');
    incr('a');
    clock.advance(999);
    expect(incr('a').current).toBe(3);
    clock.advance(1);
    expect(incr('a')).toEqual({ current: 1, ttl: 1000 });
  });

  it('reads without counting', () => {
    const { clock, store, incr } = counter();
    const read = (key: string) => {
      let result: unknown;
      store.read?.(key, (_error, value) => (result = value), 1000, 10);
      return result;
    };
    expect(read('a')).toEqual({ current: 0, ttl: 0 });
    incr('a');
    clock.advance(400);
    expect(read('a')).toEqual({ current: 1, ttl: 600 });
    expect(read('a')).toEqual({ current: 1, ttl: 600 });
  });

  it('forgets the least recently seen key beyond 5,000, keeping the ones still counting', () => {
    const { incr } = counter();
    incr('first');
    incr('first');
    for (let i = 0; i < 4999; i++) incr(`k${i}`);
    // `first` was seen before all others but k0 was seen once, long ago: refresh `first`, then push one more key in.
    incr('first');
    incr('one-more');
    expect(incr('first').current).toBe(4);
    expect(incr('k0').current).toBe(1);
  });
});
