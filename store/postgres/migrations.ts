/** @module store/postgres/migrations — the PostgreSQL schema as numbered forward steps (the same numbers as SQLite's), applied under an advisory lock. */
import { FactoryError } from '../../core/errors.js';
import type { Migration } from '../migrations.js';
import type { PgDatabase } from './connection.js';

/**
 * Schema versions mean the same tables in both dialects: SQLite's version N and PostgreSQL's version N hold the same
 * data. PostgreSQL support began at version 8, so its first step creates version 8's schema whole; steps after it are
 * written once per dialect with the same number.
 *
 * Dialect notes: times are epoch milliseconds in BIGINT; JSON stays TEXT so the bytes hashed (audit entries, version
 * seals) are the bytes stored; keys compare with `COLLATE "C"` (byte order of their UTF-8, as SQLite's BINARY);
 * `runs.seq` is what SQLite's rowid is, the order runs were written in. PostgreSQL-only: `kv.version`
 * (compare-and-set across processes), the audit log's `chain` (one hash chain per tenant and one for the system,
 * so tenants do not wait on one another's appends), `trust_generation`, and the run queue (`run_queue`,
 * `run_results`), which exists only where several processes share the store.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 8,
    description: 'the schema of version 8 (runs, kv, template versions, keys, audit, tenants, suggestions, rollouts, learner models, captures), and the run queue',
    sql: `
      CREATE TABLE runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT COLLATE "C" PRIMARY KEY,
        template TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        env TEXT NOT NULL,
        tenant TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        create_ms DOUBLE PRECISION NOT NULL,
        run_ms DOUBLE PRECISION NOT NULL,
        cpu_ms DOUBLE PRECISION NOT NULL,
        heap_used_at_end_bytes BIGINT NOT NULL,
        input_bytes BIGINT NOT NULL,
        output_bytes BIGINT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
        error_code TEXT,
        tools TEXT NOT NULL,
        denials TEXT NOT NULL,
        logs_dropped INTEGER NOT NULL,
        depth INTEGER NOT NULL,
        parent_id TEXT,
        input_shape TEXT,
        grants_used TEXT
      );
      -- seq last: listing and paging order by (started_at, seq), so ties in start time keep one order and a page
      -- ends exactly where the next begins, read from the index alone.
      CREATE INDEX runs_by_time ON runs (started_at, seq);
      CREATE INDEX runs_by_template ON runs (template, started_at, seq);
      CREATE INDEX runs_by_tenant ON runs (tenant, started_at, seq);
      CREATE INDEX runs_by_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;

      CREATE TABLE run_captures (
        run_id TEXT PRIMARY KEY,
        started_at BIGINT NOT NULL,
        input TEXT,
        input_truncated BOOLEAN NOT NULL,
        output TEXT,
        output_truncated BOOLEAN NOT NULL,
        error_message TEXT,
        logs TEXT NOT NULL,
        logs_truncated BOOLEAN NOT NULL,
        max_bytes INTEGER NOT NULL
      );
      CREATE INDEX run_captures_by_time ON run_captures (started_at);

      CREATE TABLE kv (
        template TEXT NOT NULL,
        tenant TEXT NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        version BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (template, tenant, key)
      );
      -- Where kv.version comes from: never reused, so a key deleted and written again cannot come back under a version
      -- a compare-and-set still holds (an A-B-A that per-key counters would allow).
      CREATE SEQUENCE kv_versions;
      CREATE TABLE kv_usage (
        template TEXT NOT NULL,
        tenant TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        PRIMARY KEY (template, tenant)
      );

      CREATE TABLE template_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        manifest TEXT NOT NULL,
        sources TEXT NOT NULL,
        bundle TEXT NOT NULL,
        signature TEXT,
        recorded_at BIGINT NOT NULL,
        manifest_file TEXT,
        source_files TEXT,
        seal TEXT,
        PRIMARY KEY (name, digest)
      );
      CREATE INDEX template_versions_by_version ON template_versions (name, version);

      CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('root', 'signer')),
        name TEXT NOT NULL,
        certificate_pem TEXT NOT NULL,
        not_before BIGINT NOT NULL,
        not_after BIGINT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE revocations (
        id TEXT PRIMARY KEY REFERENCES keys (id),
        revoked_at BIGINT NOT NULL,
        reason TEXT NOT NULL
      );
      CREATE TABLE retired_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        retired_at BIGINT NOT NULL,
        reason TEXT NOT NULL,
        retired_by TEXT NOT NULL,
        PRIMARY KEY (name, version)
      );
      -- Moves on every change of keys, revocations or retirements, in the same transaction: what other nodes poll
      -- (one row read) to know their cached trust data is stale.
      CREATE TABLE trust_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation BIGINT NOT NULL
      );
      INSERT INTO trust_generation (id, generation) VALUES (1, 0);
      -- Also for a change made with SQL (an operator's fix, or an attacker's edit, which the trust seal then shows):
      -- every node reloads within its refresh interval whoever changed the rows.
      CREATE FUNCTION af_trust_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE trust_generation SET generation = generation + 1 WHERE id = 1;
        RETURN NULL;
      END $$;
      CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON keys FOR EACH STATEMENT EXECUTE FUNCTION af_trust_changed();
      CREATE TRIGGER revocations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON revocations FOR EACH STATEMENT EXECUTE FUNCTION af_trust_changed();
      CREATE TRIGGER retired_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON retired_versions FOR EACH STATEMENT EXECUTE FUNCTION af_trust_changed();

      CREATE TABLE audit (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        chain TEXT COLLATE "C" NOT NULL,
        chain_seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (chain, chain_seq)
      );
      CREATE INDEX audit_by_type ON audit (type, at);
      CREATE TABLE audit_heads (
        chain TEXT COLLATE "C" PRIMARY KEY,
        chain_seq BIGINT NOT NULL,
        hash TEXT NOT NULL
      );

      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'maintainer', 'admin')),
        hash TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT,
        -- The order keys were created in, as SQLite's rowid: what lists keys created in the same millisecond.
        seq BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

      CREATE TABLE suggestions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        template TEXT NOT NULL,
        tenant TEXT NOT NULL,
        base_version TEXT NOT NULL,
        base_digest TEXT NOT NULL,
        patch TEXT NOT NULL,
        evidence TEXT NOT NULL,
        expected_impact TEXT NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'accepted', 'rejected', 'canary', 'promoted', 'rolled_back')),
        evidence_key TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        decided_at BIGINT,
        decided_by TEXT,
        reason TEXT,
        candidate_version TEXT
      );
      CREATE INDEX suggestions_by_template ON suggestions (template, kind, state);

      CREATE TABLE learner_models (
        template TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        trained_at BIGINT NOT NULL,
        samples INTEGER NOT NULL,
        PRIMARY KEY (template, target)
      );

      CREATE TABLE rollouts (
        template TEXT PRIMARY KEY,
        stable_version TEXT NOT NULL,
        candidate_version TEXT NOT NULL,
        weight DOUBLE PRECISION NOT NULL CHECK (weight >= 0 AND weight <= 1),
        state TEXT NOT NULL CHECK (state IN ('canary', 'promoted', 'rolled_back')),
        started_at BIGINT NOT NULL,
        decided_at BIGINT,
        decision TEXT,
        suggestion_id TEXT
      );

      -- The run queue (store/postgres/run-queue). A row lives from enqueue until a runner completes the run; its
      -- lease (owner, fence, expiry) says which attempt may complete it. Times are the database's clock, so runners
      -- whose clocks disagree still agree on when a lease expired.
      CREATE SEQUENCE run_queue_fence;
      CREATE TABLE run_queue (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        template TEXT NOT NULL,
        request TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running')),
        enqueued_at BIGINT NOT NULL,
        available_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        fence BIGINT,
        lease_expires_at BIGINT
      );
      CREATE INDEX run_queue_ready ON run_queue (available_at, enqueued_at) WHERE state = 'queued';
      CREATE INDEX run_queue_leases ON run_queue (lease_expires_at) WHERE state = 'running';
      CREATE INDEX run_queue_by_tenant ON run_queue (tenant, state);
      -- What a waiting caller reads when the run is done: kept until it is read or the reaper drops it (an hour).
      CREATE TABLE run_results (
        id TEXT PRIMARY KEY,
        result TEXT NOT NULL,
        finished_at BIGINT NOT NULL
      );
      CREATE INDEX run_results_by_time ON run_results (finished_at);
    `,
  },
  {
    version: 9,
    description: 'per-run memory (heap_growth_bytes), the limit that stopped a run (censored_by) and the limits it ran under',
    sql: `
      -- As SQLite's schema 9: NULL in rows written before; heap_growth_bytes NULL, never 0, for a run not measured.
      ALTER TABLE runs ADD COLUMN heap_growth_bytes BIGINT;
      ALTER TABLE runs ADD COLUMN censored_by TEXT;
      ALTER TABLE runs ADD COLUMN limits TEXT;
    `,
  },
];

/** The schema version this code reads and writes. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]?.version ?? 0;

/** Held (session-level) while migrations run, so two processes starting at once do not both migrate. */
const MIGRATION_LOCK = 0x61666d67; // 'afmg'

export interface MigrationReport {
  from: number;
  to: number;
  applied: Array<{ version: number; description: string }>;
}

/** The schema version of the database (0: none of ours yet). */
export async function schemaVersionOf(db: PgDatabase): Promise<number> {
  // Two statements: a statement naming a table that does not exist fails when it is planned, whatever its CASE says.
  const table = await db.row<{ found: string | null }>("SELECT to_regclass('af_schema_migrations')::text AS found");
  if (!table?.found) return 0;
  return (await db.row<{ version: number | null }>('SELECT max(version) AS version FROM af_schema_migrations'))?.version ?? 0;
}

/**
 * Brings the database to {@link POSTGRES_SCHEMA_VERSION}: each step in its own transaction, all of them under an
 * advisory lock so that concurrent starts wait for one another instead of racing.
 * @throws FactoryError `E_STORE` when the database has a newer schema than this code knows (left untouched).
 */
export async function migratePostgres(db: PgDatabase, migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<MigrationReport> {
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS af_schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const found = (await client.query<{ version: number | null }>('SELECT max(version) AS version FROM af_schema_migrations')).rows[0]?.version ?? 0;
      const latest = migrations[migrations.length - 1]?.version ?? 0;
      if (found > latest) throw newerSchema(db.label, found, latest);
      const applied: MigrationReport['applied'] = [];
      for (const migration of migrations) {
        if (migration.version <= found) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO af_schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.description, Date.now()]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw new FactoryError('E_STORE', `migrating the PostgreSQL store at ${db.label} to schema version ${migration.version} failed: ${(error as Error).message}; nothing of that step was applied`, { cause: error });
        }
        applied.push({ version: migration.version, description: migration.description });
      }
      return { from: found, to: Math.max(found, latest), applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  } catch (error) {
    throw db.storeError(error);
  } finally {
    client.release();
  }
}

/**
 * Refuses a database this code cannot use: a newer schema (left untouched), or an older one when migrating is off.
 * @throws FactoryError `E_STORE` saying what to do.
 */
export async function checkPostgresSchema(db: PgDatabase): Promise<void> {
  const found = await schemaVersionOf(db);
  if (found > POSTGRES_SCHEMA_VERSION) throw newerSchema(db.label, found, POSTGRES_SCHEMA_VERSION);
  if (found < POSTGRES_SCHEMA_VERSION) {
    throw new FactoryError('E_STORE', `the PostgreSQL store at ${db.label} has schema version ${found}, and this version of Agent Factory needs ${POSTGRES_SCHEMA_VERSION}; run \`af migrate --store URL\` (or open it with migrations on)`);
  }
}

function newerSchema(label: string, found: number, known: number): FactoryError {
  return new FactoryError('E_STORE', `the PostgreSQL store at ${label} has schema version ${found}, newer than this version of Agent Factory knows (${known}); upgrade Agent Factory on this machine to the version the other nodes run`, {
    details: { schemaVersion: found, knownVersion: known },
  });
}
