/** @module store/template-versions — every trusted version that was signed or run: manifest, sources, bundle and signature, for rollback and canaries. */
import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import type { StoredTemplateVersion } from '../core/trust-records.js';

export type TemplateVersionInput = StoredTemplateVersion;

export interface TemplateVersion extends TemplateVersionInput {
  recordedAt: number;
}

interface VersionRow {
  name: string;
  version: string;
  digest: string;
  manifest: string;
  sources: string;
  bundle: string;
  signature: string | null;
  recorded_at: number;
  manifest_file: string | null;
  source_files: string | null;
}

export class TemplateVersions {
  readonly #insert: Database.Statement;
  readonly #byVersion: Database.Statement<[string, string], VersionRow>;
  readonly #byDigest: Database.Statement<[string, string], VersionRow>;
  readonly #list: Database.Statement<[string], Omit<VersionRow, 'bundle' | 'manifest' | 'sources'>>;
  readonly #clock: Clock;

  constructor(db: Database.Database, clock: Clock) {
    this.#clock = clock;
    // Keep the first record of a digest, but fill in its signature when it is signed later, with the bundle that
    // new signature covers (the signer built it; the one recorded first may come from an older bundler).
    this.#insert = db.prepare(`
      INSERT INTO template_versions (name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (name, digest) DO UPDATE SET signature = coalesce(excluded.signature, template_versions.signature),
        bundle = CASE WHEN excluded.signature IS NOT NULL AND excluded.signature IS NOT template_versions.signature THEN excluded.bundle ELSE template_versions.bundle END,
        manifest_file = coalesce(excluded.manifest_file, template_versions.manifest_file),
        source_files = coalesce(template_versions.source_files, excluded.source_files)`);
    // In dev, edits run under the version number they carry, so one number can have several digests: the signed one is
    // the version (outside dev nothing else runs, and a rollback to "1.0.0" means what was released as 1.0.0).
    this.#byVersion = db.prepare('SELECT * FROM template_versions WHERE name = ? AND version = ? ORDER BY signature IS NULL, recorded_at DESC LIMIT 1');
    this.#byDigest = db.prepare('SELECT * FROM template_versions WHERE name = ? AND digest = ?');
    this.#list = db.prepare('SELECT name, version, digest, signature, recorded_at FROM template_versions WHERE name = ? ORDER BY recorded_at');
  }

  /** Records a version; recording the same digest again is cheap and keeps the first record. */
  record(input: TemplateVersionInput): void {
    this.#insert.run(
      input.name, input.version, input.digest, JSON.stringify(input.manifest), JSON.stringify(input.sources), input.bundle,
      input.signature === undefined ? null : JSON.stringify(input.signature), this.#clock.now(), input.manifestFile ?? null,
      input.sourceFiles === undefined ? null : JSON.stringify(input.sourceFiles),
    );
  }

  /** The record of `name` at `version`: the newest signed one, else the newest. */
  get(name: string, version: string): TemplateVersion | undefined {
    const row = this.#byVersion.get(name, version);
    return row ? toVersion(row) : undefined;
  }

  byDigest(name: string, digest: string): TemplateVersion | undefined {
    const row = this.#byDigest.get(name, digest);
    return row ? toVersion(row) : undefined;
  }

  /** Versions of `name`, oldest first, without their bundles. */
  list(name: string): Array<{ version: string; digest: string; signed: boolean; recordedAt: number }> {
    return this.#list.all(name).map((row) => ({ version: row.version, digest: row.digest, signed: row.signature !== null, recordedAt: row.recorded_at }));
  }
}

function toVersion(row: VersionRow): TemplateVersion {
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
