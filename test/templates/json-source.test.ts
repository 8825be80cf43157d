// The located JSON parser: values, positions by pointer, and errors with line and column.
import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, jsonSyntaxProblem, parseJsonSource } from '../../templates/json-source.js';

describe('parseJsonSource', () => {
  it('parses like JSON.parse and records where each value is', () => {
    const text = '{\n  "a": [1, {"b": "x/y"}],\n  "c~d": true\n}';
    const { value, positions } = parseJsonSource(text);
    expect(value).toEqual(JSON.parse(text));
    expect(positions.get('/a')).toEqual({ line: 2, column: 3 });
    expect(positions.get('/a/1/b')).toEqual({ line: 2, column: 13 });
    expect(positions.get('/c~0d')).toEqual({ line: 3, column: 3 });
  });

  it.each([
    ['{"a": 1,}', 1, 8, 'trailing comma before "}"; remove the comma'],
    ['{"a": 1 "b": 2}', 1, 9, 'unexpected "\\""; expected "," or "}"'],
    ['{\n  "a": tru\n}', 2, 8, 'unexpected "t"; expected a value'],
    ['{"a": "line\nbreak"}', 1, 12, 'control character in string; escape it (for example \\n)'],
    ['{"a": 1} x', 1, 10, 'unexpected "x" after the end of the document'],
    ['{"a": 1, "a": 2}', 1, 10, 'duplicate key "a"'],
    ['', 1, 1, 'unexpected end of file; expected a value'],
    ['{"a": "\\q"}', 1, 8, 'invalid escape \\q in string'],
  ])('rejects %j at %i:%i', (text, line, column, message) => {
    try {
      parseJsonSource(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(JsonSyntaxError);
      expect({ line: (error as JsonSyntaxError).line, column: (error as JsonSyntaxError).column, message: (error as Error).message }).toEqual({ line, column, message });
    }
  });

  it('keeps "__proto__" as data', () => {
    const { value } = parseJsonSource('{"__proto__": {"polluted": true}}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports a syntax error to other modules as a problem with file, line and column, and nothing else', () => {
    let thrown: unknown;
    try {
      parseJsonSource('{\n  "a": 1,\n}');
    } catch (error) {
      thrown = error;
    }
    expect(jsonSyntaxProblem(thrown, 'input.json')).toMatchObject({ file: 'input.json', line: 2, column: 9 });
    expect(jsonSyntaxProblem(new Error('disk'), 'input.json')).toBeUndefined();
  });
});
