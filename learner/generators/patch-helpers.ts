/** @module learner/generators/patch-helpers — builds JSON Patch operations that set or remove a key in a template's own agent.json, whether or not it inherits it. */
import type { JsonPatchOperation } from '../../core/suggestion.js';
import { escapePointerToken } from '../../templates/index.js';

type Json = Record<string, unknown>;

/**
 * Operations that make `path` (e.g. ['limits', 'memoryMb']) equal `value` in `raw`, adding the
 * missing parent objects: a child that inherits its limits has no `limits` of its own.
 */
export function setAt(raw: Json, path: readonly string[], value: unknown): JsonPatchOperation[] {
  let node: unknown = raw;
  for (let depth = 0; depth < path.length; depth++) {
    const key = path[depth] as string;
    const pointer = `/${path.slice(0, depth + 1).map(escapePointerToken).join('/')}`;
    const container = node as Json;
    if (!Object.prototype.hasOwnProperty.call(container, key) || container[key] === null) {
      // Build the rest of the path as one nested value.
      const rest = path.slice(depth + 1).reduceRight<unknown>((inner, part) => ({ [part]: inner }), value);
      return [{ op: 'add', path: pointer, value: rest }];
    }
    if (depth === path.length - 1) return [{ op: 'replace', path: pointer, value }];
    node = container[key];
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return [{ op: 'replace', path: pointer, value: path.slice(depth + 1).reduceRight<unknown>((inner, part) => ({ [part]: inner }), value) }];
  }
  return [];
}

/**
 * Operations that take away a permission. A template without a parent drops the key; one that
 * extends another sets it to `null`, which removes the key even where the parent grants it
 * (permission lists are otherwise unioned with the parent's).
 */
export function removePermission(raw: Json, permission: string, hasParent: boolean): JsonPatchOperation[] {
  const own = (raw.permissions as Json | undefined)?.[permission];
  if (!hasParent && own !== undefined && own !== null) return [{ op: 'remove', path: `/permissions/${escapePointerToken(permission)}` }];
  return setAt(raw, ['permissions', permission], null);
}
