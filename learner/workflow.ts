/** @module learner/workflow — what maintainers do with suggestions: accept (patch, version, sign, canary), reject, roll out, roll back; every step audited. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError, toFactoryError } from '../core/errors.js';
import type { Suggestion } from '../core/suggestion.js';
import type { Store, VersionRetirement } from '../store/index.js';
import { canonicalJson } from '../core/canonical-json.js';
import { type KeyRing, MANIFEST_FILE, readSignatureFile, restoreStoredVersion, SIGNATURE_FILE, signTemplate, type TemplateRegistry, versionFilesOf, writeSignatureFile } from '../templates/index.js';
import { applyJsonPatch } from './json-patch.js';
import { editJsonText } from './json-text-edit.js';
import { checkPatchScope } from './patch-scope.js';

export interface WorkflowContext {
  store: Store;
  registry: TemplateRegistry;
  /** Signs accepted versions with the maintainer's current signer. */
  keyRing: KeyRing;
  now?: () => number;
}

export interface AcceptOptions {
  /** Who accepts: a user name or API key id, for the audit log. */
  actor: string;
  reason?: string;
  /** Share of createAgent calls the new version gets while in canary; 1 skips the canary. @default 0.1 */
  canaryWeight?: number;
}

/** 1.4.0 → 1.4.1: an accepted suggestion is a patch release of its template. */
export function bumpPatch(version: string): string {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) throw new FactoryError('E_TEMPLATE_INVALID', `version ${version} is not semver`);
  return `${match[1]}.${match[2]}.${Number(match[3]) + 1}`;
}

async function requireOpen(store: Store, id: string): Promise<Suggestion> {
  const suggestion = await store.suggestions.get(id);
  if (!suggestion) throw new FactoryError('E_SUGGESTION_NOT_FOUND', `no suggestion ${id}; run \`af suggestions list\``);
  if (suggestion.state !== 'open') {
    throw new FactoryError('E_CONFLICT', `suggestion ${id} is ${suggestion.state}; only open suggestions can be accepted or rejected`, { details: { state: suggestion.state } });
  }
  return suggestion;
}

/** The version must not be retired: restoring or routing to a withdrawn version would put it back in service. */
function requireNotRetired(store: Store, name: string, version: string, doing: string): void {
  const retirement = store.trust.retirement(name, version);
  if (!retirement) return;
  throw new FactoryError('E_VERSION_RETIRED', `version ${version} of "${name}" was retired (${retirement.reason || 'no reason given'}), so it cannot be ${doing}; choose another version (\`af versions list ${name}\`)`, {
    details: { template: name, version, retiredAt: retirement.retiredAt },
  });
}

function atomicWrite(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/**
 * Accepts a suggestion: applies its patch to agent.json, bumps the version, signs the new version,
 * records it, audits, and starts a canary that sends `canaryWeight` of new agents to it (the runtime
 * then promotes or rolls back on its own). The template must still be the version the suggestion
 * was made for.
 * @throws FactoryError `E_USAGE` (not open, or the template changed since), `E_SIGNER_KEY_MISSING` (no signer key here).
 */
export async function acceptSuggestion(context: WorkflowContext, id: string, options: AcceptOptions): Promise<Suggestion> {
  const { store, registry, keyRing } = context;
  const now = context.now ?? Date.now;
  const suggestion = await requireOpen(store, id);
  // Built here, not read from the bundle cache: both versions' bundles are recorded, and the candidate's is signed.
  const current = await registry.inspect(suggestion.template, { bundleFrom: 'build' });
  // The suggestion was made from runs of one exact template (its digest: agent.json, the parents it extends and every
  // source file), so that is what must still be on disk; the version number alone cannot tell edits apart.
  if (current.digest !== suggestion.baseDigest) throw await staleSuggestion(store, suggestion, current);
  const signer = keyRing.signer();
  const manifestPath = path.join(current.dir, MANIFEST_FILE);
  const oldText = readFileSync(manifestPath, 'utf8');
  const oldSignature = readSignatureFile(current.dir, SIGNATURE_FILE);
  // The stable version must be restorable, whole, before anything on disk changes.
  await store.versions.record({
    ...versionFilesOf(current),
    name: current.name, version: current.version, digest: current.digest, manifest: current.inherited, sources: { ...current.sources }, bundle: current.code,
    manifestFile: oldText, ...(oldSignature ? { signature: oldSignature } : {}),
  });

  const original = JSON.parse(oldText) as Record<string, unknown>;
  const patched = applyJsonPatch(original, suggestion.patch);
  // Before anything is written or signed: the patch came from the database, which people who cannot sign can write.
  checkPatchScope(suggestion.id, suggestion.kind, original, patched);
  // A retired version number is burnt: new content under it would be refused outside dev.
  let newVersion = bumpPatch(current.version);
  while (store.trust.retirement(current.name, newVersion)) newVersion = bumpPatch(newVersion);
  patched.version = newVersion;
  // Only the lines the patch touches change: maintainers review the result in git.
  const newText = editJsonText(oldText, JSON.parse(oldText), patched);
  atomicWrite(manifestPath, newText);
  let candidate;
  try {
    candidate = await registry.inspect(suggestion.template, { bundleFrom: 'build' });
  } catch (error) {
    // The patch made an invalid template: put the old one back and say why.
    atomicWrite(manifestPath, oldText);
    throw new FactoryError('E_TEMPLATE_INVALID', `suggestion ${id} would make "${suggestion.template}" invalid, so it was not applied: ${(error as Error).message}`, { cause: error });
  }
  const signature = signTemplate(candidate, signer, now());
  writeSignatureFile(candidate.dir, signature);
  await store.versions.record({
    ...versionFilesOf(candidate),
    name: candidate.name, version: candidate.version, digest: candidate.digest, manifest: candidate.inherited, sources: { ...candidate.sources }, bundle: candidate.code,
    manifestFile: newText, signature,
  });
  // As after a rollback: the cached on-disk version is no longer what is on disk (and may be retired).
  registry.clear();

  const weight = options.canaryWeight ?? 0.1;
  if (!(weight > 0 && weight <= 1)) throw new FactoryError('E_USAGE', `canary weight must be in (0, 1], not ${weight}`);
  const at = now();
  await store.audit.append({
    type: 'suggestion.accepted',
    actor: options.actor,
    subject: id,
    data: { template: suggestion.template, kind: suggestion.kind, from: current.version, to: newVersion, patch: suggestion.patch, keyId: signer.record.id, ...(options.reason ? { reason: options.reason } : {}) },
  });
  if (weight < 1) {
    await store.rollouts.start({ template: suggestion.template, stableVersion: current.version, candidateVersion: newVersion, weight, startedAt: at, suggestionId: id });
    await store.audit.append({ type: 'rollout.started', actor: options.actor, subject: suggestion.template, data: { stable: current.version, candidate: newVersion, weight, suggestion: id } });
    return (await store.suggestions.decide(id, 'canary', { at, by: options.actor, candidateVersion: newVersion, ...(options.reason ? { reason: options.reason } : {}) })) as Suggestion;
  }
  return (await store.suggestions.decide(id, 'accepted', { at, by: options.actor, candidateVersion: newVersion, ...(options.reason ? { reason: options.reason } : {}) })) as Suggestion;
}

/**
 * The conflict of a suggestion made for another template than the one on disk, saying what differs (the version, agent.json
 * or which source files), from the stored record of the version it was made for when there is one.
 */
async function staleSuggestion(store: Store, suggestion: Suggestion, current: { version: string; digest: string; inherited: unknown; sources: Readonly<Record<string, string>> }): Promise<FactoryError> {
  // Only to say what changed: a row the store does not vouch for says nothing.
  const base = await store.versions.byDigest(suggestion.template, suggestion.baseDigest, { unsealed: 'skip' });
  const changes: string[] = [];
  if (current.version !== suggestion.baseVersion) changes.push(`its version is ${current.version}`);
  if (base) {
    if (canonicalJson(base.manifest) !== canonicalJson(current.inherited)) changes.push('agent.json (or a template it extends) changed');
    const files = [...new Set([...Object.keys(base.sources), ...Object.keys(current.sources)])].filter((file) => base.sources[file] !== current.sources[file]).sort();
    if (files.length > 0) changes.push(`${files.join(', ')} changed`);
  }
  const what = changes.length > 0 ? changes.join('; ') : 'its files changed';
  return new FactoryError(
    'E_CONFLICT',
    `suggestion ${suggestion.id} was made for "${suggestion.template}" ${suggestion.baseVersion} (digest ${suggestion.baseDigest.slice(0, 12)}), ` +
      `but the template on disk is ${current.version} (digest ${current.digest.slice(0, 12)}): ${what}. ` +
      `Run \`af learn\` to judge it again against what is on disk (it is proposed again or withdrawn), or put that version back with \`af rollback ${suggestion.template} --to ${suggestion.baseVersion}\``,
    { details: { template: suggestion.template, baseVersion: suggestion.baseVersion, baseDigest: suggestion.baseDigest, version: current.version, digest: current.digest } },
  );
}

/** Rejects an open suggestion with a reason; it is not proposed again until its evidence changes materially. */
export async function rejectSuggestion(context: Pick<WorkflowContext, 'store' | 'now'>, id: string, options: { actor: string; reason: string }): Promise<Suggestion> {
  const { store } = context;
  await requireOpen(store, id);
  if (!options.reason.trim()) throw new FactoryError('E_USAGE', 'give a reason for rejecting (--reason): it is kept with the decision');
  const at = (context.now ?? Date.now)();
  await store.audit.append({ type: 'suggestion.rejected', actor: options.actor, subject: id, data: { reason: options.reason } });
  return (await store.suggestions.decide(id, 'rejected', { at, by: options.actor, reason: options.reason })) as Suggestion;
}

/**
 * Puts a whole stored version of a template back on disk (agent.json, agent.sig and every source file, never a mix) and
 * ends any canary. What was on disk is recorded first, so it can be rolled forward to.
 * @param to version to restore. @default the stable version of the running canary, else the version before the current one
 */
export async function rollback(
  context: Pick<WorkflowContext, 'store' | 'registry' | 'now'>,
  name: string,
  options: { to?: string; actor: string },
): Promise<{ name: string; from: string; version: string; digest: string; written: string[]; removed: string[] }> {
  const { store, registry } = context;
  // A broken edit is when a rollback is needed most: then the version must be named (or be a canary's stable one).
  const current = await registry.inspect(name).catch((error: unknown) => {
    const failure = toFactoryError(error);
    if (failure.code !== 'E_TEMPLATE_INVALID' && failure.code !== 'E_TEMPLATE_IMPORT') throw failure;
    return { broken: failure };
  });
  const isBroken = 'broken' in current;
  const rollout = await store.rollouts.get(name);
  // By default, never a retired version nor one the store does not vouch for; one asked for by name is refused below, saying why.
  const versions = (await store.versions.list(name)).filter((v) => !v.unsealed && (isBroken || v.version !== current.version) && !store.trust.retirement(name, v.version));
  const target = options.to ?? (rollout?.state === 'canary' ? rollout.stableVersion : isBroken ? undefined : versions.at(-1)?.version);
  if (!target && isBroken) throw new FactoryError('E_USAGE', `"${name}" does not load (${current.broken.message}); name the version to put back with --to (\`af versions list ${name}\`)`);
  if (!target) throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no earlier version of "${name}" is recorded (retired ones excepted); nothing to roll back to`);
  requireNotRetired(store, name, target, 'rolled back to');
  // Refuses (E_TRUST_STATE) a version held only in rows the keys folder does not vouch for, before anything is written.
  const stored = await store.versions.get(name, target);
  if (!stored) throw new FactoryError('E_TEMPLATE_NOT_FOUND', `version ${target} of "${name}" is not in the store; \`af templates show ${name}\` lists the recorded versions`);
  // The digest, not the number: in dev an edit runs under the number it carries, and rolling back to that number undoes it.
  if (!isBroken && stored.digest === current.digest) throw new FactoryError('E_USAGE', `"${name}" is already at ${target} (digest ${stored.digest.slice(0, 12)})`);
  // What is on disk now (an edit in dev, say) is kept, whole, before it is replaced: rolling forward stays possible.
  if (!isBroken) {
    await store.versions.record({
      ...versionFilesOf(current),
      name: current.name, version: current.version, digest: current.digest, manifest: current.inherited, sources: { ...current.sources }, bundle: current.code,
    });
  }
  const dir = isBroken ? path.join(registry.agentsDir, name) : current.dir;
  // The whole version: agent.json, agent.sig and every source file; sources only the newer version had are removed.
  const restored = restoreStoredVersion(stored, dir, isBroken ? {} : { currentSources: current.sources });
  const from = isBroken ? `a broken edit` : current.version;
  const at = (context.now ?? Date.now)();
  if (rollout?.state === 'canary') {
    await store.rollouts.decide(name, 'rolled_back', at, { by: options.actor, manual: true });
    if (rollout.suggestionId) await store.suggestions.decide(rollout.suggestionId, 'rolled_back', { at, by: options.actor, reason: 'rolled back by hand' });
  }
  await store.audit.append({
    type: 'rollout.rolled_back', actor: options.actor, subject: name,
    data: { from, ...(isBroken ? {} : { fromDigest: current.digest }), to: target, toDigest: stored.digest, manual: true, written: restored.written, removed: restored.removed },
  });
  registry.clear();
  return { name, from, version: target, digest: stored.digest, written: restored.written, removed: restored.removed };
}

/** Starts a canary of a recorded version against the version on disk. */
export async function startRollout(context: Pick<WorkflowContext, 'store' | 'registry' | 'now'>, name: string, options: { candidate: string; weight: number; actor: string }): Promise<{ stable: string; candidate: string; weight: number }> {
  const { store, registry } = context;
  if (!(options.weight > 0 && options.weight <= 1)) throw new FactoryError('E_USAGE', `--weight must be a share in (0, 1] (e.g. 0.1), not ${options.weight}`);
  const current = await registry.inspect(name);
  if (options.candidate === current.version) throw new FactoryError('E_USAGE', `${options.candidate} is the version on disk; a candidate must be another recorded version`);
  requireNotRetired(store, name, options.candidate, 'rolled out');
  if (!(await store.versions.get(name, options.candidate))) throw new FactoryError('E_TEMPLATE_NOT_FOUND', `version ${options.candidate} of "${name}" is not in the store`);
  await store.rollouts.start({ template: name, stableVersion: current.version, candidateVersion: options.candidate, weight: options.weight, startedAt: (context.now ?? Date.now)() });
  await store.audit.append({ type: 'rollout.started', actor: options.actor, subject: name, data: { stable: current.version, candidate: options.candidate, weight: options.weight } });
  return { stable: current.version, candidate: options.candidate, weight: options.weight };
}

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

export interface RetireResult extends VersionRetirement {
  /** False when it was already retired: nothing changed and nothing was audited. */
  isNew: boolean;
  /** Digests this store recorded under the version (a retirement also covers ones it never saw). */
  digests: string[];
  /** The canary of this version that was ended, if one ran. */
  endedCanary?: { stable: string; restored: boolean };
  /** The version on disk is the retired one: outside dev the template runs no more until it is rolled back or forward. */
  isOnDisk: boolean;
}

/**
 * Retires a version of a template: from now on it is refused outside dev — by every resolve and every cached hit,
 * in this process and, within moments, in every other one sharing the store — and it can no longer be rolled back
 * to or rolled out. A canary of it ends: the stable version is put back on disk when the candidate is there.
 * Idempotent: retiring again keeps the first record.
 * @throws FactoryError `E_USAGE` (not a version), `E_TEMPLATE_NOT_FOUND` (no such template here or in the store).
 */
export async function retireVersion(
  context: Pick<WorkflowContext, 'store' | 'registry' | 'now'>,
  name: string,
  version: string,
  options: { actor: string; reason?: string },
): Promise<RetireResult> {
  const { store, registry } = context;
  if (!VERSION.test(version)) throw new FactoryError('E_USAGE', `${JSON.stringify(version)} is not a semantic version such as "1.4.0"`);
  const recorded = await store.versions.list(name);
  const current = registry.names().includes(name) ? await registry.inspect(name).catch(() => undefined) : undefined;
  if (recorded.length === 0 && !current) {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `no template "${name}" in ${registry.agentsDir} and no recorded version of it; \`af templates list\` shows the templates`);
  }
  const digests = recorded.filter((v) => v.version === version).map((v) => v.digest);
  const isOnDisk = current?.version === version;
  const existing = store.trust.retirement(name, version);
  if (existing) return { ...existing, isNew: false, digests, isOnDisk };
  const retirement: VersionRetirement = { name, version, retiredAt: (context.now ?? Date.now)(), reason: options.reason ?? '', by: options.actor };
  await store.trust.retire(retirement);
  await store.audit.append({ type: 'version.retired', actor: options.actor, subject: name, data: { version, reason: retirement.reason, digests, isOnDisk } });
  let endedCanary: RetireResult['endedCanary'];
  const rollout = await store.rollouts.get(name);
  if (rollout?.state === 'canary' && rollout.candidateVersion === version) {
    if (isOnDisk && (await store.versions.get(name, rollout.stableVersion, { unsealed: 'skip' })) && !store.trust.retirement(name, rollout.stableVersion)) {
      await rollback(context, name, { to: rollout.stableVersion, actor: options.actor });
      endedCanary = { stable: rollout.stableVersion, restored: true };
    } else {
      const at = (context.now ?? Date.now)();
      await store.rollouts.decide(name, 'rolled_back', at, { by: options.actor, reason: `candidate ${version} retired` });
      if (rollout.suggestionId) await store.suggestions.decide(rollout.suggestionId, 'rolled_back', { at, by: options.actor, reason: `version ${version} retired` });
      await store.audit.append({ type: 'rollout.rolled_back', actor: options.actor, subject: name, data: { from: version, to: rollout.stableVersion, retired: true } });
      endedCanary = { stable: rollout.stableVersion, restored: false };
    }
  }
  return { ...retirement, isNew: true, digests, isOnDisk: isOnDisk && endedCanary?.restored !== true, ...(endedCanary ? { endedCanary } : {}) };
}
