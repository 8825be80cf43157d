/** @module templates/stored-version — turns a version kept in the store back into a resolved template, and puts a stored version back on disk. */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../core/errors.js';
import type { StoredTemplateVersion } from '../core/trust-records.js';
import { sha256 } from './bundle.js';
import { compileDataSchema } from './data-schema.js';
import type { RawManifest } from './manifest.js';
import { agentSpecOf, applyEnvironment, type ResolvedTemplate, templateDigest } from './resolve.js';
import { SIGNATURE_FILE, type SignatureFile } from './signature.js';
import { MANIFEST_FILE } from './template-file.js';

/** What the store keeps of a version. */
export type StoredVersion = StoredTemplateVersion;

/**
 * Rebuilds a resolved template from a stored version, for canaries and rollbacks of versions that
 * are no longer on disk. The digest is recomputed from what was stored and must match, and the manifest
 * must be the one of the name and version asked for, so a row edited in the database is refused. The
 * bundle cannot be rebuilt (the store keeps source hashes, not sources): the trust gate checks its
 * hash against the one the stored agent.sig signed (`bundleOrigin: 'store'`).
 * @throws FactoryError `E_SIGNATURE_INVALID` when the stored content does not match its digest or its name and version.
 */
export function resolveStoredVersion(stored: StoredVersion, env: string, dir: string, file: string): ResolvedTemplate {
  const inherited = stored.manifest as RawManifest;
  const digest = templateDigest(inherited, stored.sources);
  if (digest !== stored.digest) {
    throw new FactoryError('E_SIGNATURE_INVALID', `stored version ${stored.version} of "${stored.name}" does not match its digest; the store was altered`);
  }
  if (inherited?.name !== stored.name || inherited.version !== stored.version || typeof stored.bundle !== 'string') {
    throw new FactoryError('E_SIGNATURE_INVALID', `stored version ${stored.version} of "${stored.name}" holds ${String(inherited?.name)} ${String(inherited?.version)}; the store was altered`);
  }
  const manifest = applyEnvironment(inherited, env);
  const spec = agentSpecOf(digest, manifest, dir, stored.bundle);
  return Object.freeze({
    name: manifest.name,
    version: manifest.version,
    env,
    dir,
    file,
    chain: Object.freeze([manifest.name]),
    abstract: false,
    inherited,
    manifest,
    digest,
    sources: Object.freeze({ ...stored.sources }),
    code: stored.bundle,
    bundleSha256: sha256(stored.bundle),
    bundleOrigin: 'store',
    spec,
    validateInput: compileDataSchema(manifest.input),
    validateOutput: compileDataSchema(manifest.output),
  });
}

/**
 * Writes a stored version's agent.json and agent.sig back into the template folder (each atomically).
 * @throws FactoryError `E_TEMPLATE_NOT_FOUND` when the version was stored without its agent.json.
 */
export function restoreStoredVersion(stored: StoredVersion, dir: string): void {
  if (stored.manifestFile === undefined) {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `version ${stored.version} of "${stored.name}" was recorded without its agent.json and cannot be put back; choose another with --to`);
  }
  const write = (name: string, text: string) => {
    const target = path.join(dir, name);
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, target);
  };
  if (stored.signature !== undefined) write(SIGNATURE_FILE, `${JSON.stringify(stored.signature as SignatureFile, null, 2)}\n`);
  write(MANIFEST_FILE, stored.manifestFile);
}
