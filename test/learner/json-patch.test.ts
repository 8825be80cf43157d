// RFC 6902 JSON Patch: every operation, applied to a copy, all or nothing — checked against the RFC's own examples.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FactoryError } from '../../core/errors.js';
import type { JsonPatchOperation } from '../../core/suggestion.js';
import { applyJsonPatch, parsePointer } from '../../learner/index.js';

interface PatchCase {
  section?: string;
  title: string;
  doc: unknown;
  patch?: JsonPatchOperation[];
  /** A patch as JSON text, for A.13 (a member given twice). */
  patchText?: string;
  expected?: unknown;
  /** The result as JSON text, where a `__proto__` member must be compared as data. */
  expectedText?: string;
  error?: { message: string; operationIndex: number };
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/json-patch/rfc6902.json', import.meta.url), 'utf8')) as { appendixA: PatchCase[]; rules: PatchCase[] };

function check(testCase: PatchCase): void {
  const patch = testCase.patch ?? (JSON.parse(testCase.patchText as string) as JsonPatchOperation[]);
  const before = JSON.stringify(testCase.doc);
  if (testCase.error) {
    let thrown: unknown;
    try {
      applyJsonPatch(testCase.doc, patch);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FactoryError);
    const error = thrown as FactoryError;
    expect(error.code).toBe('E_CONFLICT');
    expect(error.message).toContain(testCase.error.message);
    expect(error.message).toMatch(new RegExp(`^patch operation ${testCase.error.operationIndex} `));
    expect(error.details.operationIndex).toBe(testCase.error.operationIndex);
  } else {
    const result = applyJsonPatch(testCase.doc, patch);
    if (testCase.expectedText !== undefined) expect(JSON.stringify(result)).toBe(testCase.expectedText);
    else expect(result).toEqual(testCase.expected);
    expect(Object.getPrototypeOf({})).not.toHaveProperty('polluted');
  }
  // The input document is never modified, whether the patch applies or not.
  expect(JSON.stringify(testCase.doc)).toBe(before);
}

describe('applyJsonPatch', () => {
  it('has all sixteen examples of RFC 6902 appendix A', () => {
    expect(fixtures.appendixA.map((c) => c.section)).toEqual(Array.from({ length: 16 }, (_, i) => `A.${i + 1}`));
  });

  it.each(fixtures.appendixA.map((c) => [`${c.section} ${c.title}`, c] as const))('RFC 6902 %s', (_title, testCase) => check(testCase));

  it.each(fixtures.rules.map((c) => [c.title, c] as const))('%s', (_title, testCase) => check(testCase));

  const doc = { name: 'x', limits: { memoryMb: 64 }, list: [1, 2, 3], 'a/b': { '~c': 1 } };

  it.each([
    ['add a member', [{ op: 'add', path: '/limits/timeoutMs', value: 100 }], { ...doc, limits: { memoryMb: 64, timeoutMs: 100 } }],
    ['add into an array and at its end', [{ op: 'add', path: '/list/1', value: 9 }, { op: 'add', path: '/list/-', value: 4 }], { ...doc, list: [1, 9, 2, 3, 4] }],
    ['replace', [{ op: 'replace', path: '/limits/memoryMb', value: 24 }], { ...doc, limits: { memoryMb: 24 } }],
    ['remove', [{ op: 'remove', path: '/list/0' }], { ...doc, list: [2, 3] }],
    ['move', [{ op: 'move', from: '/limits/memoryMb', path: '/memory' }], { ...doc, limits: {}, memory: 64 }],
    ['copy', [{ op: 'copy', from: '/list', path: '/copy' }], { ...doc, copy: [1, 2, 3] }],
    ['test then replace', [{ op: 'test', path: '/name', value: 'x' }, { op: 'replace', path: '/name', value: 'y' }], { ...doc, name: 'y' }],
    ['escaped tokens', [{ op: 'replace', path: '/a~1b/~0c', value: 2 }], { ...doc, 'a/b': { '~c': 2 } }],
  ] as const)('%s', (_title, patch, expected) => {
    expect(applyJsonPatch(doc, patch as never)).toEqual(expected);
    expect(doc.limits.memoryMb).toBe(64);
  });

  it.each([
    [[{ op: 'replace', path: '/missing', value: 1 }], 0, 'patch operation 0 (replace /missing): /missing does not exist'],
    [[{ op: 'add', path: '/no/such/parent', value: 1 }], 0, 'patch operation 0 (add /no/such/parent): the parent of /no/such/parent does not exist'],
    [[{ op: 'add', path: '/name', value: 'z' }, { op: 'test', path: '/name', value: 'x' }], 1, 'patch operation 1 (test /name): test failed at /name'],
    [[{ op: 'remove', path: '/list/7' }], 0, 'patch operation 0 (remove /list/7): /list/7: index 7 is out of range'],
  ])('fails whole on %j', (patch, index, message) => {
    expect(() => applyJsonPatch(doc, patch as never)).toThrow(expect.objectContaining({ code: 'E_CONFLICT', message, details: expect.objectContaining({ operationIndex: index }) }));
    expect(doc.name).toBe('x');
  });

  it('parses pointers per RFC 6901', () => {
    expect(parsePointer('')).toEqual([]);
    expect(parsePointer('/a~1b/~0c/0')).toEqual(['a/b', '~c', '0']);
    expect(parsePointer('/~01')).toEqual(['~1']);
    expect(parsePointer('/')).toEqual(['']);
    expect(() => parsePointer('a')).toThrow('is not a JSON pointer');
    expect(() => parsePointer('/a~')).toThrow('"~" must be followed by 0 or 1');
  });
});
