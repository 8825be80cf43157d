/** @module learner/json-patch — applies an RFC 6902 JSON Patch to a document, all or nothing. */
import type { JsonPatchOperation } from '../core/suggestion.js';
import { FactoryError } from '../core/errors.js';

/**
 * Splits a JSON pointer (RFC 6901) into unescaped tokens.
 * @throws Error when the pointer does not start with "/" or holds a `~` that is not `~0` or `~1`.
 */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON pointer (it must start with "/")`);
  if (/~(?![01])/.test(pointer)) throw new Error(`"${pointer}" is not a JSON pointer ("~" must be followed by 0 or 1)`);
  // ~1 first, then ~0: "~01" is the key "~1", not "/" (RFC 6901 section 4).
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function hasOwn(object: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(object, key);
}

/**
 * An array index token as RFC 6901 writes it: "0" or digits without a leading zero ("01", "1e0", " 1" are not indices).
 * `-` (the element after the last) is allowed only where something is inserted.
 */
function arrayIndex(array: readonly unknown[], key: string, path: string, forInsert: boolean): number {
  if (forInsert && key === '-') return array.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw new Error(`${path}: "${key}" is not an array index`);
  const index = Number(key);
  if (index > array.length || (!forInsert && index === array.length)) throw new Error(`${path}: index ${index} is out of range`);
  return index;
}

/** The value at `tokens`; throws when any step does not exist (a missing value is an error, not `undefined`). */
function valueAt(document: unknown, tokens: readonly string[], path: string): unknown {
  let node = document;
  for (const token of tokens) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, path, false)];
    else if (isContainer(node) && hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new Error(`${path} does not exist`);
  }
  return node;
}

function parentOf(document: unknown, tokens: readonly string[], path: string): { parent: Container; key: string } {
  let parent: unknown;
  try {
    parent = valueAt(document, tokens.slice(0, -1), path);
  } catch {
    parent = undefined;
  }
  if (!isContainer(parent)) throw new Error(`the parent of ${path} does not exist`);
  return { parent, key: tokens[tokens.length - 1] as string };
}

function add(document: unknown, path: string, value: unknown): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(document, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, value);
  // defineProperty, not assignment: a key named "__proto__" is then data, not the object's prototype.
  else Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  return document;
}

function remove(document: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw new Error('cannot remove the whole document');
  const { parent, key } = parentOf(document, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else {
    if (!hasOwn(parent, key)) throw new Error(`${path} does not exist`);
    delete parent[key];
  }
  return document;
}

/** JSON equality (RFC 6902 section 4.6): same type, arrays element by element in order, objects by members in any order. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (!isContainer(a) || !isContainer(b) || Array.isArray(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function requireMember(operation: JsonPatchOperation, member: 'value' | 'from'): void {
  if (!hasOwn(operation, member) || operation[member] === undefined) throw new Error(`a "${operation.op}" operation needs "${member}"`);
  if (member === 'from' && typeof operation.from !== 'string') throw new Error('"from" must be a JSON pointer string');
}

function applyOne(document: unknown, operation: JsonPatchOperation): unknown {
  if (!isContainer(operation) || Array.isArray(operation)) throw new Error('an operation must be an object');
  if (typeof operation.path !== 'string') throw new Error('"path" must be a JSON pointer string');
  switch (operation.op) {
    case 'add':
      requireMember(operation, 'value');
      return add(document, operation.path, structuredClone(operation.value));
    case 'remove':
      return remove(document, operation.path);
    case 'replace': {
      requireMember(operation, 'value');
      const tokens = parsePointer(operation.path);
      valueAt(document, tokens, operation.path);
      if (tokens.length === 0) return structuredClone(operation.value);
      return add(remove(document, operation.path), operation.path, structuredClone(operation.value));
    }
    case 'test':
      requireMember(operation, 'value');
      if (!jsonEqual(valueAt(document, parsePointer(operation.path), operation.path), operation.value)) throw new Error(`test failed at ${operation.path}`);
      return document;
    case 'move': {
      requireMember(operation, 'from');
      const from = operation.from as string;
      if (operation.path.startsWith(`${from}/`) || (from === '' && operation.path !== '')) throw new Error(`cannot move ${from || 'the document'} into its own child ${operation.path}`);
      if (from === operation.path) {
        valueAt(document, parsePointer(from), from);
        return document;
      }
      const value = valueAt(document, parsePointer(from), from);
      return add(remove(document, from), operation.path, value);
    }
    case 'copy': {
      requireMember(operation, 'from');
      const from = operation.from as string;
      return add(document, operation.path, structuredClone(valueAt(document, parsePointer(from), from)));
    }
    default:
      throw new Error(`unknown op ${JSON.stringify((operation as { op: unknown }).op)}`);
  }
}

/**
 * Applies `patch` to a deep copy of `document`.
 * @returns the patched copy; `document` is never modified.
 * @throws FactoryError `E_CONFLICT` naming the operation that failed (`details.operationIndex`); nothing is applied then.
 */
export function applyJsonPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  let result: unknown = structuredClone(document);
  patch.forEach((operation, index) => {
    try {
      result = applyOne(result, operation);
    } catch (error) {
      const { op, path } = isContainer(operation) ? operation : { op: undefined, path: undefined };
      throw new FactoryError('E_CONFLICT', `patch operation ${index} (${op} ${path}): ${(error as Error).message}`, {
        cause: error,
        details: { operationIndex: index, op, path },
      });
    }
  });
  return result as T;
}
