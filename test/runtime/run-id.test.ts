// Run ids are UUIDv7: valid, unique, and ordered by time so the run table's key grows at its end.
import { describe, expect, it } from 'vitest';
import { newRunId } from '../../runtime/run-id.js';

describe('newRunId', () => {
  it('is a version 7 UUID carrying the time in its first 48 bits', () => {
    const id = newRunId(Date.parse('2026-11-23T12:00:00.123Z'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.parse('2026-11-23T12:00:00.123Z'));
  });

  it('sorts by time and never repeats', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => newRunId(1_700_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    // Whatever the random bytes: the version and variant bits are set on every id, and its time decodes back.
    for (const [i, id] of ids.entries()) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(1_700_000_000_000 + Math.floor(i / 10));
    }
    const times = ids.map((id) => id.slice(0, 13));
    expect([...times].sort()).toEqual(times);
  });
});
