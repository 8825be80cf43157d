/** @module store/template-versions — every trusted version that was signed or run: manifest, sources, bundle and signature, for rollback and canaries. */
import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import { FactoryError } from '../core/errors.js';
import type { StoredTemplateVersion } from '../core/trust-records.js';
import type { VersionRowFields, VersionSeal } from './version-seal.js';

export type TemplateVersionInput = StoredTemplateVersion;

export interface TemplateVersion extends TemplateVersionInput {
  recordedAt: number;
}

/** What {@link TemplateVersions.list} says of each version. */
export interface TemplateVersionSummary {
  version: string;
  digest: string;
  signed: boolean;
  recordedAt: number;
  /** Present (true) when the store is sealed and this row is not vouched for: it is never restored, routed to or run. */
  unsealed?: true;
}

/** What a reader does with a row its seal does not vouch for: refuse (throw) or treat it as absent. */
export interface VersionReadOptions {
  /** @default 'refuse' */
  unsealed?: 'refuse' | 'skip';
}

export interface VersionRow extends VersionRowFields {
  seal: string | null;
}

/** A version as the columns of its row (JSON as text): what both backends store and seal. */
export function versionRowFields(input: TemplateVersionInput, recordedAt: number): VersionRowFields {
  return {
    name: input.name,
    version: input.version,
    digest: input.digest,
    manifest: JSON.stringify(input.manifest),
    sources: JSON.stringify(input.sources),
    bundle: input.bundle,
    signature: input.signature === undefined ? null : JSON.stringify(input.signature),
    recorded_at: recordedAt,
    manifest_file: input.manifestFile ?? null,
    source_files: input.sourceFiles === undefined ? null : JSON.stringify(input.sourceFiles),
  };
}

export class TemplateVersions {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #put: Database.Statement;
  readonly #putUnsealed: Database.Statement;
  readonly #setSeal: Database.Statement;
  readonly #byVersion: Database.Statement<[string, string], VersionRow>;
  readonly #byDigest: Database.Statement<[string, string], VersionRow>;
  readonly #list: Database.Statement<[string], VersionRow>;
  readonly #legacySigned: Database.Statement<[], VersionRow>;
  readonly #clock: Clock;
  readonly #seal: VersionSeal | undefined;

  /** @param seal what vouches for each row (store/version-seal, keyed in the keys folder); without it rows are taken as found (scratch stores). */
  constructor(db: Database.Database, clock: Clock, seal?: VersionSeal) {
    this.#db = db;
    this.#clock = clock;
    this.#seal = seal;
    // Keep the first record of a digest, but fill in its signature when it is signed later, with the bundle that
    // new signature covers (the signer built it; the one recorded first may come from an older bundler).
    this.#insert = db.prepare(`
      INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (name, digest) DO UPDATE SET signature = coalesce(excluded.signature, template_versions.signature),
        bundle = CASE WHEN excluded.signature IS NOT NULL AND excluded.signature IS NOT template_versions.signature THEN excluded.bundle ELSE template_versions.bundle END,
        manifest_file = coalesce(excluded.manifest_file, template_versions.manifest_file),
        source_files = coalesce(template_versions.source_files, excluded.source_files)`);
    // With a seal the merge above is done here, on a row whose seal was checked, and the whole row is written with its new seal.
    this.#put = db.prepare(`
      INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files, seal)
      VALUES (@name, @version, @digest, @manifest, @sources, @bundle, @signature, @recorded_at, @manifest_file, @source_files, @seal)
      ON CONFLICT (name, digest) DO UPDATE SET version = excluded.version, manifest = excluded.manifest, sources = excluded.sources, bundle = excluded.bundle,
        signature = excluded.signature, recorded_at = excluded.recorded_at, manifest_file = excluded.manifest_file, source_files = excluded.source_files, seal = excluded.seal`);
    this.#putUnsealed = db.prepare(`
      INSERT OR IGNORE INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files)
      VALUES (@name, @version, @digest, @manifest, @sources, @bundle, @signature, @recorded_at, @manifest_file, @source_files)`);
    this.#setSeal = db.prepare('UPDATE template_versions SET seal = ? WHERE name = ? AND digest = ? AND seal IS NULL');
    // In dev, edits run under the version number they carry, so one number can have several digests: the signed one is
    // the version (outside dev nothing else runs, and a rollback to "1.0.0" means what was released as 1.0.0).
    this.#byVersion = db.prepare('SELECT * FROM template_versions WHERE name = ? AND version = ? ORDER BY signature IS NULL, recorded_at DESC');
    this.#byDigest = db.prepare('SELECT * FROM template_versions WHERE name = ? AND digest = ?');
    this.#list = db.prepare('SELECT * FROM template_versions WHERE name = ? ORDER BY recorded_at');
    this.#legacySigned = db.prepare('SELECT * FROM template_versions WHERE seal IS NULL AND signature IS NOT NULL');
  }

  /** True when rows are sealed and checked (the store was opened with the project's keys folder). */
  get isSealed(): boolean {
    return this.#seal !== undefined;
  }

  /**
   * Records a version; recording the same digest again is cheap and keeps the first record. With a seal, the row is
   * written sealed; a row already there that its seal does not vouch for is replaced by what is recorded now (the
   * caller read it from the project's folder), never merged into. A process that cannot use the key only adds rows
   * (unsealed, so refused until recorded again by one that can), never changes one.
   */
  record(input: TemplateVersionInput): void {
    const fields = versionRowFields(input, this.#clock.now());
    const seal = this.#seal;
    if (!seal) {
      this.#insert.run(fields.name, fields.version, fields.digest, fields.manifest, fields.sources, fields.bundle, fields.signature, fields.recorded_at, fields.manifest_file, fields.source_files);
      return;
    }
    this.#db.transaction(() => {
      const existing = this.#byDigest.get(input.name, input.digest);
      const row = existing && seal.check(existing, existing.seal) === undefined ? merged(existing, fields) : fields;
      let sealed: string;
      try {
        sealed = seal.seal(row);
      } catch {
        this.#putUnsealed.run(fields);
        return;
      }
      this.#put.run({ ...row, seal: sealed });
    }).immediate();
  }

  /**
   * The record of `name` at `version`: the newest signed one, else the newest, among those its seal vouches for.
   * @throws FactoryError `E_TRUST_STATE` when the store holds that version only in rows it does not vouch for (unless `unsealed: 'skip'`).
   */
  get(name: string, version: string, options: VersionReadOptions = {}): TemplateVersion | undefined {
    const rows = this.#byVersion.all(name, version);
    if (rows.length === 0) return undefined;
    if (!this.#seal) return toVersion(rows[0] as VersionRow);
    let refused: { row: VersionRow; reason: string } | undefined;
    for (const row of rows) {
      const verdict = this.#seal.check(row, row.seal);
      if (verdict === undefined) return toVersion(row);
      refused ??= { row, reason: verdict.reason };
    }
    if (options.unsealed === 'skip' || !refused) return undefined;
    throw unsealedVersion(refused.row, refused.reason, this.#seal.keyFile);
  }

  /**
   * The record of `name` with `digest`.
   * @throws FactoryError `E_TRUST_STATE` when its seal does not vouch for it (unless `unsealed: 'skip'`).
   */
  byDigest(name: string, digest: string, options: VersionReadOptions = {}): TemplateVersion | undefined {
    const row = this.#byDigest.get(name, digest);
    if (!row) return undefined;
    const verdict = this.#seal?.check(row, row.seal);
    if (verdict === undefined) return toVersion(row);
    if (options.unsealed === 'skip') return undefined;
    throw unsealedVersion(row, verdict.reason, (this.#seal as VersionSeal).keyFile);
  }

  /** Versions of `name`, oldest first, without their bundles; rows the seal does not vouch for are marked `unsealed`. */
  list(name: string): TemplateVersionSummary[] {
    return this.#list.all(name).map((row) => ({
      version: row.version,
      digest: row.digest,
      signed: row.signature !== null,
      recordedAt: row.recorded_at,
      ...(this.#seal && this.#seal.check(row, row.seal) !== undefined ? { unsealed: true as const } : {}),
    }));
  }

  /**
   * Seals the rows recorded before rows were sealed that `vouch` stands for (a signature by a trusted key over exactly
   * that content), as they are; the others stay unsealed, and so refused. Cheap when there is nothing to do: one
   * query for unsealed signed rows (`voucher` is only called when there are some). A process that cannot write the
   * keys folder seals nothing.
   * @returns how many rows were sealed.
   */
  sealVouched(voucher: () => (version: TemplateVersion) => boolean): number {
    const seal = this.#seal;
    if (!seal) return 0;
    const rows = this.#legacySigned.all();
    if (rows.length === 0) return 0;
    const vouch = voucher();
    let sealed = 0;
    for (const row of rows) {
      let version: TemplateVersion;
      try {
        version = toVersion(row);
      } catch {
        continue;
      }
      if (!vouch(version)) continue;
      try {
        // Only the row as it was read and vouched for: a change since leaves it unsealed.
        this.#db.transaction(() => {
          const now = this.#byDigest.get(row.name, row.digest);
          if (!now || now.seal !== null || !sameRow(now, row)) return;
          sealed += this.#setSeal.run(seal.seal(row), row.name, row.digest).changes;
        }).immediate();
      } catch {
        return sealed;
      }
    }
    return sealed;
  }
}

/** The merge the unsealed upsert does in SQL, on a row whose seal was checked: first record kept, signature filled in later. */
export function merged(existing: VersionRowFields, input: VersionRowFields): VersionRowFields {
  const isNewSignature = input.signature !== null && input.signature !== existing.signature;
  return {
    ...existing,
    signature: input.signature ?? existing.signature,
    bundle: isNewSignature ? input.bundle : existing.bundle,
    manifest_file: input.manifest_file ?? existing.manifest_file,
    source_files: existing.source_files ?? input.source_files,
  };
}

export function sameRow(a: VersionRowFields, b: VersionRowFields): boolean {
  return (['name', 'version', 'digest', 'manifest', 'sources', 'bundle', 'signature', 'recorded_at', 'manifest_file', 'source_files'] as const).every((field) => a[field] === b[field]);
}

export function unsealedVersion(row: VersionRowFields, reason: string, keyFile: string): FactoryError {
  return new FactoryError(
    'E_TRUST_STATE',
    `version ${row.version} of "${row.name}" in the store (digest ${row.digest.slice(0, 12)}) is not vouched for by ${keyFile}: ${reason}. ` +
      'Nothing is restored, routed to or run from it: it was written without the keys folder, or recorded before version rows were sealed and is neither signed by a trusted key nor on disk. ' +
      `If that version is yours, put its files back in the template folder (from version control) and run \`af sign ${row.name}\` (or run it once) to record it again, sealed; ` +
      'a version nobody here recorded means someone who can write the database forged it',
    { details: { template: row.name, version: row.version, digest: row.digest, reason } },
  );
}

export function toVersion(row: VersionRowFields): TemplateVersion {
  return {
    name: row.name,
    version: row.version,
    digest: row.digest,
    manifest: JSON.parse(row.manifest),
    sources: JSON.parse(row.sources) as Record<string, string>,
    bundle: row.bundle,
    ...(row.signature !== null ? { signature: JSON.parse(row.signature) } : {}),
    ...(row.manifest_file !== null ? { manifestFile: row.manifest_file } : {}),
    ...(row.source_files !== null ? { sourceFiles: JSON.parse(row.source_files) as Record<string, string> } : {}),
    recordedAt: row.recorded_at,
  };
}
