/** @module learner/learn — one learning pass: read the run record, train per-template models, generate suggestions, keep what is new, save the models. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Limits } from '../core/agent-spec.js';
import { type Clock, systemClock } from '../core/clock.js';
import { type ErrorCode, FactoryError, toFactoryError } from '../core/errors.js';
import type { RunRecord } from '../core/run-record.js';
import type { Suggestion } from '../core/suggestion.js';
import type { Store, TemplateVersion } from '../store/index.js';
import { applyEnvironment, discoverTemplateNames, loadTemplateFile, type RawManifest, type ResolvedTemplate, type TemplateRegistry, versionFilesOf } from '../templates/index.js';
import { type Candidate, type TemplateHistory } from './generators/context.js';
import { failurePattern } from './generators/failure-pattern.js';
import { leastPrivilege } from './generators/least-privilege.js';
import { preWarming } from './generators/pre-warming.js';
import { rightSizing } from './generators/right-sizing.js';
import { initTf } from './tf.js';

export interface LearnOptions {
  store: Store;
  /** Resolves the current version of each template. */
  registry: TemplateRegistry;
  /** Environment whose effective manifest the suggestions are judged against. @default the registry's */
  env?: string;
  /** Only runs since this time (epoch ms). @default all */
  since?: number;
  /**
   * "Now", for time windows (the model's look-back, recent inputs). @default just after each
   * template's newest run, so a record imported from elsewhere is judged on its own time line
   */
  now?: number;
  /** Only these templates. @default every template with runs */
  templates?: string[];
  /** Told after each template. */
  onProgress?(done: number, total: number, template: string): void;
  /** When the pass decides (suggestions' `createdAt`, models' save time) and how long it took. @default the system clock */
  clock?: Clock;
}

export interface LearnResult {
  backend: string;
  runs: number;
  templates: number;
  created: Suggestion[];
  /** Candidates already open with the same evidence. */
  unchanged: number;
  /** Candidates matching a rejected suggestion whose evidence has not changed materially. */
  suppressedRejected: number;
  /** Older open suggestions replaced by a newer one for the same change. */
  replaced: number;
  /**
   * Open suggestions made for a template that is no longer on disk (edited, rolled back, accepted since) that this pass
   * did not propose again: withdrawn, so none is left that can only fail to be accepted.
   */
  withdrawn: Array<{ id: string; template: string; reason: string }>;
  /** Templates with runs that this pass could not learn for, each with why (and the error's code). */
  skipped: Array<{ template: string; reason: string; code: ErrorCode }>;
  seconds: number;
}

/**
 * Runs the generators over every template's history and stores new suggestions. A rejected
 * suggestion is not proposed again until its evidence changes materially (its `evidenceKey`
 * changes); an open one is replaced when a newer one changes the same thing.
 */
export async function learn(options: LearnOptions): Promise<LearnResult> {
  const clock = options.clock ?? systemClock;
  const started = clock.monotonic();
  const backend = await initTf();
  const { store, registry } = options;
  const env = options.env ?? registry.env;
  const decidedAt = clock.now();
  await options.store.runs.flush();

  const byTemplate = new Map<string, RunRecord[]>();
  let runs = 0;
  for await (const record of store.queries.iterate(options.since !== undefined ? { since: options.since } : {})) {
    if (options.templates && !options.templates.includes(record.template)) continue;
    let list = byTemplate.get(record.template);
    if (!list) byTemplate.set(record.template, (list = []));
    list.push(record);
    runs++;
  }

  // The generators ask for limits synchronously, run by run: each version's are read once, here, before they start.
  const limitsByDigest = new Map<string, Limits | undefined>();
  const keyOf = (record: RunRecord) => `${record.digest}\u0000${record.env}`;
  const manifests = new Map<string, Promise<TemplateVersion | undefined>>();
  for (const records of byTemplate.values()) {
    for (const record of records) {
      const key = keyOf(record);
      if (limitsByDigest.has(key)) continue;
      const versionKey = `${record.template}\u0000${record.digest}`;
      let version = manifests.get(versionKey);
      if (!version) manifests.set(versionKey, (version = Promise.resolve(store.versions.byDigest(record.template, record.digest, { unsealed: 'skip' }))));
      const found = await version;
      limitsByDigest.set(key, found ? applyEnvironment(found.manifest as RawManifest, record.env).limits : undefined);
    }
  }
  const limitsOf = (record: RunRecord): Limits | undefined => limitsByDigest.get(keyOf(record));

  const extended = extendedTemplates(registry.agentsDir);
  const result: LearnResult = { backend, runs, templates: 0, created: [], unchanged: 0, suppressedRejected: 0, replaced: 0, withdrawn: [], skipped: [], seconds: 0 };
  const currentDigest = new Map<string, { version: string; digest: string }>();
  const names = [...byTemplate.keys()].sort();
  const saves: Array<Promise<void>> = [];
  for (const [index, name] of names.entries()) {
    const records = byTemplate.get(name) as RunRecord[];
    let history: TemplateHistory;
    try {
      const template = await registry.inspect(name, { env });
      currentDigest.set(name, { version: template.version, digest: template.digest });
      if (template.abstract) {
        throw new FactoryError(
          'E_TEMPLATE_INVALID',
          `template "${name}" is abstract (${template.file}): it can only be extended, not run, so no suggestion can apply to it; the templates that extend it get their own, or remove "abstract": true from it if it should run again`,
        );
      }
      const raw = loadTemplateFile(template.dir, registry.agentsDir).manifest;
      const now = options.now ?? (records.at(-1)?.startedAt ?? decidedAt) + 1;
      history = { template, raw, hasParent: raw.extends !== undefined, isExtended: extended.has(name), records, limitsOf, now };
    } catch (error) {
      const failure = toFactoryError(error);
      result.skipped.push({ template: name, reason: `cannot resolve it now: ${failure.message}`, code: failure.code });
      options.onProgress?.(index + 1, names.length, name);
      continue;
    }
    result.templates++;
    const candidates: Candidate[] = [
      ...rightSizing(history, {
        onModel: (resource, recommender) => {
          const model = recommender.lastModel;
          if (!model) return;
          saves.push(
            model.save().then(async (state) => {
              try {
                await store.models.save(name, resource, state, decidedAt, model.samples);
              } finally {
                model.dispose();
              }
            }),
          );
        },
      }),
      ...leastPrivilege(history),
      ...failurePattern(history),
      ...preWarming(history),
    ];
    // The version the suggestions are made for is kept, whole: accepting can then say what changed since, and a
    // rollback can put it back.
    if (candidates.length > 0) await recordBase(store, history.template);
    for (const candidate of candidates) await keep(store, candidate, decidedAt, result);
    options.onProgress?.(index + 1, names.length, name);
    // Training is synchronous CPU work: a turn of the event loop lets whoever watches the progress draw it.
    if (options.onProgress) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(saves);
  await withdrawStale(store, registry, env, options.templates, currentDigest, result);
  result.seconds = (clock.monotonic() - started) / 1000;
  return result;
}

/** Names of the templates some other template `extends`: a template that cannot be read counts for nothing. */
function extendedTemplates(agentsDir: string): Set<string> {
  const parents = new Set<string>();
  for (const name of discoverTemplateNames(agentsDir)) {
    try {
      const parent = loadTemplateFile(path.join(agentsDir, name), agentsDir).manifest.extends;
      if (typeof parent === 'string') parents.add(parent);
    } catch {
      // A broken template is reported where it is resolved; here it extends nothing.
    }
  }
  return parents;
}

async function recordBase(store: Store, template: ResolvedTemplate): Promise<void> {
  // A row the store does not vouch for is recorded again (replaced) from the files on disk.
  if ((await store.versions.byDigest(template.name, template.digest, { unsealed: 'skip' }))?.sourceFiles) return;
  await store.versions.record({
    ...versionFilesOf(template),
    name: template.name, version: template.version, digest: template.digest, manifest: template.inherited, sources: { ...template.sources }, bundle: template.code,
  });
}

/**
 * Withdraws every open suggestion whose template on disk is no longer the one it was made for and that this pass did not
 * propose again (a fresh suggestion for the same change replaced it already). Templates that cannot be resolved now keep
 * their suggestions: a broken edit is not a reason to forget them.
 */
async function withdrawStale(
  store: Store,
  registry: TemplateRegistry,
  env: string,
  only: readonly string[] | undefined,
  known: Map<string, { version: string; digest: string }>,
  result: LearnResult,
): Promise<void> {
  for (const suggestion of await store.suggestions.list({ state: 'open' })) {
    if (only && !only.includes(suggestion.template)) continue;
    let current = known.get(suggestion.template);
    if (!current) {
      try {
        const template = await registry.inspect(suggestion.template, { env });
        current = { version: template.version, digest: template.digest };
      } catch {
        continue;
      }
      known.set(suggestion.template, current);
    }
    if (current.digest === suggestion.baseDigest) continue;
    if (!(await store.suggestions.withdraw(suggestion.id))) continue;
    const reason =
      `made for ${suggestion.baseVersion} (digest ${suggestion.baseDigest.slice(0, 12)}), but ${current.version} (digest ${current.digest.slice(0, 12)}) is on disk, ` +
      'and its runs do not support it yet';
    result.withdrawn.push({ id: suggestion.id, template: suggestion.template, reason });
  }
}

async function keep(store: Store, candidate: Candidate, now: number, result: LearnResult): Promise<void> {
  const history = (await store.suggestions.history(candidate.template, candidate.kind)).filter((s) => s.evidence.slot === candidate.slot);
  if (history.some((s) => s.evidenceKey === candidate.evidenceKey && s.state === 'rejected')) {
    result.suppressedRejected++;
    return;
  }
  if (history.some((s) => s.evidenceKey === candidate.evidenceKey && s.baseDigest === candidate.baseDigest && s.state !== 'rolled_back')) {
    result.unchanged++;
    return;
  }
  for (const open of history.filter((s) => s.state === 'open')) {
    if (await store.suggestions.withdraw(open.id)) result.replaced++;
  }
  const { slot, ...rest } = candidate;
  const suggestion: Suggestion = { ...rest, evidence: { ...rest.evidence, slot }, id: `sg_${randomBytes(5).toString('hex')}`, state: 'open', createdAt: now };
  await store.suggestions.add(suggestion);
  result.created.push(suggestion);
}

/**
 * Orders suggestions for review: confidence weighted by how often maintainers accepted this
 * kind before (Laplace-smoothed), so kinds that keep being rejected sink.
 */
export function rankSuggestions(suggestions: readonly Suggestion[], acceptance: Record<string, { accepted: number; rejected: number }>): Suggestion[] {
  const score = (s: Suggestion) => {
    const history = acceptance[s.kind] ?? { accepted: 0, rejected: 0 };
    return s.confidence * ((history.accepted + 1) / (history.accepted + history.rejected + 2));
  };
  return [...suggestions].sort((a, b) => score(b) - score(a) || b.createdAt - a.createdAt);
}
