/** @module store/migrations — the schema, as numbered forward steps; the version reached is kept in `PRAGMA user_version`. */
import type Database from 'better-sqlite3';
import { FactoryError } from '../core/errors.js';

/** One forward step. Steps are never edited once released: a change is a new step. */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, kv, template versions, keys, audit log, tenants and API keys',
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        template TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        env TEXT NOT NULL,
        tenant TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        create_ms REAL NOT NULL,
        run_ms REAL NOT NULL,
        cpu_ms REAL NOT NULL,
        heap_peak_bytes INTEGER NOT NULL,
        input_bytes INTEGER NOT NULL,
        output_bytes INTEGER NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
        error_code TEXT,
        tools TEXT NOT NULL,
        denials TEXT NOT NULL,
        logs_dropped INTEGER NOT NULL,
        depth INTEGER NOT NULL,
        parent_id TEXT,
        input_shape TEXT
      ) STRICT;
      CREATE INDEX runs_by_time ON runs (started_at);
      CREATE INDEX runs_by_template ON runs (template, started_at);
      CREATE INDEX runs_by_tenant ON runs (tenant, started_at);

      CREATE TABLE kv (
        template TEXT NOT NULL,
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (template, tenant, key)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE kv_usage (
        template TEXT NOT NULL,
        tenant TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        PRIMARY KEY (template, tenant)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE template_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        digest TEXT NOT NULL,
        manifest TEXT NOT NULL,
        sources TEXT NOT NULL,
        bundle TEXT NOT NULL,
        signature TEXT,
        recorded_at INTEGER NOT NULL,
        PRIMARY KEY (name, digest)
      ) STRICT;
      CREATE INDEX template_versions_by_version ON template_versions (name, version);

      CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('root', 'signer')),
        name TEXT NOT NULL,
        certificate_pem TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE revocations (
        id TEXT PRIMARY KEY REFERENCES keys (id),
        revoked_at INTEGER NOT NULL,
        reason TEXT NOT NULL
      ) STRICT;

      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_by_type ON audit (type, at);
      -- The chain's head: deleting entries from the end of the chain is caught by comparing with it.
      CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;

      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'maintainer', 'admin')),
        hash TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);
    `,
  },
  {
    version: 2,
    description: 'suggestions, learner models, rollouts, and the raw agent.json of each version',
    sql: `
      ALTER TABLE template_versions ADD COLUMN manifest_file TEXT;

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
        confidence REAL NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'accepted', 'rejected', 'canary', 'promoted', 'rolled_back')),
        evidence_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        decided_at INTEGER,
        decided_by TEXT,
        reason TEXT,
        candidate_version TEXT
      ) STRICT;
      CREATE INDEX suggestions_by_template ON suggestions (template, kind, state);

      CREATE TABLE learner_models (
        template TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        trained_at INTEGER NOT NULL,
        samples INTEGER NOT NULL,
        PRIMARY KEY (template, target)
      ) STRICT;

      CREATE TABLE rollouts (
        template TEXT PRIMARY KEY,
        stable_version TEXT NOT NULL,
        candidate_version TEXT NOT NULL,
        weight REAL NOT NULL CHECK (weight >= 0 AND weight <= 1),
        state TEXT NOT NULL CHECK (state IN ('canary', 'promoted', 'rolled_back')),
        started_at INTEGER NOT NULL,
        decided_at INTEGER,
        decision TEXT,
        suggestion_id TEXT
      ) STRICT;
    `,
  },
  {
    version: 3,
    description: 'the grants each run used, for least privilege by single entry',
    sql: `
      ALTER TABLE runs ADD COLUMN grants_used TEXT;
    `,
  },
  {
    version: 4,
    description: 'retired template versions, refused outside dev',
    sql: `
      -- By name and version, not digest: the version is inside the signed manifest, so a retirement covers every
      -- content ever signed under it, including copies this store never recorded.
      CREATE TABLE retired_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        retired_at INTEGER NOT NULL,
        reason TEXT NOT NULL,
        retired_by TEXT NOT NULL,
        PRIMARY KEY (name, version)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    description: 'what failed runs of opted-in templates were given and gave back (input, output or error, logs), for af runs show and replay',
    sql: `
      -- Only templates that opt in (manifest "debug.captureFailures") and only failed runs: inputs may hold secrets.
      -- Kept apart from runs so the run table's rows stay small and a capture can be pruned sooner than its run.
      CREATE TABLE run_captures (
        run_id TEXT PRIMARY KEY,
        started_at INTEGER NOT NULL,
        input TEXT,
        input_truncated INTEGER NOT NULL,
        output TEXT,
        output_truncated INTEGER NOT NULL,
        error_message TEXT,
        logs TEXT NOT NULL,
        logs_truncated INTEGER NOT NULL,
        max_bytes INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX run_captures_by_time ON run_captures (started_at);
      -- Children of a spawn tree, for af runs show.
      CREATE INDEX runs_by_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
    `,
  },
  {
    version: 6,
    description: 'the source files of each recorded version, so a rollback restores a whole version',
    sql: `
      -- JSON: relative path -> base64 of the bytes, each checked against the source hash the digest covers.
      ALTER TABLE template_versions ADD COLUMN source_files TEXT;
    `,
  },
  {
    version: 7,
    description: 'a seal on each template version row (HMAC under a key in the keys folder), so rows forged in the database are refused',
    sql: `
      -- Hex HMAC-SHA256 over every other column (store/version-seal). NULL on rows recorded before: they are sealed when a
      -- trusted signature vouches for them or when they are recorded again from the project's files, refused until then.
      ALTER TABLE template_versions ADD COLUMN seal TEXT;
    `,
  },
  {
    version: 8,
    description: 'heap_peak_bytes becomes heap_used_at_end_bytes: it always held the used heap when the run ended, never a peak',
    sql: `
      -- RENAME COLUMN keeps every value and rewrites the indexes and views that name it (SQLite 3.25+).
      ALTER TABLE runs RENAME COLUMN heap_peak_bytes TO heap_used_at_end_bytes;
    `,
  },
  {
    version: 9,
    description: 'per-run memory (heap_growth_bytes), the limit that stopped a run (censored_by) and the limits it ran under',
    sql: `
      -- All NULL in rows written before: such a run says nothing of them. heap_growth_bytes is NULL, never 0, for a run
      -- that was not measured (stopped by a limit, crashed, refused).
      ALTER TABLE runs ADD COLUMN heap_growth_bytes INTEGER;
      ALTER TABLE runs ADD COLUMN censored_by TEXT;
      -- JSON: { cpuMs, timeoutMs, memoryMb, measure? } (core/agent-spec EffectiveLimits).
      ALTER TABLE runs ADD COLUMN limits TEXT;
    `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Applies every step above the database's version, each in its own immediate transaction, so two
 * processes opening a new database at once do not both migrate it.
 * @throws FactoryError `E_STORE` when the database is newer than this code (written by a newer release): nothing is
 * changed, because this code cannot know what the newer steps mean.
 */
export function migrate(db: Database.Database): number {
  const current = () => db.pragma('user_version', { simple: true }) as number;
  const found = current();
  if (found > SCHEMA_VERSION) {
    throw new FactoryError(
      'E_STORE',
      `the store at ${db.name} has schema version ${found}, newer than this Agent Factory (schema ${SCHEMA_VERSION}): a newer release wrote it, and this one cannot read it safely; upgrade agent-factory (\`npm install agent-factory@latest\`), or point af at another store (--root, AF_ROOT or AF_HOME)`,
      { details: { schemaVersion: found, supported: SCHEMA_VERSION, path: db.name } },
    );
  }
  for (const step of MIGRATIONS) {
    db.transaction(() => {
      if (current() >= step.version) return;
      db.exec(step.sql);
      db.pragma(`user_version = ${step.version}`);
    }).immediate();
  }
  return current();
}
