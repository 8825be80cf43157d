/** @module learner/json-patch — applies an RFC 6902 JSON Patch to a document, all or nothing. */
import type { JsonPatchOperation } from '../core/suggestion.js';

export class JsonPatchError extends Error {
  constructor(
    message: string,
    readonly operationIndex: number,
  ) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

/** Splits a JSON pointer (RFC 6901) into unescaped tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON pointer (it must start with "/")`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

function get(document: unknown, tokens: readonly string[]): unknown {
  let node: unknown = document;
  for (const token of tokens) {
    if (!isContainer(node)) return undefined;
    node = Array.isArray(node) ? node[Number(token)] : Object.prototype.hasOwnProperty.call(node, token) ? node[token] : undefined;
  }
  return node;
}

function parentOf(document: unknown, tokens: readonly string[], path: string): { parent: Container; key: string } {
  const parent = get(document, tokens.slice(0, -1));
  if (!isContainer(parent)) throw new Error(`the parent of ${path} does not exist`);
  return { parent, key: tokens[tokens.length - 1] as string };
}

function arrayIndex(array: unknown[], key: string, path: string, forInsert: boolean): number {
  if (forInsert && key === '-') return array.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw new Error(`${path}: "${key}" is not an array index`);
  const index = Number(key);
  if (index > array.length || (!forInsert && index === array.length)) throw new Error(`${path}: index ${index} is out of range`);
  return index;
}

function add(document: unknown, path: string, value: unknown): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = parentOf(document, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, value);
  else Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  return document;
}

function remove(document: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw new Error('cannot remove the whole document');
  const { parent, key } = parentOf(document, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else {
    if (!Object.prototype.hasOwnProperty.call(parent, key)) throw new Error(`${path} does not exist`);
    delete parent[key];
  }
  return document;
}

/**
 * Applies `patch` to a deep copy of `document`.
 * @returns the patched copy; `document` is never modified.
 * @throws JsonPatchError naming the operation that failed (nothing is applied then).
 */
export function applyJsonPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  let result: unknown = structuredClone(document);
  patch.forEach((operation, index) => {
    try {
      switch (operation.op) {
        case 'add':
          result = add(result, operation.path, structuredClone(operation.value));
          break;
        case 'remove':
          result = remove(result, operation.path);
          break;
        case 'replace':
          if (get(result, parsePointer(operation.path)) === undefined && operation.path !== '') throw new Error(`${operation.path} does not exist`);
          result = add(remove(result, operation.path), operation.path, structuredClone(operation.value));
          break;
        case 'test':
          if (JSON.stringify(get(result, parsePointer(operation.path))) !== JSON.stringify(operation.value)) throw new Error(`test failed at ${operation.path}`);
          break;
        case 'move': {
          const value = get(result, parsePointer(operation.from ?? ''));
          if (value === undefined) throw new Error(`${operation.from} does not exist`);
          result = add(remove(result, operation.from ?? ''), operation.path, value);
          break;
        }
        case 'copy': {
          const value = get(result, parsePointer(operation.from ?? ''));
          if (value === undefined) throw new Error(`${operation.from} does not exist`);
          result = add(result, operation.path, structuredClone(value));
          break;
        }
        default:
          throw new Error(`unknown op ${JSON.stringify((operation as { op: unknown }).op)}`);
      }
    } catch (error) {
      throw new JsonPatchError(`patch operation ${index} (${operation.op} ${operation.path}): ${(error as Error).message}`, index);
    }
  });
  return result as T;
}
