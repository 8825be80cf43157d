/** @module templates/stored-version — turns a version kept in the store back into a resolved template, and puts a stored version back on disk. */
import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FactoryError } from '../core/errors.js';
import type { StoredTemplateVersion } from '../core/trust-records.js';
import { canonicalJson } from '../core/canonical-json.js';
import { sha256 } from './bundle.js';
import { compileDataSchema } from './data-schema.js';
import type { RawManifest } from './manifest.js';
import { mergeManifests } from './merge.js';
import { agentSpecOf, applyEnvironment, type ResolvedTemplate, templateDigest } from './resolve.js';
import { SIGNATURE_FILE, type SignatureFile, type SignatureVerifier } from './signature.js';
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
 * Whether a version recorded before version rows were sealed can be sealed as it is: only when a key this project
 * trusts signed exactly its content. Its agent.sig must verify (trusted, unrevoked, in validity) for its digest and pin
 * its bundle; the digest must be that of its manifest and source hashes, under its own name and version; every kept
 * source file must hash to its source hash; and its agent.json text must be the manifest the digest covers (a template
 * that extends another cannot show that from the row alone, so it is not vouched for). Anything less (an unsigned
 * row, a format-1 signature that does not pin the bundle) stays unsealed: it is recorded again, sealed, from the
 * project's files. Never throws.
 */
export function vouchesForStoredVersion(stored: StoredVersion, verifier: Pick<SignatureVerifier, 'verify'>): boolean {
  try {
    const signature = stored.signature as SignatureFile | undefined;
    if (!signature || typeof signature !== 'object' || signature.digest !== stored.digest) return false;
    const inherited = stored.manifest as RawManifest;
    if (inherited?.name !== stored.name || inherited.version !== stored.version || templateDigest(inherited, stored.sources) !== stored.digest) return false;
    const verification = verifier.verify(stored.digest, signature);
    if (!verification.bundle || verification.bundle.sha256 !== sha256(stored.bundle)) return false;
    for (const [relative, base64] of Object.entries(stored.sourceFiles ?? {})) {
      if (stored.sources[relative] === undefined || sha256(Buffer.from(base64, 'base64')) !== stored.sources[relative]) return false;
    }
    if (stored.manifestFile !== undefined) {
      const own = JSON.parse(stored.manifestFile) as RawManifest;
      if (own.extends !== undefined || canonicalJson(mergeManifests({} as RawManifest, own)) !== canonicalJson(inherited)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * What a version keeps of its folder: the template's own agent.json text as the resolve read it (never read again:
 * the file may have changed since, and the text must be the one the digest was made from), and every source file the
 * digest covers (base64), read now and each checked against its hash. A file that changed since it was hashed leaves
 * `sourceFiles` out: recording a mix would let a rollback restore one.
 */
export function versionFilesOf(template: Pick<ResolvedTemplate, 'dir' | 'sources' | 'manifestText'>): { manifestFile?: string; sourceFiles?: Record<string, string> } {
  const files: { manifestFile?: string; sourceFiles?: Record<string, string> } = {};
  if (template.manifestText !== undefined) files.manifestFile = template.manifestText;
  const sourceFiles: Record<string, string> = {};
  for (const [relative, hash] of Object.entries(template.sources)) {
    const bytes = readInside(template.dir, relative);
    if (bytes === undefined || sha256(bytes) !== hash) return files;
    sourceFiles[relative] = bytes.toString('base64');
  }
  files.sourceFiles = sourceFiles;
  return files;
}

export interface RestoreOptions {
  /** Source files of the version being replaced (relative path → hash): those the restored version lacks are removed. */
  currentSources?: Readonly<Record<string, string>>;
}

/** What a restore did to the template folder. */
export interface RestoreResult {
  /** Files written: agent.json, agent.sig and every source file whose content differed. */
  written: string[];
  /** Source files of the replaced version that the restored one does not have. */
  removed: string[];
}

/**
 * Puts a whole stored version back into the template folder: agent.json, agent.sig (removed when the version was
 * unsigned) and every source file the digest covers, each written atomically. Source files of the replaced version that
 * the restored one does not have are removed (the store keeps them with that version); files that are no version's
 * source (data, output, notes) are left alone. Everything is checked before anything is written, so a folder is never
 * left holding a mix of two versions.
 * @throws FactoryError `E_TEMPLATE_NOT_FOUND` when the version was stored without a file it needs and the folder's copy
 *   differs; `E_SIGNATURE_INVALID` when a stored file does not match the hash its digest covers.
 */
export function restoreStoredVersion(stored: StoredVersion, dir: string, options: RestoreOptions = {}): RestoreResult {
  if (stored.manifestFile === undefined) {
    throw new FactoryError('E_TEMPLATE_NOT_FOUND', `version ${stored.version} of "${stored.name}" was recorded without its agent.json and cannot be put back; choose another with --to`);
  }
  const writes: Array<{ relative: string; bytes: Buffer }> = [];
  for (const [relative, hash] of Object.entries(stored.sources)) {
    const onDisk = readInside(dir, relative);
    const kept = stored.sourceFiles?.[relative];
    if (kept === undefined) {
      // Recorded before versions kept their files: only a file that is already that version's can stay.
      if (onDisk !== undefined && sha256(onDisk) === hash) continue;
      throw new FactoryError(
        'E_TEMPLATE_NOT_FOUND',
        `version ${stored.version} of "${stored.name}" was recorded without its source files, and ${relative} is not that version's any more, so it cannot be restored whole; ` +
          'restore the file from version control, or choose another version with --to',
      );
    }
    const bytes = Buffer.from(kept, 'base64');
    if (sha256(bytes) !== hash) throw new FactoryError('E_SIGNATURE_INVALID', `stored version ${stored.version} of "${stored.name}": ${relative} does not match its digest; the store was altered`);
    if (onDisk === undefined || !onDisk.equals(bytes)) writes.push({ relative, bytes });
  }
  if (!isSafeNames(Object.keys(stored.sources)) || !isSafeNames(Object.keys(options.currentSources ?? {}))) {
    throw new FactoryError('E_SIGNATURE_INVALID', `stored version ${stored.version} of "${stored.name}" names a file outside its folder; the store was altered`);
  }
  const write = (relative: string, bytes: Buffer | string) => {
    const target = path.join(dir, ...relative.split('/'));
    mkdirSync(path.dirname(target), { recursive: true });
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, target);
  };
  const result: RestoreResult = { written: [], removed: [] };
  for (const { relative, bytes } of writes) {
    write(relative, bytes);
    result.written.push(relative);
  }
  for (const relative of Object.keys(options.currentSources ?? {})) {
    if (Object.hasOwn(stored.sources, relative) || relative === MANIFEST_FILE || relative === SIGNATURE_FILE) continue;
    try {
      unlinkSync(path.join(dir, ...relative.split('/')));
      result.removed.push(relative);
    } catch {
      // Already gone.
    }
  }
  if (stored.signature !== undefined) write(SIGNATURE_FILE, `${JSON.stringify(stored.signature as SignatureFile, null, 2)}\n`);
  else rmSync(path.join(dir, SIGNATURE_FILE), { force: true });
  result.written.push(SIGNATURE_FILE);
  // Last: agent.json names the version, so it changes once everything it needs is in place.
  write(MANIFEST_FILE, stored.manifestFile);
  result.written.push(MANIFEST_FILE);
  return result;
}

/** Source names as the bundler records them: relative, `/`-separated, never climbing out. */
function isSafeNames(names: readonly string[]): boolean {
  return names.every((name) => name !== '' && !name.includes('\0') && !path.posix.isAbsolute(name) && !name.split('/').some((part) => part === '' || part === '.' || part === '..'));
}

/** The bytes of a file inside `dir` by its source name, or undefined when there is none (or the name is not safe). */
function readInside(dir: string, relative: string): Buffer | undefined {
  if (!isSafeNames([relative])) return undefined;
  try {
    return readFileSync(path.join(dir, ...relative.split('/')));
  } catch {
    return undefined;
  }
}
