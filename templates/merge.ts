/** @module templates/merge — the `extends` and environment merge rules: deep-merge objects, union permission lists, replace other arrays, `null` deletes. */
import { PERMISSION_LIST_KEYS } from '../core/agent-spec.js';
import type { RawManifest } from './manifest.js';

/** Keys that belong to one manifest file and are never inherited. */
const OWN_KEYS = new Set(['$schema', 'name', 'version', 'extends', 'abstract']);

const UNION_LISTS = new Set<string>(PERMISSION_LIST_KEYS);

type Json = unknown;

function isPlainObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges `child` over `parent` by the design's rules. Neither input is modified.
 * - objects deep-merge; on scalars the child wins;
 * - `permissions.{read,write,net,env,spawn}` lists are unioned (parent order first, no duplicates);
 * - any other array is replaced, and so is `limits.byInput` (a rule is replaced whole, never merged key by key);
 * - `null` in the child removes the key.
 * `name`, `version`, `extends` and `abstract` are the child's own and never inherited.
 */
export function mergeManifests(parent: RawManifest, child: RawManifest): RawManifest {
  const result: Record<string, Json> = {};
  for (const [key, value] of Object.entries(parent)) {
    if (!OWN_KEYS.has(key)) result[key] = value;
  }
  for (const [key, value] of Object.entries(child)) {
    if (key === '$schema') continue;
    if (OWN_KEYS.has(key)) {
      result[key] = value;
      continue;
    }
    const merged = mergeValue(result[key], value, [key]);
    if (merged === undefined) delete result[key];
    else result[key] = merged;
  }
  return stripNulls(result) as unknown as RawManifest;
}

/** Merges an overlay (an environment's settings) over a manifest with the same rules. */
export function mergeOverlay(base: Record<string, Json>, overlay: Record<string, Json>): Record<string, Json> {
  const merged = mergeValue(base, overlay, []);
  return stripNulls(merged ?? {}) as Record<string, Json>;
}

function mergeValue(base: Json, over: Json, path: readonly string[]): Json {
  if (over === null) return undefined;
  if (over === undefined) return base;
  if (Array.isArray(over) && Array.isArray(base) && isUnionList(path)) {
    const seen = new Set(base);
    const union = [...base];
    for (const item of over) {
      if (!seen.has(item)) {
        seen.add(item);
        union.push(item);
      }
    }
    return union;
  }
  if (isPlainObject(over) && isPlainObject(base) && !isReplacedWhole(path)) {
    const result: Record<string, Json> = { ...base };
    for (const [key, value] of Object.entries(over)) {
      const merged = mergeValue(base[key], value, [...path, key]);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
    return result;
  }
  return over;
}

/** True for `permissions.<list>`, both at the top and inside `environments.<env>`. */
function isUnionList(path: readonly string[]): boolean {
  const n = path.length;
  return n >= 2 && path[n - 2] === 'permissions' && UNION_LISTS.has(path[n - 1] ?? '') && (n === 2 || (n === 4 && path[0] === 'environments'));
}

/**
 * `limits.byInput` (at the top and inside `environments.<env>`, and in an overlay applied over a manifest): a rule is
 * one measure with the coefficients fitted to it, so a child's or an environment's rule replaces the inherited one
 * whole. Merged key by key, a child changing the measure would keep coefficients fitted to another.
 */
function isReplacedWhole(path: readonly string[]): boolean {
  const n = path.length;
  return n >= 2 && path[n - 2] === 'limits' && path[n - 1] === 'byInput' && (n === 2 || (n === 4 && path[0] === 'environments'));
}

/** Sections whose insides are user data (a JSON Schema, agent config): a nested null there is a value. */
const DATA_SECTIONS = new Set(['input', 'output', 'config']);

/**
 * Removes keys whose value is `null` from the manifest's own structure: after merging, null has done
 * its job of deleting. Inside data sections only merging deletes; a null stored there stays.
 */
function stripNulls(value: Json, key = ''): Json {
  if (Array.isArray(value) || !isPlainObject(value) || DATA_SECTIONS.has(key)) return value;
  const result: Record<string, Json> = {};
  for (const [childKey, item] of Object.entries(value)) {
    if (item === null) continue;
    result[childKey] = stripNulls(item, childKey);
  }
  return result;
}
