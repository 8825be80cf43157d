// RFC 6902 JSON Patch: every operation, applied to a copy, all or nothing.
import { describe, expect, it } from 'vitest';
import { applyJsonPatch, JsonPatchError, parsePointer } from '../../learner/index.js';

describe('applyJsonPatch', () => {
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
    expect(() => applyJsonPatch(doc, patch as never)).toThrow(new JsonPatchError(message, index));
    expect(doc.name).toBe('x');
  });

  it('parses pointers per RFC 6901', () => {
    expect(parsePointer('')).toEqual([]);
    expect(parsePointer('/a~1b/~0c/0')).toEqual(['a/b', '~c', '0']);
    expect(() => parsePointer('a')).toThrow('is not a JSON pointer');
  });
});
