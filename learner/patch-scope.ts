/** @module learner/patch-scope — what each kind of suggestion may change in agent.json, checked on the patched result before anything is written or signed. */
import type { SuggestionKind } from '../core/suggestion.js';
import { FactoryError } from '../core/errors.js';
import { sameJson } from '../core/canonical-json.js';

type Json = Record<string, unknown>;

/**
 * The one top-level key of agent.json each kind changes (`version` is bumped by the workflow itself), and, where the
 * learner sets only some of its keys, those keys. Suggestions are stored where people who cannot sign can write (the
 * database), and accepting one signs its result with the maintainer's key, so the patch is held to what its kind makes:
 * right-sizing sets memory, wall and CPU time (flat or by input), pre-warming the pool's prewarm, failure patterns tighten the input
 * schema, least privilege only takes permissions away.
 */
const SCOPE: Readonly<Record<SuggestionKind, { key: string; only?: readonly string[] }>> = Object.freeze({
  'right-sizing': { key: 'limits', only: ['memoryMb', 'timeoutMs', 'cpuMs', 'byInput'] },
  'pre-warming': { key: 'pool', only: ['prewarm'] },
  'failure-pattern': { key: 'input' },
  'least-privilege': { key: 'permissions' },
});

/**
 * Compares agent.json before and after a suggestion's patch, on the values (not the patch operations, which can say
 * the same thing many ways).
 * @throws FactoryError `E_CONFLICT` naming the key a suggestion of this kind never changes, or the permission it would grant.
 */
export function checkPatchScope(id: string, kind: SuggestionKind, before: Json, after: Json): void {
  const scope = SCOPE[kind];
  const refuse = (what: string) =>
    new FactoryError(
      'E_CONFLICT',
      `suggestion ${id} (${kind}) ${what}, which a ${kind} suggestion never changes: the learner did not make it (was the database edited?); reject it with \`af suggestions reject ${id} --reason ...\``,
    );
  if (scope === undefined) throw refuse('is of an unknown kind');
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (key === 'version' || key === scope.key) continue;
    if (!sameJson(own(before, key), own(after, key))) throw refuse(`changes "${key}"`);
  }
  if (scope.only) {
    const was = objectOrEmpty(own(before, scope.key));
    const now = objectOrEmpty(own(after, scope.key));
    if (was === undefined || now === undefined) throw refuse(`replaces "${scope.key}"`);
    for (const key of new Set([...Object.keys(was), ...Object.keys(now)])) {
      if (!scope.only.includes(key) && !sameJson(own(was, key), own(now, key))) throw refuse(`changes "${scope.key}.${key}"`);
    }
  }
  if (kind === 'least-privilege') {
    const was = objectOrEmpty(own(before, 'permissions')) ?? {};
    const now = objectOrEmpty(own(after, 'permissions'));
    if (now === undefined) throw refuse('replaces "permissions"');
    for (const [permission, value] of Object.entries(now)) {
      if (!isWithin(value, own(was, permission))) throw refuse(`grants more under "permissions.${permission}"`);
    }
  }
}

/** A key's own value: a patch can add a key named `__proto__`, which plain indexing would read as the prototype. */
function own(object: Json, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** An absent key is an empty object; anything but an object is undefined. */
function objectOrEmpty(value: unknown): Json | undefined {
  if (value === undefined || value === null) return {};
  return typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

/** Is the permission value `now` no more than `was`: absent, null, false, or a list of entries `was` already holds. */
function isWithin(now: unknown, was: unknown): boolean {
  if (now === undefined || now === null || now === false) return true;
  if (Array.isArray(now)) return Array.isArray(was) && now.every((entry) => was.some((held) => sameJson(held, entry)));
  return sameJson(now, was);
}
