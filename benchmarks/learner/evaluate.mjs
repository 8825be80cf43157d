/** @module benchmarks/learner/evaluate — the precision and recall of the learner's least-privilege and failure-pattern suggestions against a known truth (limits are compared in compare.mjs). */

/** The kind of a permission key: `env` of `env:LOG_LEVEL`, `kv` of `kv`. */
function kindOf(key) {
  const colon = key.indexOf(':');
  return colon === -1 ? key : key.slice(0, colon);
}

/**
 * Precision (and recall) of least-privilege suggestions against the ground truth.
 * A suggestion names one permission key (`env:LOG_LEVEL`, `kv`) or a whole kind (`env`, `net`: remove every entry).
 * A key is correct when the template truly does not need it; a whole kind is correct when the template has an
 * unneeded entry of that kind and needs none of it (removing it breaks nothing and removes something).
 * Duplicate suggestions count once.
 * @param {Array<{ template: string, permission: string }>} suggestions
 * @param {{ unneeded: Record<string, string[]>, needed?: Record<string, string[]> }} groundTruth as `generateWorkload` returns it
 * @returns {{ suggested: number, correct: number, unneeded: number, found: number, precision: number, recall: number, wrong: Array<{ template: string, permission: string }>, missed: Array<{ template: string, permission: string }> }}
 *   precision = correct / suggested (NaN with no suggestion); recall = unneeded keys covered by correct suggestions / all unneeded keys;
 *   `missed` lists the unneeded keys no correct suggestion removes.
 */
export function permissionPrecision(suggestions, groundTruth) {
  const seen = new Set();
  const covered = new Set();
  const wrong = [];
  let correct = 0;
  for (const { template, permission } of suggestions) {
    const id = `${template}\u0000${permission}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const unneeded = groundTruth.unneeded[template] ?? [];
    const needed = groundTruth.needed?.[template] ?? [];
    let ok;
    let removes;
    if (permission.includes(':') || unneeded.includes(permission) || needed.includes(permission)) {
      ok = unneeded.includes(permission);
      removes = [permission];
    } else {
      removes = unneeded.filter((key) => kindOf(key) === permission);
      ok = removes.length > 0 && !needed.some((key) => kindOf(key) === permission);
    }
    if (ok) {
      correct++;
      for (const key of removes) covered.add(`${template}\u0000${key}`);
    } else wrong.push({ template, permission });
  }
  const unneededCount = Object.values(groundTruth.unneeded).reduce((s, keys) => s + keys.length, 0);
  const missed = Object.entries(groundTruth.unneeded).flatMap(([template, keys]) =>
    keys.filter((key) => !covered.has(`${template}\u0000${key}`)).map((permission) => ({ template, permission })),
  );
  return {
    suggested: seen.size,
    correct,
    unneeded: unneededCount,
    found: covered.size,
    precision: seen.size > 0 ? correct / seen.size : Number.NaN,
    recall: unneededCount > 0 ? covered.size / unneededCount : Number.NaN,
    wrong,
    missed,
  };
}

/**
 * The permission removals a list of learner suggestions proposes, as `{ template, permission }` for
 * {@link permissionPrecision}: every `least-privilege` patch operation on `/permissions/<kind>` that removes it or
 * sets it to null, false or [] (whole kind), every such kind in an object added at `/permissions`, and the single
 * entries a suggestion names in `evidence.entries` (`env:REGION`).
 * @param {Array<{ kind: string, template: string, patch: Array<{ op: string, path: string, value?: unknown }>, evidence?: { permission?: string, entries?: string[] } }>} suggestions
 */
export function removalsOf(suggestions) {
  const out = [];
  for (const suggestion of suggestions) {
    if (suggestion.kind !== 'least-privilege') continue;
    // Single entries of a list that stays: the evidence names them (the patch only shows what is kept).
    if (Array.isArray(suggestion.evidence?.entries)) {
      for (const entry of suggestion.evidence.entries) out.push({ template: suggestion.template, permission: `${suggestion.evidence.permission}:${entry}` });
      continue;
    }
    for (const op of suggestion.patch) {
      // A template without its own `permissions` object gets one: `add /permissions {"env": null}` empties env.
      if (op.path === '/permissions' && op.op !== 'remove' && op.value !== null && typeof op.value === 'object') {
        for (const [kind, value] of Object.entries(op.value)) if (isEmptied(value)) out.push({ template: suggestion.template, permission: kind });
        continue;
      }
      const match = /^\/permissions\/([^/]+)$/.exec(op.path);
      if (!match) continue;
      if (op.op === 'remove' || isEmptied(op.value)) out.push({ template: suggestion.template, permission: match[1].replace(/~1/g, '/').replace(/~0/g, '~') });
    }
  }
  return out;
}

/** A permission value that grants nothing. */
function isEmptied(value) {
  return value === null || value === false || (Array.isArray(value) && value.length === 0);
}

/**
 * Precision and recall of failure-pattern suggestions against known patterns: a suggestion is correct when its template
 * has a pattern on the same input property and its threshold lies in the pattern's [lo, hi] (it refuses the failing
 * inputs and few workable ones). Recall: patterns with a correct suggestion / patterns.
 * @param {Array<{ kind: string, template: string, evidence?: { property?: string, threshold?: number } }>} suggestions
 * @param {Record<string, { property: string, lo: number, hi: number }>} patterns
 */
export function failurePatternPrecision(suggestions, patterns) {
  const own = suggestions.filter((s) => s.kind === 'failure-pattern');
  const found = new Set();
  const wrong = [];
  let correct = 0;
  for (const s of own) {
    const truth = patterns[s.template];
    const threshold = s.evidence?.threshold;
    if (truth && s.evidence?.property === truth.property && threshold >= truth.lo && threshold <= truth.hi) {
      correct++;
      found.add(s.template);
    } else wrong.push({ template: s.template, property: s.evidence?.property, threshold });
  }
  const total = Object.keys(patterns).length;
  return {
    suggested: own.length,
    correct,
    patterns: total,
    found: found.size,
    precision: own.length > 0 ? correct / own.length : Number.NaN,
    recall: total > 0 ? found.size / total : Number.NaN,
    wrong,
    missed: Object.keys(patterns).filter((template) => !found.has(template)),
  };
}
