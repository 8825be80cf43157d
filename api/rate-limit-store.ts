/** @module api/rate-limit-store — fixed-window request counters for @fastify/rate-limit that read time from an injected clock, so a window can be advanced in a test instead of waited for. */
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import type { Clock } from '../core/clock.js';

interface Window {
  current: number;
  ttl: number;
  startedAt: number;
}

/** Most keys tracked at once; the least recently seen is forgotten first (the plugin's own store keeps 5,000 too). */
const MAX_KEYS = 5000;

/**
 * The counting of @fastify/rate-limit's local store (one window per key, restarting when it has passed), on `clock.now()`
 * instead of `Date.now()`. The plugin constructs stores itself, so the clock is bound into the class.
 */
export function clockedRateLimitStore(clock: Clock): new () => FastifyRateLimitStore {
  return class ClockedRateLimitStore implements FastifyRateLimitStore {
    readonly #windows = new Map<string, Window>();

    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const now = clock.now();
      let window = this.#windows.get(key);
      if (window === undefined || window.startedAt + timeWindow <= now) {
        window = { current: 1, ttl: timeWindow, startedAt: now };
      } else {
        window.current++;
        window.ttl = timeWindow - (now - window.startedAt);
      }
      // Deleted and set again, so the map's order is least recently seen first.
      this.#windows.delete(key);
      this.#windows.set(key, window);
      if (this.#windows.size > MAX_KEYS) this.#windows.delete(this.#windows.keys().next().value as string);
      callback(null, window);
    }

    /** What `incr` would see, without counting (the plugin's `{ increment: false }`). */
    read(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      const now = clock.now();
      const window = this.#windows.get(key);
      if (window === undefined || window.startedAt + timeWindow <= now) callback(null, { current: 0, ttl: 0 });
      else callback(null, { current: window.current, ttl: timeWindow - (now - window.startedAt) });
    }

    /** Routes with their own limits get their own counters, as with the plugin's store. */
    child(): FastifyRateLimitStore {
      return new ClockedRateLimitStore();
    }
  };
}
