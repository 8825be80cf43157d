/** @module store/postgres/template-versions — every trusted version that was signed or run, in PostgreSQL: the SQLite module's rows, seals and errors, shared by every node. */
import type { Clock } from '../../core/clock.js';
import type { TemplateVersionStore } from '../contract.js';
import {
  merged, sameRow, type TemplateVersion, type TemplateVersionInput, type TemplateVersionSummary, toVersion, unsealedVersion, type VersionReadOptions, type VersionRow, versionRowFields,
} from '../template-versions.js';
import type { VersionRowFields, VersionSeal } from '../version-seal.js';
import type { PgDatabase, Statement } from './connection.js';

const COLUMNS = 'name, version, digest, manifest, sources, bundle, signature, recorded_at, manifest_file, source_files';

// Keep the first record of a digest, but fill in its signature when it is signed later, with the bundle that new
// signature covers (as store/template-versions does).
const INSERT: Statement = {
  name: 'af_versions_insert',
  text: `INSERT INTO template_versions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (name, digest) DO UPDATE SET signature = coalesce(excluded.signature, template_versions.signature),
      bundle = CASE WHEN excluded.signature IS NOT NULL AND excluded.signature IS DISTINCT FROM template_versions.signature THEN excluded.bundle ELSE template_versions.bundle END,
      manifest_file = coalesce(excluded.manifest_file, template_versions.manifest_file),
      source_files = coalesce(template_versions.source_files, excluded.source_files)`,
};
const PUT: Statement = {
  name: 'af_versions_put',
  text: `INSERT INTO template_versions (${COLUMNS}, seal) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (name, digest) DO UPDATE SET version = excluded.version, manifest = excluded.manifest, sources = excluded.sources, bundle = excluded.bundle,
      signature = excluded.signature, recorded_at = excluded.recorded_at, manifest_file = excluded.manifest_file, source_files = excluded.source_files, seal = excluded.seal`,
};
const PUT_UNSEALED: Statement = { name: 'af_versions_put_unsealed', text: `INSERT INTO template_versions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name, digest) DO NOTHING` };
const SET_SEAL: Statement = { name: 'af_versions_set_seal', text: 'UPDATE template_versions SET seal = $1 WHERE name = $2 AND digest = $3 AND seal IS NULL' };
const BY_VERSION: Statement = { name: 'af_versions_by_version', text: 'SELECT * FROM template_versions WHERE name = $1 AND version = $2 ORDER BY signature IS NULL, recorded_at DESC' };
const BY_DIGEST: Statement = { name: 'af_versions_by_digest', text: 'SELECT * FROM template_versions WHERE name = $1 AND digest = $2' };
const LIST: Statement = { name: 'af_versions_list', text: 'SELECT * FROM template_versions WHERE name = $1 ORDER BY recorded_at' };
const LEGACY_SIGNED = 'SELECT * FROM template_versions WHERE seal IS NULL AND signature IS NOT NULL';
/**
 * SQLite runs a sealed record in an immediate transaction, which makes every writer wait its turn. Here writers of one
 * (name, digest) take turns on a transaction-scoped advisory lock instead (it also covers the row not there yet, which
 * a row lock cannot): the second merges into what the first wrote, as on SQLite. The two-key form, under a class of
 * its own, keeps clear of the single-key advisory locks used elsewhere.
 */
const LOCK_CLASS = 0x61667476; // 'aftv'
const LOCK_ROW: Statement = { name: 'af_versions_lock', text: "SELECT pg_advisory_xact_lock($1, hashtext($2 || '@' || $3))" };

function valuesOf(fields: VersionRowFields): unknown[] {
  return [fields.name, fields.version, fields.digest, fields.manifest, fields.sources, fields.bundle, fields.signature, fields.recorded_at, fields.manifest_file, fields.source_files];
}

/**
 * The SQLite `TemplateVersions` over PostgreSQL, row for row: the same columns, the same seals (store/version-seal,
 * keyed in the keys folder), the same answers and errors. Every node reads the versions every node recorded.
 */
export class PgTemplateVersions implements TemplateVersionStore {
  readonly #db: PgDatabase;
  readonly #clock: Clock;
  readonly #seal: VersionSeal | undefined;

  /** @param seal what vouches for each row (store/version-seal, keyed in the keys folder); without it rows are taken as found (scratch stores). */
  constructor(db: PgDatabase, clock: Clock, seal?: VersionSeal) {
    this.#db = db;
    this.#clock = clock;
    this.#seal = seal;
  }

  get isSealed(): boolean {
    return this.#seal !== undefined;
  }

  /** As `TemplateVersions.record`: the first record of a digest is kept; with a seal, rows are written sealed. */
  async record(input: TemplateVersionInput): Promise<void> {
    const fields = versionRowFields(input, this.#clock.now());
    const seal = this.#seal;
    if (!seal) {
      await this.#db.query(INSERT, valuesOf(fields));
      return;
    }
    await this.#db.transaction(async () => {
      await this.#db.query(LOCK_ROW, [LOCK_CLASS, input.name, input.digest]);
      const existing = await this.#db.row<VersionRow>(BY_DIGEST, [input.name, input.digest]);
      const row = existing && seal.check(existing, existing.seal) === undefined ? merged(existing, fields) : fields;
      let sealed: string;
      try {
        sealed = seal.seal(row);
      } catch {
        await this.#db.query(PUT_UNSEALED, valuesOf(fields));
        return;
      }
      await this.#db.query(PUT, [...valuesOf(row), sealed]);
    });
  }

  /**
   * The record of `name` at `version`: the newest signed one, else the newest, among those its seal vouches for.
   * @throws FactoryError `E_TRUST_STATE` when the store holds that version only in rows it does not vouch for (unless `unsealed: 'skip'`).
   */
  async get(name: string, version: string, options: VersionReadOptions = {}): Promise<TemplateVersion | undefined> {
    const rows = await this.#db.rows<VersionRow>(BY_VERSION, [name, version]);
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
  async byDigest(name: string, digest: string, options: VersionReadOptions = {}): Promise<TemplateVersion | undefined> {
    const row = await this.#db.row<VersionRow>(BY_DIGEST, [name, digest]);
    if (!row) return undefined;
    const verdict = this.#seal?.check(row, row.seal);
    if (verdict === undefined) return toVersion(row);
    if (options.unsealed === 'skip') return undefined;
    throw unsealedVersion(row, verdict.reason, (this.#seal as VersionSeal).keyFile);
  }

  /** Versions of `name`, oldest first, without their bundles; rows the seal does not vouch for are marked `unsealed`. */
  async list(name: string): Promise<TemplateVersionSummary[]> {
    return (await this.#db.rows<VersionRow>(LIST, [name])).map((row) => ({
      version: row.version,
      digest: row.digest,
      signed: row.signature !== null,
      recordedAt: row.recorded_at,
      ...(this.#seal && this.#seal.check(row, row.seal) !== undefined ? { unsealed: true as const } : {}),
    }));
  }

  /** As `TemplateVersions.sealVouched`: seals the unsealed signed rows `voucher` stands for, as they are. @returns how many. */
  async sealVouched(voucher: () => (version: TemplateVersion) => boolean): Promise<number> {
    const seal = this.#seal;
    if (!seal) return 0;
    const rows = await this.#db.rows<VersionRow>(LEGACY_SIGNED);
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
        await this.#db.transaction(async () => {
          await this.#db.query(LOCK_ROW, [LOCK_CLASS, row.name, row.digest]);
          const now = await this.#db.row<VersionRow>(BY_DIGEST, [row.name, row.digest]);
          if (!now || now.seal !== null || !sameRow(now, row)) return;
          sealed += (await this.#db.query(SET_SEAL, [seal.seal(row), row.name, row.digest])).rowCount ?? 0;
        });
      } catch {
        // As on SQLite: this process cannot write the keys folder (or the database refused), so it stops here.
        return sealed;
      }
    }
    return sealed;
  }
}
