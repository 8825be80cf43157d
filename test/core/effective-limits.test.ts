// limits.byInput evaluated: the measure (input bytes or a JSON pointer), the power rule, and its bound by the flat limit.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type Limits, type LimitsByInput } from '../../core/agent-spec.js';
import { compileLimitsFor, measureAt, parseJsonPointer } from '../../core/effective-limits.js';

function limitsWith(byInput: LimitsByInput | undefined, flat: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, cpuMs: 1000, timeoutMs: 5000, memoryMb: 64, ...flat, ...(byInput ? { byInput } : {}) };
}

describe('parseJsonPointer (RFC 6901)', () => {
  it('splits and unescapes reference tokens', () => {
    expect(parseJsonPointer('')).toEqual([]);
    expect(parseJsonPointer('/items')).toEqual(['items']);
    expect(parseJsonPointer('/a~1b/~0c/0')).toEqual(['a/b', '~c', '0']);
    expect(parseJsonPointer('/')).toEqual(['']);
  });

  it('refuses what is not a pointer', () => {
    expect(parseJsonPointer('items')).toBeUndefined();
    expect(parseJsonPointer('/a~2')).toBeUndefined();
    expect(parseJsonPointer('/a~')).toBeUndefined();
  });
});

describe('measureAt', () => {
  const input = { items: [1, 2, 3], doc: { text: 'hello', meta: { a: 1, b: 2 } }, n: 42, neg: -3, flag: true, nested: [{ rows: [1, 2] }] };
  it.each([
    [['items'], 3],
    [['doc', 'text'], 5],
    [['doc', 'meta'], 2],
    [['n'], 42],
    [['nested', '0', 'rows'], 2],
    [[], 6],
  ])('%j measures %d', (tokens, expected) => {
    expect(measureAt(input, tokens)).toBe(expected);
  });

  it.each([[['missing']], [['neg']], [['flag']], [['items', 'x']], [['items', '01']], [['n', 'deeper']], [['__proto__']], [['constructor']]])('%j measures 1 (nothing countable there)', (tokens) => {
    expect(measureAt(input, tokens)).toBe(1);
  });
});

describe('compileLimitsFor', () => {
  it('gives every run the flat limits when there is no rule', () => {
    const limitsFor = compileLimitsFor(limitsWith(undefined));
    expect(limitsFor({ anything: 1 }, 123)).toEqual({ cpuMs: 1000, timeoutMs: 5000, memoryMb: 64 });
  });

  it('computes min(max, ceil(base × x^exponent)) for the input measure, with the measure', () => {
    const limitsFor = compileLimitsFor(limitsWith({ measure: '/items', cpuMs: { base: 10, exponent: 1.5, max: 800 } }));
    expect(limitsFor({ items: [1, 2, 3, 4] }, 99)).toEqual({ cpuMs: 80, timeoutMs: 5000, memoryMb: 64, measure: { name: '/items', value: 4 } });
    expect(limitsFor({ items: new Array(100).fill(0) }, 99).cpuMs).toBe(800);
    // Missing or empty: x = 1, the rule's smallest limit.
    expect(limitsFor({}, 99)).toMatchObject({ cpuMs: 10, measure: { name: '/items', value: 1 } });
    expect(limitsFor({ items: [] }, 99)).toMatchObject({ cpuMs: 10, measure: { name: '/items', value: 1 } });
  });

  it('measures inputBytes as the calling side counted them', () => {
    const limitsFor = compileLimitsFor(limitsWith({ measure: 'inputBytes', timeoutMs: { base: 2, exponent: 1 } }));
    expect(limitsFor('ignored', 300)).toEqual({ cpuMs: 1000, timeoutMs: 600, memoryMb: 64, measure: { name: 'inputBytes', value: 300 } });
    // No max: the flat limit is the max.
    expect(limitsFor('ignored', 1e9).timeoutMs).toBe(5000);
  });

  it('never exceeds the flat limit, whatever the rule says (a max above it, a huge measure)', () => {
    const rule = { measure: '/n', cpuMs: { base: 3, exponent: 3, max: 600_000 }, timeoutMs: { base: 1e5, exponent: 0 } };
    const limitsFor = compileLimitsFor(limitsWith(rule, { cpuMs: 700, timeoutMs: 900 }));
    for (const n of [0, 1, 5, 6, 7, 1e3, 1e308, Number.MAX_VALUE]) {
      const limits = limitsFor({ n }, 10);
      expect(limits.cpuMs).toBeLessThanOrEqual(700);
      expect(limits.timeoutMs).toBe(900);
    }
    expect(limitsFor({ n: 5 }, 10).cpuMs).toBe(375);
  });

  it('is at least 1 ms for a tiny base', () => {
    const limitsFor = compileLimitsFor(limitsWith({ measure: 'inputBytes', cpuMs: { base: 1e-9, exponent: 0 } }));
    expect(limitsFor(null, 4).cpuMs).toBe(1);
  });

  it('gives no input less than the rule\'s min, and min never lifts a limit past max', () => {
    const limitsFor = compileLimitsFor(limitsWith({ measure: 'inputBytes', cpuMs: { base: 0.01, exponent: 1, min: 20, max: 800 } }));
    expect(limitsFor(null, 10).cpuMs).toBe(20);
    expect(limitsFor(null, 10_000).cpuMs).toBe(100);
    expect(limitsFor(null, 1e9).cpuMs).toBe(800);
  });
});
