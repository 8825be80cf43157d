/** @module templates/json-source — parses JSON while remembering the line of every value, so each problem can say where it is. */
import type { Problem } from '../core/errors.js';

export interface SourcePosition {
  line: number;
  column: number;
}

/** A parsed JSON document with the position of every value by JSON pointer. */
export interface JsonSource {
  value: unknown;
  /** JSON pointer → position of the value (for object members, of the key). */
  positions: Map<string, SourcePosition>;
}

/** A syntax error at a position; the caller turns it into a FactoryError with its file. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/**
 * Where and why the text was not JSON, as a problem in `file`, when `error` is the syntax error {@link parseJsonSource}
 * threw; `undefined` for anything else. Callers outside templates/ report a syntax error through this, so the error
 * class itself never crosses the module boundary.
 */
export function jsonSyntaxProblem(error: unknown, file: string): Problem | undefined {
  return error instanceof JsonSyntaxError ? { file, line: error.line, column: error.column, message: error.message } : undefined;
}

/** Escapes one reference token of a JSON pointer (RFC 6901). */
export function escapePointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Parses strict JSON (RFC 8259) and records where each value starts.
 * Duplicate object keys are an error: `JSON.parse` would silently keep the last one.
 * @throws JsonSyntaxError with a 1-based line and column.
 */
export function parseJsonSource(text: string): JsonSource {
  const positions = new Map<string, SourcePosition>();
  let index = 0;
  let line = 1;
  let lineStart = 0;

  const fail = (message: string, at = index): never => {
    // Columns count characters from the start of the line the error is on.
    let errLine = 1;
    let errLineStart = 0;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        errLine++;
        errLineStart = i + 1;
      }
    }
    throw new JsonSyntaxError(message, errLine, at - errLineStart + 1);
  };

  const describe = (at: number): string => (at >= text.length ? 'end of file' : `${JSON.stringify(text[at])}`);

  const skipWhitespace = () => {
    for (;;) {
      const c = text.charCodeAt(index);
      if (c === 10) {
        index++;
        line++;
        lineStart = index;
      } else if (c === 32 || c === 9 || c === 13) index++;
      else return;
    }
  };

  const here = (): SourcePosition => ({ line, column: index - lineStart + 1 });

  const parseString = (): string => {
    const start = index;
    index++; // opening quote
    let out = '';
    let chunkStart = index;
    for (;;) {
      if (index >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(index);
      if (c === 34) {
        out += text.slice(chunkStart, index);
        index++;
        return out;
      }
      if (c < 0x20) fail('control character in string; escape it (for example \\n)');
      if (c === 92) {
        out += text.slice(chunkStart, index);
        const e = text[index + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          index += 2;
        } else if (e === 'u') {
          const hex = text.slice(index + 2, index + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape in string');
          out += String.fromCharCode(parseInt(hex, 16));
          index += 6;
        } else {
          fail(`invalid escape \\${e ?? ''} in string`);
        }
        chunkStart = index;
        continue;
      }
      index++;
    }
  };

  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

  const parseValue = (pointer: string, depth: number): unknown => {
    if (depth > 256) fail('nesting deeper than 256 levels');
    skipWhitespace();
    if (!positions.has(pointer)) positions.set(pointer, here());
    const c = text[index];
    if (c === '{') return parseObject(pointer, depth);
    if (c === '[') return parseArray(pointer, depth);
    if (c === '"') return parseString();
    if (c === 't' && text.startsWith('true', index)) return (index += 4), true;
    if (c === 'f' && text.startsWith('false', index)) return (index += 5), false;
    if (c === 'n' && text.startsWith('null', index)) return (index += 4), null;
    NUMBER.lastIndex = index;
    const m = NUMBER.exec(text);
    if (m && m[0].length > 0) {
      index += m[0].length;
      return Number(m[0]);
    }
    return fail(`unexpected ${describe(index)}; expected a value`);
  };

  const parseObject = (pointer: string, depth: number): Record<string, unknown> => {
    const result: Record<string, unknown> = {};
    index++;
    skipWhitespace();
    if (text[index] === '}') {
      index++;
      return result;
    }
    for (;;) {
      skipWhitespace();
      if (text[index] !== '"') fail(`unexpected ${describe(index)}; expected a property name in double quotes`);
      const keyPosition = here();
      const keyStart = index;
      const key = parseString();
      if (Object.prototype.hasOwnProperty.call(result, key)) fail(`duplicate key ${JSON.stringify(key)}`, keyStart);
      const childPointer = `${pointer}/${escapePointerToken(key)}`;
      positions.set(childPointer, keyPosition);
      skipWhitespace();
      if (text[index] !== ':') fail(`unexpected ${describe(index)}; expected ":" after property name`);
      index++;
      const value = parseValue(childPointer, depth + 1);
      // defineProperty: a "__proto__" key must become data, never the prototype.
      Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      skipWhitespace();
      if (text[index] === ',') {
        const commaAt = index;
        index++;
        skipWhitespace();
        if (text[index] === '}') fail('trailing comma before "}"; remove the comma', commaAt);
        continue;
      }
      if (text[index] === '}') {
        index++;
        return result;
      }
      fail(`unexpected ${describe(index)}; expected "," or "}"`);
    }
  };

  const parseArray = (pointer: string, depth: number): unknown[] => {
    const result: unknown[] = [];
    index++;
    skipWhitespace();
    if (text[index] === ']') {
      index++;
      return result;
    }
    for (;;) {
      result.push(parseValue(`${pointer}/${result.length}`, depth + 1));
      skipWhitespace();
      if (text[index] === ',') {
        const commaAt = index;
        index++;
        skipWhitespace();
        if (text[index] === ']') fail('trailing comma before "]"; remove the comma', commaAt);
        continue;
      }
      if (text[index] === ']') {
        index++;
        return result;
      }
      fail(`unexpected ${describe(index)}; expected "," or "]"`);
    }
  };

  if (text.charCodeAt(0) === 0xfeff) index = 1; // a UTF-8 BOM is tolerated
  const value = parseValue('', 0);
  skipWhitespace();
  if (index < text.length) fail(`unexpected ${describe(index)} after the end of the document`);
  return { value, positions };
}

/** Finds the closest recorded position for a pointer (walking up to its parents). */
export function positionOf(source: JsonSource, pointer: string): SourcePosition | undefined {
  let p = pointer;
  for (;;) {
    const found = source.positions.get(p);
    if (found) return found;
    if (p === '') return undefined;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

